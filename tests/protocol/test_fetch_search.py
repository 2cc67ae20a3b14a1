"""FETCH attributes and SEARCH keys."""

from __future__ import annotations

from datetime import date

import pytest

from protocol.protocol_feed import one
from pyimapd.protocol import commands as c
from pyimapd.protocol.commands import STAR, FetchAttr, FetchSection, SequenceSet
from pyimapd.protocol.events import ParseError
from pyimapd.protocol.search_parser import MAX_DEPTH
from pyimapd.search import ast

S = SequenceSet
A = FetchAttr
FAST = (A("FLAGS"), A("INTERNALDATE"), A("RFC822.SIZE"))


@pytest.mark.parametrize(
    ("args", "items"),
    [
        (b"ALL", (*FAST, A("ENVELOPE"))),
        (b"fast", FAST),
        (b"Full", (*FAST, A("ENVELOPE"), A("BODY"))),
        (b"FLAGS", (A("FLAGS"),)),
        (b"(uid rfc822 RFC822.HEADER rfc822.text bodystructure body envelope)",
         (A("UID"), A("RFC822"), A("RFC822.HEADER"), A("RFC822.TEXT"), A("BODYSTRUCTURE"),
          A("BODY"), A("ENVELOPE"))),
        (b"BODY[]", (FetchSection(peek=False),)),
        (b"body.peek[]<0.10>", (FetchSection(peek=True, partial=(0, 10)),)),
        (b"BODY[TEXT]", (FetchSection(False, text="TEXT"),)),
        (b"BODY[header]", (FetchSection(False, text="HEADER"),)),
        (b"BODY[1]", (FetchSection(False, part=(1,)),)),
        (b"BODY[1.2.3]", (FetchSection(False, part=(1, 2, 3)),)),
        (b"BODY[2.MIME]", (FetchSection(False, part=(2,), text="MIME"),)),
        (b"BODY[4.2.HEADER]", (FetchSection(False, part=(4, 2), text="HEADER"),)),
        (b"BODY[3.text]<5.100>", (FetchSection(False, part=(3,), text="TEXT", partial=(5, 100)),)),
        (b"(FLAGS BODY.PEEK[HEADER.FIELDS (DATE from \"Subject\")])",
         (A("FLAGS"),
          FetchSection(True, text="HEADER.FIELDS", fields=("DATE", "FROM", "SUBJECT")))),
        (b"BODY[1.HEADER.FIELDS.NOT (X-Spam)]",
         (FetchSection(False, part=(1,), text="HEADER.FIELDS.NOT", fields=("X-SPAM",)),)),
    ],
)
def test_fetch_items(args: bytes, items: tuple[c.FetchItem, ...]) -> None:
    assert one(b"a1 FETCH 1:* " + args + b"\r\n") == c.Fetch("a1", S(((1, STAR),)), items)


def test_uid_fetch_and_literal_field_name() -> None:
    line = b"a1 UID FETCH 7 (BODY[HEADER.FIELDS ({4}\r\nDATE)])\r\n"
    assert one(line) == c.Fetch(
        "a1", S(((7, 7),)), (FetchSection(False, text="HEADER.FIELDS", fields=("DATE",)),),
        uid=True)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (b"", "Missing FETCH attributes"),
        (b"FOO", "Unknown FETCH attribute FOO"),
        (b"(ALL)", "Unknown FETCH attribute ALL"),
        (b"()", "Invalid FETCH attribute"),
        (b"(FLAGS", "Unterminated FETCH attribute list"),
        (b"(FLAGS UID", "Unterminated FETCH attribute list"),
        (b"FLAGS)", "Unexpected extra arguments to FETCH"),
        (b"(FLAGS  UID)", "Invalid FETCH attribute"),
        (b"BODY.PEEK", "Unknown FETCH attribute BODY.PEEK"),
        (b"BODY[", "Invalid section"),
        (b"BODY[FOO]", "Invalid section: unknown section text FOO"),
        (b"BODY[MIME]", "Invalid section: MIME needs a part number"),
        (b"BODY[0]", "Zero is not allowed in section part"),
        (b"BODY[1.]", "Invalid section"),
        (b"BODY[HEADER.FIELDS]", "Invalid header list"),
        (b"BODY[HEADER.FIELDS ()]", "Invalid header field name"),
        (b"BODY[HEADER.FIELDS (A:B)]", "Invalid header field name"),
        (b"BODY[HEADER.FIELDS (A]", "Expected ) in header list"),
        (b"BODY[]<0.0>", "Zero is not allowed in partial"),
        (b"BODY[]<1>", "Invalid partial range"),
        (b"BODY[]<a.b>", "Invalid partial range"),
        (b"RFC822[]", "Unexpected extra arguments to FETCH"),
    ],
)
def test_fetch_errors(args: bytes, error: str) -> None:
    assert one(b"a1 FETCH 1 " + args + b"\r\n") == ParseError("a1", error)


