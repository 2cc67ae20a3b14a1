"""Parsing of GETMETADATA and SETMETADATA (RFC 5464 section 5) with the section 4.2 and
4.3 examples, the entry-name rules of section 3.2 (BAD otherwise), literal8 values, and
the METADATA response writer; every input is fed whole and byte by byte."""

from __future__ import annotations

import pytest

from protocol.protocol_feed import feed, one
from pyimapd.protocol.events import ParseError
from pyimapd.protocol.metadata_commands import (
    DEPTH_INFINITY,
    GetMetadata,
    SetMetadata,
    metadata_response,
)

INF = DEPTH_INFINITY


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b'a GETMETADATA "" /shared/comment', GetMetadata("a", "", ("/shared/comment",))),
        (b'a GETMETADATA "INBOX" /private/comment',
         GetMetadata("a", "INBOX", ("/private/comment",))),
        (b'a GETMETADATA "INBOX" (/shared/comment /private/comment)',
         GetMetadata("a", "INBOX", ("/shared/comment", "/private/comment"))),
        (b'a GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)',
         GetMetadata("a", "INBOX", ("/shared/comment", "/private/comment"), 0, 1024)),
        (b'a GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)',
         GetMetadata("a", "INBOX", ("/private/filters/values",), 1)),
        (b"a GETMETADATA (depth INFINITY maxsize 0) inbox (/Shared /PRIVATE/Comment)",
         GetMetadata("a", "INBOX", ("/shared", "/private/comment"), INF, 0)),
        (b'a GETMETADATA "" ("/shared/comment" {15}\r\n/private/commen)',
         GetMetadata("a", "", ("/shared/comment", "/private/commen"))),
        (b"a GETMETADATA INBOX (/shared/comment /SHARED/COMMENT)",
         GetMetadata("a", "INBOX", ("/shared/comment",))),
    ],
)
def test_getmetadata(line: bytes, command: GetMetadata) -> None:
    assert one(line + b"\r\n") == command


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\n"
         b"two lines.)",
         SetMetadata("a", "INBOX", (("/private/comment",
                                     b"My new comment across\r\ntwo lines."),))),
        (b"a SETMETADATA INBOX (/private/comment NIL)",
         SetMetadata("a", "INBOX", (("/private/comment", None),))),
        (b'a SETMETADATA INBOX (/private/comment "My new comment"'
         b' /shared/comment "This one is for you!")',
         SetMetadata("a", "INBOX", (("/private/comment", b"My new comment"),
                                    ("/shared/comment", b"This one is for you!")))),
        (b'a SETMETADATA "" (/private/vendor/x/y ~{3}\r\na\x00b /shared/c "")',
         SetMetadata("a", "", (("/private/vendor/x/y", b"a\x00b"), ("/shared/c", b"")))),
        (b'a SETMETADATA INBOX (/shared/c "1" /Shared/C nil)',
         SetMetadata("a", "INBOX", (("/shared/c", None),))),
    ],
)
def test_setmetadata(line: bytes, command: SetMetadata) -> None:
    assert one(line + b"\r\n") == command


def test_synchronizing_literal_gets_a_continuation() -> None:
    events, sent = feed(b"a SETMETADATA INBOX (/private/comment {2}\r\nhi)\r\n")
    assert sent.startswith(b"+ "), sent
    assert events == [SetMetadata("a", "INBOX", (("/private/comment", b"hi"),))]


@pytest.mark.parametrize(
    "line",
    [
        b"a GETMETADATA INBOX /comment",
        b"a GETMETADATA INBOX /private//comment",
        b"a GETMETADATA INBOX /private/comment/",
        b"a GETMETADATA INBOX /shared/*",
        b"a GETMETADATA INBOX /shared/a%",
        b"a GETMETADATA INBOX private/comment",
        b'a GETMETADATA INBOX "/shared/\xc3\xa9"',
        b'a GETMETADATA INBOX "/shared/\x7f"',
        b"a GETMETADATA INBOX ()",
        b"a GETMETADATA INBOX",
        b"a GETMETADATA (DEPTH 2) INBOX /shared/comment",
        b"a GETMETADATA (MAXSIZE x) INBOX /shared/comment",
        b"a GETMETADATA INBOX (MAXSIZE 1) /shared/comment extra",
        b"a SETMETADATA INBOX (/private \"v\")",
        b"a SETMETADATA INBOX (/private/comment)",
        b"a SETMETADATA INBOX ()",
        b"a SETMETADATA INBOX /private/comment \"v\"",
        b"a SETMETADATA INBOX (/private/comment \"v\"",
    ],
)
def test_refused(line: bytes) -> None:
    got = one(line + b"\r\n")
    assert isinstance(got, ParseError) and got.status == "BAD" and got.tag == "a", got


def test_literal8_only_for_setmetadata_values() -> None:
    got = one(b"a GETMETADATA INBOX ~{3}\r\n")
    assert isinstance(got, ParseError) and got.status == "BAD", got


def test_response() -> None:
    assert metadata_response("INBOX", [("/private/comment", b"My own comment")]) == (
        b'* METADATA INBOX (/private/comment "My own comment")\r\n')
    assert metadata_response("", [("/shared/a", b"two\r\nlines"), ("/shared/b", b"a\x00b")]) == (
        b'* METADATA "" (/shared/a {10}\r\ntwo\r\nlines /shared/b ~{3}\r\na\x00b)\r\n')
    assert metadata_response("Caf\xe9", [("/shared/x", b"")]) == (
        b'* METADATA Caf&AOk- (/shared/x "")\r\n')
