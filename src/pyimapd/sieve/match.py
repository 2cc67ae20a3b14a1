"""Comparators (RFC 4790 section 9, RFC 5228 section 2.7.3) and match types
(RFC 5228 section 2.7.1, RFC 5231 relational, draft-ietf-sieve-regex).

``:matches`` and ``:regex`` both run on RE2 (google-re2), which matches in time
linear in the text: no pattern a user writes can make delivery hang on
backtracking. ``:matches`` wildcards become a non-greedy RE2 pattern, which gives
RFC 5229 section 3.2's match variables (the leftmost ``*`` takes as little as it can).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import re2  # type: ignore[import-untyped]

from pyimapd.sieve.errors import SieveRuntimeError
from pyimapd.sieve.limits import MAX_REGEX_EVALUATIONS, MAX_REGEX_LENGTH, MAX_REGEX_MEMORY

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_REGEX_SPECIAL = set("\\^$.[]|()?*+{}")


class RegexError(ValueError):
    """A ``:regex`` key that RE2 cannot compile or that is too long."""


def ascii_fold(text: str) -> str:
    """i;ascii-casemap folds only A-Z (RFC 4790 section 9.2): lengths stay equal, so
    match positions found in the folded text index the original."""
    return text.translate(_ASCII_LOWER)


def _numeric_key(text: str) -> float:
    """RFC 4790 section 9.1: the value of the leading digits; a string that does not
    start with a digit is positive infinity (all such strings are equal)."""
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return float("inf") if end == 0 else int(text[:end])


def compare(comparator: str, a: str, b: str) -> int:
    """Ordering of ``a`` and ``b`` under ``comparator``: -1, 0 or 1."""
    if comparator == "i;ascii-numeric":
        p, q = _numeric_key(a), _numeric_key(b)
        return (p > q) - (p < q)
    if comparator == "i;ascii-casemap":
        a, b = ascii_fold(a), ascii_fold(b)
    # i;octet orders by octet; code point order is UTF-8 octet order.
    return (a > b) - (a < b)


_RELATIONS: dict[str, Callable[[int], bool]] = {
    "gt": lambda c: c > 0, "ge": lambda c: c >= 0, "lt": lambda c: c < 0,
    "le": lambda c: c <= 0, "eq": lambda c: c == 0, "ne": lambda c: c != 0,
}


def wildcard_pattern(pattern: str) -> str:
    """RE2 source for a ``:matches`` key (RFC 5228 section 2.7.1): ``*`` and ``?``
    become capturing groups, ``\\`` quotes the next character."""
    out = ["(?s)"]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re2.escape(pattern[i]))
        elif c == "*":
            out.append("(.*?)")
        elif c == "?":
            out.append("(.)")
        else:
            out.append(re2.escape(c))
        i += 1
    return "".join(out)


def quote_wildcard(text: str) -> str:
    """RFC 5229 section 4.1 ``:quotewildcard``."""
    return "".join("\\" + c if c in "*?\\" else c for c in text)


def quote_regex(text: str) -> str:
    """draft-ietf-sieve-regex section 5 ``:quoteregex``."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def compile_regex(pattern: str, casefold: bool) -> re2._Regexp:
    """Compile a ``:regex`` key; raises :class:`RegexError`."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise RegexError(f"regular expression longer than {MAX_REGEX_LENGTH} characters")
    options = re2.Options()
    options.case_sensitive = not casefold
    options.max_mem = MAX_REGEX_MEMORY
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) \
            else str(exc)
        raise RegexError(f"invalid regular expression {pattern!r}: {detail}") from None


@dataclass
class Matcher:
    """One run's matching state: the regex budget and compiled patterns, shared by
    every test of the run."""

    regex_evaluations: int = 0

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, bool], re2._Regexp] = {}

    def _regex(self, pattern: str, casefold: bool) -> re2._Regexp:
        key = (pattern, casefold)
        compiled = self._cache.get(key)
        if compiled is None:
            try:
                compiled = compile_regex(pattern, casefold)
            except RegexError as exc:
                raise SieveRuntimeError(str(exc)) from None
            self._cache[key] = compiled
        return compiled

    def match(self, match_type: str, relation: str | None, comparator: str,
              values: Sequence[str], keys: Iterable[str]
              ) -> tuple[bool, list[str] | None]:
        """Whether any value matches any key (RFC 5228 section 2.7.1). The second item
        is the match variables (``${0}``, ``${1}``...) of the first success, for
        ``:matches`` and ``:regex`` only (RFC 5229 section 3.2)."""
        keys = list(keys)
        if match_type == "count":
            assert relation is not None
            count = str(len(values))
            test = _RELATIONS[relation]
            return any(test(compare(comparator, count, k)) for k in keys), None
        if match_type == "value":
            assert relation is not None
            test = _RELATIONS[relation]
            return any(test(compare(comparator, v, k)) for v in values for k in keys), None
        if match_type == "is":
            return any(compare(comparator, v, k) == 0 for v in values for k in keys), None
        fold = ascii_fold if comparator == "i;ascii-casemap" else None
        if match_type == "contains":
            for v in values:
                fv = fold(v) if fold else v
                for k in keys:
                    if (fold(k) if fold else k) in fv:
                        return True, None
            return False, None
        if match_type == "matches":
            for k in keys:
                compiled = self._regex(wildcard_pattern(fold(k) if fold else k), False)
                for v in values:
                    m = compiled.fullmatch(fold(v) if fold else v)
                    if m:
                        groups = [v[m.start(g):m.end(g)] for g in range(m.re.groups + 1)]
                        return True, groups
            return False, None
        if match_type == "regex":
            for k in keys:
                compiled = self._regex(k, fold is not None)
                for v in values:
                    self.regex_evaluations += 1
                    if self.regex_evaluations > MAX_REGEX_EVALUATIONS:
                        raise SieveRuntimeError(
                            f"more than {MAX_REGEX_EVALUATIONS} regex evaluations in one run")
                    m = compiled.search(v)
                    if m:
                        groups = [m.group(g) or "" for g in range(min(m.re.groups, 9) + 1)]
                        return True, groups
            return False, None
        raise AssertionError(match_type)