def test_fetch_missing_sequence() -> None:
    assert one(b"a1 FETCH\r\n") == ParseError("a1", "Missing sequence set")
    assert one(b"a1 FETCH 1\r\n") == ParseError("a1", "Missing FETCH attributes")


def search(args: bytes) -> ast.SearchKey:
    event = one(b"a1 SEARCH " + args + b"\r\n")
    assert isinstance(event, c.Search), event
    return event.key


D = date(1994, 2, 1)


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (b"ALL", ast.All()),
        (b"answered", ast.Flag("\\Answered")),
        (b"DELETED", ast.Flag("\\Deleted")),
        (b"DRAFT", ast.Flag("\\Draft")),
        (b"FLAGGED", ast.Flag("\\Flagged")),
        (b"SEEN", ast.Flag("\\Seen")),
        (b"UNANSWERED", ast.Flag("\\Answered", False)),
        (b"UNDELETED", ast.Flag("\\Deleted", False)),
        (b"UNDRAFT", ast.Flag("\\Draft", False)),
        (b"UNFLAGGED", ast.Flag("\\Flagged", False)),
        (b"UNSEEN", ast.Flag("\\Seen", False)),
        (b"RECENT", ast.Recent()),
        (b"NEW", ast.And((ast.Recent(), ast.Flag("\\Seen", False)))),
        (b"OLD", ast.Not(ast.Recent())),
        (b"KEYWORD $Junk", ast.Flag("$Junk")),
        (b"UNKEYWORD foo", ast.Flag("foo", False)),
        (b"BCC a", ast.Header("BCC", "a")),
        (b"CC a", ast.Header("CC", "a")),
        (b'FROM "Smith"', ast.Header("FROM", "Smith")),
        (b"TO a", ast.Header("TO", "a")),
        (b'SUBJECT ""', ast.Header("SUBJECT", "")),
        (b'HEADER x-mailer "Mutt 2"', ast.Header("X-MAILER", "Mutt 2")),
        (b"BODY hello", ast.Body("hello")),
        (b'TEXT "caf\xc3\xa9"', ast.Text("caf\u00e9")),
        (b'TEXT "\xff"', ast.Text("\ufffd")),
        (b"BEFORE 1-Feb-1994", ast.InternalDate("before", D)),
        (b'ON "01-feb-1994"', ast.InternalDate("on", D)),
        (b"SINCE 1-FEB-1994", ast.InternalDate("since", D)),
        (b"SENTBEFORE 1-Feb-1994", ast.SentDate("before", D)),
        (b"SENTON 1-Feb-1994", ast.SentDate("on", D)),
        (b"SENTSINCE 1-Feb-1994", ast.SentDate("since", D)),
        (b"LARGER 100", ast.Size(True, 100)),
        (b"SMALLER 0", ast.Size(False, 0)),
        (b"UID 1:*", ast.UidSet(S(((1, STAR),)))),
        (b"UID $", ast.UidSet(S((), saved=True))),
        (b"2,4:7", ast.SeqSet(S(((2, 2), (4, 7))))),
        (b"*", ast.SeqSet(S(((STAR, STAR),)))),
        (b"$", ast.SeqSet(S((), saved=True))),
        (b"NOT SEEN", ast.Not(ast.Flag("\\Seen"))),
        (b"OR SEEN FLAGGED", ast.Or(ast.Flag("\\Seen"), ast.Flag("\\Flagged"))),
        (b"(SEEN)", ast.Flag("\\Seen")),
        (b"(SEEN DRAFT)", ast.And((ast.Flag("\\Seen"), ast.Flag("\\Draft")))),
        (b"SEEN DRAFT", ast.And((ast.Flag("\\Seen"), ast.Flag("\\Draft")))),
        (b"OR (SEEN 1) NOT (TO x)",
         ast.Or(ast.And((ast.Flag("\\Seen"), ast.SeqSet(S(((1, 1),))))),
                ast.Not(ast.Header("TO", "x")))),
        (b"FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
         ast.And((ast.Flag("\\Flagged"), ast.InternalDate("since", D),
                  ast.Not(ast.Header("FROM", "Smith"))))),
    ],
)
def test_search_keys(args: bytes, key: ast.SearchKey) -> None:
    assert search(args) == key


