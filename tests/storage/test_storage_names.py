"""Mailbox name rules and LIST matching (RFC 3501 sections 5.1 and 6.3.8)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyimapd.storage import names
from pyimapd.storage.interface import NotAllowed


@pytest.mark.parametrize(
    ("given", "expected"),
    [("inbox", "INBOX"), ("InBoX/a", "INBOX/a"), ("a/inbox", "a/inbox"), ("INBOXES", "INBOXES")],
)
def test_normalize(given: str, expected: str) -> None:
    assert names.normalize(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "/", "/a", "a/", "a//b", ".", "a/..", "a\x01", "a\x7f", "a*b", "a%",
     "x" * 1001, "/".join(["a"] * 51), "y" * 256],
)
def test_validate_refuses(bad: str) -> None:
    with pytest.raises(NotAllowed) as info:
        names.validate(bad)
    assert info.value.code == "CANNOT" and info.value.text


def test_validate_accepts_unicode() -> None:
    assert names.validate("inbox/Entwürfe/日本") == "INBOX/Entwürfe/日本"


def test_parents_and_inferiors() -> None:
    assert names.parents("a/b/c") == ["a", "a/b"]
    assert names.parents("a") == []
    assert names.inferiors("a", ["a", "a/b", "ab", "a/b/c", "b"]) == ["a/b", "a/b/c"]
    assert names.rename_target("a/b/c", "a/b", "x") == "x/c"


@pytest.mark.parametrize(
    ("reference", "pattern", "name", "expected"),
    [
        ("", "*", "a/b/c", True),
        ("", "%", "a", True),
        ("", "%", "a/b", False),
        ("", "a/%", "a/b", True),
        ("", "a/%", "a/b/c", False),
        ("", "a/*", "a/b/c", True),
        ("", "a*", "ab/c", True),
        ("a/", "%", "a/b", True),
        ("a/", "%", "b", False),
        ("a/", "/b", "a/b", True),
        ("", "inbox", "INBOX", True),
        ("", "Inbox/%", "INBOX/x", True),
        ("", "Work", "work", False),
        ("", "a.b", "axb", False),
        ("", "a+", "aa", False),
        ("", "", "", True),
    ],
)
def test_list_matcher(reference: str, pattern: str, name: str, expected: bool) -> None:
    assert names.list_matcher(reference, pattern)(name) is expected


def _reference_regex(pattern: str) -> re.Pattern[str]:
    """The obvious regex translation: right on every input, but exponential on some."""
    body = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch)
                   for ch in pattern)
    return re.compile(body, re.DOTALL)


@settings(max_examples=400, deadline=None)
@given(st.text("ab/*%", max_size=10), st.text("ab/", max_size=12))
def test_list_matcher_agrees_with_the_regex(pattern: str, name: str) -> None:
    expected = _reference_regex(pattern).fullmatch(name) is not None
    assert names.pattern_matcher(pattern)(name) is expected


@pytest.mark.parametrize(
    "pattern",
    ["*a" * 1000 + "X", "%a" * 1000 + "X", "*a%" * 1000 + "aX", "*" + "a*" * 1000,
     "%" * 5000 + "a", "*a%b" * 700],
)
def test_list_matcher_is_linear_on_wildcard_floods(pattern: str) -> None:
    """Issue: ``*a*a...*aX`` made the regex engine backtrack for seconds to forever."""
    candidates = [f"Work/{'a' * (i % 60 + 1)}" for i in range(1000)]
    candidates += ["a" * 255, "ab" * 120, "a/" * 400 + "a"]
    started = time.perf_counter()
    matcher = names.list_matcher("", pattern)
    found = [n for n in candidates if matcher(n)]
    elapsed = time.perf_counter() - started
    assert elapsed < 0.25, f"{elapsed:.3f} s for {pattern[:12]!r}..."
    # Which names match is cheap to know here: only the all-"a" names can, and a name
    # needs at least as many characters as the pattern has literals.
    literals = sum(1 for ch in pattern if ch not in "*%")
    assert all(len(n) >= literals for n in found)
