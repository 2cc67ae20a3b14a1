"""Comparators and match types (RFC 5228 2.7, RFC 4790 section 9, RFC 5231)."""

from __future__ import annotations

import pytest

from pyimapd.sieve.match import (
    Matcher,
    ascii_fold,
    compare,
    quote_regex,
    quote_wildcard,
    wildcard_pattern,
)


def matches(value: str, pattern: str, comparator: str = "i;ascii-casemap") -> bool:
    return Matcher().match("matches", None, comparator, [value], [pattern])[0]


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("", "", True), ("", "*", True), ("", "?", False), ("a", "?", True),
    ("abc", "a*", True), ("abc", "*c", True), ("abc", "a?c", True), ("abc", "a??c", False),
    ("abc", "*b*", True), ("abc", "*d*", False), ("ABC", "a*", True),
    ("a*c", "a\\*c", True),     # \* is a literal star
    ("abc", "a\\*c", False),
    ("a?c", "a\\?c", True), ("abc", "a\\?c", False),
    ("a\\c", "a\\\\c", True),   # \\ is a literal backslash
    ("a.c", "a.c", True), ("abc", "a.c", False),  # regex specials are literal
    ("x(y)[z]", "x(y)[z]", True), ("line1\r\nline2", "line1*line2", True),
    ("Ünïcode", "?nïcode", True),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*c", False),
])
def test_matches_wildcards(value: str, pattern: str, expected: bool) -> None:
    assert matches(value, pattern) is expected


def test_matches_octet_is_case_sensitive() -> None:
    assert not matches("ABC", "a*", "i;octet")
    assert matches("ABC", "A*", "i;octet")


def test_match_variables_shortest_leftmost() -> None:
    ok, groups = Matcher().match("matches", None, "i;ascii-casemap",
                                 ["coyote@ACME.Example.COM"], ["coyote@**.com"])
    assert ok and groups == ["coyote@ACME.Example.COM", "", "ACME.Example"]
    _, groups = Matcher().match("matches", None, "i;octet", ["abcd"], ["?*?"])
    assert groups == ["abcd", "a", "bc", "d"]


def test_ascii_casemap_folds_ascii_only() -> None:
    assert ascii_fold("ABC ÄÖ") == "abc ÄÖ"
    m = Matcher()
    assert m.match("is", None, "i;ascii-casemap", ["HELLO"], ["hello"])[0]
    assert not m.match("is", None, "i;ascii-casemap", ["Ä"], ["ä"])[0]
    assert m.match("contains", None, "i;ascii-casemap", ["Hello World"], ["O W"])[0]
    assert not m.match("contains", None, "i;octet", ["Hello World"], ["O W"])[0]


@pytest.mark.parametrize(("a", "b", "order"), [
    ("1", "2", -1), ("10", "9", 1), ("007", "7", 0), ("12abc", "12", 0),
    ("abc", "99999999", 1), ("abc", "xyz", 0), ("", "x", 0), ("0", "", -1),
])
def test_ascii_numeric(a: str, b: str, order: int) -> None:
    assert compare("i;ascii-numeric", a, b) == order


def test_octet_orders_by_code_point() -> None:
    assert compare("i;octet", "B", "a") == -1
    assert compare("i;ascii-casemap", "B", "a") == 1
    assert compare("i;octet", "é", "z") == 1


@pytest.mark.parametrize(("relation", "count", "key", "expected"), [
    ("eq", 2, "2", True), ("ne", 2, "2", False), ("gt", 3, "2", True), ("ge", 2, "2", True),
    ("lt", 1, "2", True), ("le", 3, "2", False), ("eq", 0, "0", True),
])
def test_count(relation: str, count: int, key: str, expected: bool) -> None:
    values = ["x"] * count
    assert Matcher().match("count", relation, "i;ascii-numeric", values, [key])[0] is expected


def test_value_any_pair() -> None:
    m = Matcher()
    assert m.match("value", "gt", "i;ascii-numeric", ["1", "5"], ["3"])[0]
    assert not m.match("value", "gt", "i;ascii-numeric", ["1", "2"], ["3"])[0]
    assert m.match("value", "ne", "i;ascii-numeric", ["3"], ["3", "4"])[0]


def test_regex_groups() -> None:
    ok, groups = Matcher().match("regex", None, "i;ascii-casemap", ["Re: [list] hi"],
                                 ["\\[([a-z]+)\\] (.*)"])
    assert ok and groups == ["[list] hi", "list", "hi"]
    ok, groups = Matcher().match("regex", None, "i;octet", ["ab"], ["(x)?b"])
    assert ok and groups == ["b", ""]


def test_quoting_helpers() -> None:
    assert quote_wildcard("a*b?c\\") == "a\\*b\\?c\\\\"
    assert quote_regex("a.b(c)") == "a\\.b\\(c\\)"
    assert wildcard_pattern("a*") == "(?s)a(.*?)"