def test_search_charset_and_literals() -> None:
    event = one(b"a1 SEARCH CHARSET utf-8 TEXT {5}\r\nXX\xc3\xa4X\r\n")
    assert event == c.Search("a1", ast.Text("XX\u00e4X"), "UTF-8")
    event = one(b"a1 SEARCH CHARSET ISO-8859-1 SUBJECT \"\xe4\"\r\n")
    assert event == c.Search("a1", ast.Header("SUBJECT", "\u00e4"), "ISO-8859-1")
    event = one(b"a1 SEARCH CHARSET x-unknown SUBJECT \"\xe4\"\r\n")
    assert event == c.Search("a1", ast.Header("SUBJECT", "\ufffd"), "X-UNKNOWN")


def test_search_depth_is_bounded() -> None:
    ok = b"NOT " * (MAX_DEPTH - 1) + b"SEEN"
    assert isinstance(search(ok), ast.Not)
    assert isinstance(search(b"(" * MAX_DEPTH + b"SEEN" + b")" * MAX_DEPTH), ast.Flag)
    too_deep = b"(" * (MAX_DEPTH + 1) + b"SEEN" + b")" * (MAX_DEPTH + 1)
    assert one(b"a1 SEARCH " + too_deep + b"\r\n") == ParseError(
        "a1", "SEARCH keys nested too deeply")
    very_deep = b"OR SEEN " * 5000 + b"SEEN"
    assert one(b"a1 SEARCH " + very_deep + b"\r\n") == ParseError(
        "a1", "SEARCH keys nested too deeply")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (b"", "Missing search criteria"),
        (b"CHARSET", "Missing charset"),
        (b"CHARSET UTF-8", "Missing search criteria"),
        (b"FOO", "Unknown search key FOO"),
        (b"SEEN  DRAFT", "Invalid search key"),
        (b"(SEEN", "Unbalanced parentheses in SEARCH"),
        (b"(SEEN))", "Unbalanced parentheses in SEARCH"),
        (b"SEEN)", "Unbalanced parentheses in SEARCH"),
        (b"()", "Invalid search key"),
        (b"BEFORE", "Missing date for BEFORE"),
        (b"BEFORE 32-Jan-2020", "Invalid date"),
        (b"BEFORE 1-Foo-2020", "Invalid month in date"),
        (b'BEFORE "1-Jan-2020', "Invalid date"),
        (b"BEFORE 1/1/2020", "Invalid date"),
        (b"LARGER x", "Invalid size for LARGER"),
        (b"LARGER 99999999999", "Number too large in size for LARGER"),
        (b"KEYWORD \\Seen", "Invalid keyword"),
        (b"HEADER subject", "Missing header value"),
        (b"OR SEEN", "Missing second search key of OR"),
        (b"NOT", "Missing search key after NOT"),
        (b"UID 0", "Zero is not allowed in sequence set"),
        (b"1:x", "Invalid sequence set"),
        (b"SUBJECT", "Missing SUBJECT"),
    ],
)
def test_search_errors(args: bytes, error: str) -> None:
    line = b"a1 SEARCH " + args if args else b"a1 SEARCH"
    assert one(line + b"\r\n") == ParseError("a1", error)
