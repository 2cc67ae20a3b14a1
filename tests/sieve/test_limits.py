"""Every limit of :mod:`pyimapd.sieve.limits` hit; a runtime limit means the implicit
keep plus the error (RFC 5228 section 2.10.6). And RE2's linear time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pyimapd.sieve import Keep, Result, SieveError, StaticEnvironment, compile_script, limits

Runner = Callable[..., Result]
IMPLICIT = Keep(None, implicit=True)


def assert_limit(result: Result, text: str) -> None:
    assert result.actions == [IMPLICIT]
    assert result.errors and text in result.errors[0], result.errors


def test_actions_limit(run: Runner) -> None:
    script = 'require "fileinto";' + "".join(
        f'fileinto "box{i}";' for i in range(limits.MAX_ACTIONS + 1))
    assert_limit(run(script), f"more than {limits.MAX_ACTIONS} actions")
    ok = 'require "fileinto";' + "".join(
        f'fileinto "box{i}";' for i in range(limits.MAX_ACTIONS))
    assert not run(ok).errors


def test_redirect_limit(run: Runner) -> None:
    script = "".join(f'redirect "u{i}@example.com";' for i in range(limits.MAX_REDIRECTS + 1))
    assert_limit(run(script), f"more than {limits.MAX_REDIRECTS} redirects")
    # The same address twice is one redirect (merged), not two.
    same = "".join('redirect "u@example.com";' for _ in range(limits.MAX_REDIRECTS + 1))
    assert not run(same).errors


def test_variable_count_limit(run: Runner) -> None:
    script = 'require "variables";' + "".join(
        f'set "v{i}" "x";' for i in range(limits.MAX_VARIABLES + 1))
    assert_limit(run(script), f"more than {limits.MAX_VARIABLES} variables")


def test_variable_length_limit(run: Runner) -> None:
    block = "x" * 1000
    script = (f'require "variables"; set "a" "{block}";'
              'set "b" "${a}${a}${a}${a}${a}";')
    assert_limit(run(script), f"longer than {limits.MAX_VARIABLE_LENGTH} characters")


def test_include_depth_limit(run: Runner) -> None:
    env = StaticEnvironment()
    for i in range(limits.MAX_INCLUDE_DEPTH + 2):
        env.scripts[("personal", f"s{i}")] = f'require "include"; include "s{i + 1}";'
    env.scripts[("personal", f"s{limits.MAX_INCLUDE_DEPTH + 2}")] = "keep;"
    assert_limit(run('require "include"; include "s0";', env=env),
                 f"nested deeper than {limits.MAX_INCLUDE_DEPTH}")


def test_step_budget(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # Many includes of one script multiply the work: the step budget stops it.
    env = StaticEnvironment()
    body = "if true { if true {} }" * 50
    env.scripts[("personal", "work")] = body
    script = 'require "include";' + 'include "work";' * 1000
    assert_limit(run(script, env=env), f"more than {limits.MAX_STEPS} steps")


def test_regex_length_limit() -> None:
    long = "a" * (limits.MAX_REGEX_LENGTH + 1)
    with pytest.raises(SieveError, match="longer than"):
        compile_script(f'require "regex"; if header :regex "subject" "{long}" {{}}')


def test_regex_evaluation_limit(run: Runner) -> None:
    keys = ", ".join(f'"x{i}"' for i in range(limits.MAX_REGEX_EVALUATIONS + 1))
    script = f'require "regex"; if header :regex "subject" [{keys}] {{ discard; }}'
    assert_limit(run(script), f"more than {limits.MAX_REGEX_EVALUATIONS} regex evaluations")


def test_catastrophic_regex_is_linear(run: Runner) -> None:
    subject = b"Subject: " + b"a" * 50_000 + b"!\r\n\r\nx\r\n"
    start = time.monotonic()
    result = run('require "regex"; if header :regex "subject" ["(a+)+$", "(a|aa)+b",'
                 '"^(a*)*c"] { discard; }', subject)
    assert time.monotonic() - start < 2.0
    assert result.actions == [IMPLICIT] and not result.errors


def test_catastrophic_wildcard_is_linear(run: Runner) -> None:
    subject = b"Subject: " + b"a" * 50_000 + b"\r\n\r\nx\r\n"
    start = time.monotonic()
    result = run('if header :matches "subject" "*a*a*a*a*a*a*a*a*a*a*a*a*b" { discard; }',
                 subject)
    assert time.monotonic() - start < 2.0
    assert result.actions == [IMPLICIT]


def test_script_size_and_nesting_are_compile_errors() -> None:
    with pytest.raises(SieveError):
        compile_script("#" * (limits.MAX_SCRIPT_SIZE + 1))
    with pytest.raises(SieveError):
        compile_script("if true {" * (limits.MAX_NESTING + 1) + "}" * (limits.MAX_NESTING + 1))


def test_included_script_size_is_a_runtime_error(run: Runner) -> None:
    env = StaticEnvironment()
    env.scripts[("personal", "big")] = "#" * (limits.MAX_SCRIPT_SIZE + 1)
    assert_limit(run('require "include"; include "big";', env=env), "longer than")


def test_vacation_period_bounds(run: Runner) -> None:
    base = ('require ["vacation", "vacation-seconds"];'
            'vacation {} "away";')
    raw = b"From: a@example.net\r\nTo: bob@example.org\r\n\r\nhi\r\n"
    seconds = [run(base.format(arg), raw).actions[0].seconds  # type: ignore[union-attr]
               for arg in (":seconds 0", ":days 0", ":days 10000", "")]
    assert seconds == [limits.MIN_VACATION_SECONDS, 86400, limits.MAX_VACATION_SECONDS,
                       limits.DEFAULT_VACATION_DAYS * 86400]
