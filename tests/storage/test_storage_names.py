"""Mailbox name rules and LIST matching (RFC 3501 sections 5.1 and 6.3.8)."""

from __future__ import annotations

import pytest

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
