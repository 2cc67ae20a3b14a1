"""Every RFC 3501 command and its syntax variants, fed whole and byte by byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocol.protocol_feed import feed, one
from pyimapd.protocol import commands as c
from pyimapd.protocol.commands import STAR, SequenceSet
from pyimapd.protocol.events import ParseError
from pyimapd.search import ast

S = SequenceSet


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"a1 CAPABILITY", c.Capability("a1")),
        (b"a1 capability", c.Capability("a1")),
        (b"a1 NoOp", c.Noop("a1")),
        (b"a1 LOGOUT", c.Logout("a1")),
        (b"a1 STARTTLS", c.StartTLS("a1")),
        (b"a1 CHECK", c.Check("a1")),
        (b"a1 CLOSE", c.Close("a1")),
        (b"a1 EXPUNGE", c.Expunge("a1")),
        (b"a1 IDLE", c.Idle("a1")),
        (b"tag]x.1 NOOP", c.Noop("tag]x.1")),
        # LOGIN: astrings as atom, quoted (with escapes), UTF-8, literal
        (b"a1 LOGIN fred secret", c.Login("a1", "fred", "secret")),
        (b'a1 LOGIN "fred smith" "p\\"w\\\\d"', c.Login("a1", "fred smith", 'p"w\\d')),
        (b'a1 LOGIN "" ""', c.Login("a1", "", "")),
        (b'a1 LOGIN "j\xc3\xb6rg" "\xff"', c.Login("a1", "j\u00f6rg", "\udcff")),
        (b"a1 LOGIN fred] x]", c.Login("a1", "fred]", "x]")),
        # AUTHENTICATE with and without SASL-IR
        (b"a1 AUTHENTICATE plain", c.Authenticate("a1", "PLAIN")),
        (b"a1 AUTHENTICATE PLAIN =", c.Authenticate("a1", "PLAIN", b"")),
        (b"a1 AUTHENTICATE PLAIN AGZvbwBiYXI=",
         c.Authenticate("a1", "PLAIN", b"\x00foo\x00bar")),
        (b"a1 AUTHENTICATE SCRAM-SHA-256 bj0=", c.Authenticate("a1", "SCRAM-SHA-256", b"n=")),
        # mailbox commands, INBOX normalisation, modified UTF-7, UTF-8
        (b"a1 SELECT inbox", c.Select("a1", "INBOX")),
        (b'a1 SELECT "InBoX"', c.Select("a1", "INBOX")),
        (b"a1 SELECT inbox/Sub", c.Select("a1", "INBOX/Sub")),
        (b"a1 SELECT inboxes", c.Select("a1", "inboxes")),
        (b"a1 SELECT Other/inbox", c.Select("a1", "Other/inbox")),
        (b"a1 EXAMINE Entw&APw-rfe", c.Examine("a1", "Entw\u00fcrfe")),
        (b'a1 CREATE "Entw\xc3\xbcrfe"', c.Create("a1", "Entw\u00fcrfe")),
        (b'a1 CREATE "a b"', c.Create("a1", "a b")),
        (b"a1 DELETE a&-b", c.Delete("a1", "a&b")),
        (b"a1 RENAME old new", c.Rename("a1", "old", "new")),
        (b'a1 RENAME "inbox" "Old Mail"', c.Rename("a1", "INBOX", "Old Mail")),
        (b"a1 SUBSCRIBE news", c.Subscribe("a1", "news")),
        (b"a1 UNSUBSCRIBE news", c.Unsubscribe("a1", "news")),
        (b'a1 LIST "" *', c.List("a1", "", "*")),
        (b'a1 LIST "" ""', c.List("a1", "", "")),
        (b"a1 LIST ~/Mail/ %", c.List("a1", "~/Mail/", "%")),
        (b'a1 LIST "" inbox', c.List("a1", "", "INBOX")),
        (b'a1 LIST "" "&ZeVnLIqe-/*"', c.List("a1", "", "\u65e5\u672c\u8a9e/*")),
        (b"a1 LIST foo] ba]r*", c.List("a1", "foo]", "ba]r*")),
        (b'a1 LSUB "#news." "comp.mail.*"', c.Lsub("a1", "#news.", "comp.mail.*")),
        (b"a1 STATUS blurdybloop (UIDNEXT MESSAGES)",
         c.Status("a1", "blurdybloop", ("UIDNEXT", "MESSAGES"))),
        (b"a1 STATUS inbox (messages recent uidnext uidvalidity unseen)",
         c.Status("a1", "INBOX", ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"))),
        (b"a1 STATUS x (HIGHESTMODSEQ SIZE DELETED)",
         c.Status("a1", "x", ("HIGHESTMODSEQ", "SIZE", "DELETED"))),
        # STORE variants
        (b"a1 STORE 2:4 +FLAGS (\\Deleted)",
         c.Store("a1", S(((2, 4),)), "+", False, ("\\Deleted",))),
        (b"a1 STORE 1 -flags.silent (\\seen $Junk)",
         c.Store("a1", S(((1, 1),)), "-", True, ("\\Seen", "$Junk"))),
        (b"a1 STORE * FLAGS ()", c.Store("a1", S(((STAR, STAR),)), "", False, ())),
        (b"a1 STORE 1,3 FLAGS.SILENT \\Answered \\Draft foo",
         c.Store("a1", S(((1, 1), (3, 3))), "", True, ("\\Answered", "\\Draft", "foo"))),
        (b"a1 UID STORE 5:* +FLAGS \\Flagged",
         c.Store("a1", S(((5, STAR),)), "+", False, ("\\Flagged",), uid=True)),
        # COPY
        (b"a1 COPY 2:4 MEETING", c.Copy("a1", S(((2, 4),)), "MEETING")),
        (b'a1 uid copy 4827313:4828442 "inbox"',
         c.Copy("a1", S(((4827313, 4828442),)), "INBOX", uid=True)),
        (b"a1 COPY $ Trash", c.Copy("a1", S((), saved=True), "Trash")),
        # sequence sets
        (b"a1 COPY 4294967295 x", c.Copy("a1", S(((4294967295, 4294967295),)), "x")),
        (b"a1 COPY *:4,5:7,9 x", c.Copy("a1", S(((STAR, 4), (5, 7), (9, 9))), "x")),
    ],
)
def test_commands(line: bytes, command: c.Command) -> None:
    assert one(line + b"\r\n") == command


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"a1 FROB", "Unknown command FROB"),
        (b"a1 XYZZY 1 2 3", "Unknown command XYZZY"),
        (b"a1", "Missing command name"),
        (b"a1 ", "Missing command name"),
        (b"a1  NOOP", "Invalid command name"),
        (b"a1 NOOP extra", "Unexpected extra arguments to NOOP"),
        (b"a1 NOOP ", "Unexpected extra arguments to NOOP"),
        (b"a1 LOGIN", "Missing user name"),
        (b"a1 LOGIN fred", "Missing password"),
        (b"a1 LOGIN fred secret extra", "Unexpected extra arguments to LOGIN"),
        (b'a1 LOGIN "fred secret', "Invalid quoted string in user name"),
        (b'a1 LOGIN "a\\b" c', "Invalid quoted string in user name"),
        (b"a1 LOGIN (fred) x", "Invalid user name"),
        (b"a1 AUTHENTICATE", "Missing authentication mechanism"),
        (b"a1 AUTHENTICATE PLAIN AGZvbw", "Invalid base64 in initial response"),
        (b"a1 AUTHENTICATE PLAIN ***", "Invalid initial response"),
        (b"a1 AUTHENTICATE PLAIN", None),
        (b"a1 SELECT", "Missing mailbox name"),
        (b"a1 SELECT a b", "Unexpected extra arguments to SELECT"),
        (b'a1 SELECT "\xff"', "Invalid mailbox name: not UTF-8"),
        (b"a1 SELECT a*", "Unexpected extra arguments to SELECT"),
        (b"a1 RENAME old", "Missing new mailbox name"),
        (b'a1 LIST ""', "Missing mailbox pattern"),
        (b'a1 LIST "" (', "Missing mailbox pattern"),
        (b"a1 STATUS x", "Missing status items"),
        (b"a1 STATUS x ()", "Empty STATUS item list"),
        (b"a1 STATUS x (MESSAGES", "Expected ) in status items"),
        (b"a1 STATUS x (FOO)", "Unknown status item FOO"),
        (b"a1 STATUS x MESSAGES", "Expected ( in status items"),
        (b"a1 STORE 1 FLAGS", "Missing flags"),
        (b"a1 STORE 1 XFLAGS (\\Seen)", "Invalid STORE item: expected FLAGS, +FLAGS or -FLAGS"),
        (b"a1 STORE 1 FLAGSX (\\Seen)", "Invalid STORE item: expected FLAGS, +FLAGS or -FLAGS"),
        (b"a1 STORE 1 FLAGS (\\Recent)", "\\Recent cannot be set by the client"),
        (b"a1 STORE 1 FLAGS (\\X-Ext)", "Unknown system flag \\X-Ext"),
        (b"a1 STORE 1 FLAGS (\\Seen", "Unterminated flag list"),
        (b"a1 STORE 1 FLAGS (\\Seen))", "Unexpected extra arguments to STORE"),
        (b"a1 STORE 1 FLAGS (a  b)", "Invalid flag"),
        (b"a1 STORE 1 FLAGS \\*", "Invalid flag"),
        (b"a1 COPY 1", "Missing mailbox name"),
        (b"a1 COPY x y", "Invalid sequence set"),
        (b"a1 COPY 0 y", "Zero is not allowed in sequence set"),
        (b"a1 COPY 1:0 y", "Zero is not allowed in sequence set"),
        (b"a1 COPY 4294967296 y", "Number too large in sequence set"),
        (b"a1 COPY 1,,2 y", "Invalid sequence set"),
        (b"a1 COPY 1: y", "Invalid sequence set"),
        (b"a1 COPY 1:2:3 y", "Invalid sequence set"),
        (b"a1 COPY -1 y", "Invalid sequence set"),
        (b"a1 COPY $,1 y", "Invalid sequence set"),
        (b"a1 UID", "Missing UID command"),
        (b"a1 UID FROB 1", "Unknown UID command FROB"),
        (b"a1 UID NOOP", "Unknown UID command NOOP"),
    ],
)
def test_syntax_errors(line: bytes, error: str | None) -> None:
    event = one(line + b"\r\n")
    if error is None:
        assert not isinstance(event, ParseError)
    else:
        assert event == ParseError("a1", error)


@pytest.mark.parametrize(
    ("line", "code", "text"),
    [
        (b"a1 SELECT &AGE-", "NONEXISTENT",
         "Invalid mailbox name: printable ASCII must not be BASE64-encoded"),
        (b'a1 SELECT "a\x01"', "NONEXISTENT",
         "Invalid mailbox name: control character in mailbox name"),
        (b"a1 EXAMINE &Jjo", "NONEXISTENT",
         "Invalid mailbox name: unterminated or invalid modified BASE64 in mailbox name"),
        (b"a1 STATUS &AGE- (MESSAGES)", "NONEXISTENT",
         "Invalid mailbox name: printable ASCII must not be BASE64-encoded"),
        (b'a1 LIST "" &Jjo', "NONEXISTENT",
         "Invalid mailbox pattern: unterminated or invalid modified BASE64 in mailbox name"),
        (b"a1 DELETE &2D0-", "NONEXISTENT",
         "Invalid mailbox name: unpaired surrogate in mailbox name"),
        (b"a1 CREATE &Jjo", "CANNOT",
         "Invalid mailbox name: unterminated or invalid modified BASE64 in mailbox name"),
        (b"a1 RENAME INBOX &Jjo", "CANNOT",
         "Invalid new mailbox name: unterminated or invalid modified BASE64 in mailbox name"),
    ],
)
def test_invalid_modified_utf7_is_no_not_bad(line: bytes, code: str, text: str) -> None:
    """The syntax is right, the name just cannot exist: NO, so clients keep the
    connection (issue 16). A broken string or a missing argument is still BAD."""
    assert one(line + b"\r\n") == ParseError("a1", text, code=code, status="NO")


@pytest.mark.parametrize(
    "line",
    [b"+1 NOOP", b"* NOOP", b"(a NOOP", b" a1 NOOP", b"{3}x NOOP", b"\xc3\xa41 NOOP", b"%"],
)
def test_bad_tags_give_untagged_errors(line: bytes) -> None:
    assert one(line + b"\r\n") == ParseError(None, "Missing or invalid tag")


def test_literals_anywhere_a_string_goes() -> None:
    events, sent = feed(b"a1 RENAME {5}\r\ninbox {7+}\r\nnew box\r\n")
    assert events == [c.Rename("a1", "INBOX", "new box")]
    assert sent == b"+ Ready for literal data\r\n"
    assert one(b"a1 LIST {0}\r\n {1}\r\n*\r\n") == c.List("a1", "", "*")
    assert one(b"a1 STATUS {3+}\r\nfoo (UNSEEN)\r\n") == c.Status("a1", "foo", ("UNSEEN",))
    assert one(b"a1 COPY 1 {4}\r\nab c\r\n") == c.Copy("a1", S(((1, 1),)), "ab c")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"a1 FROB {3}\r\n", ParseError("a1", "Unknown command FROB")),
        (b"a1 FROB{3}\r\n", ParseError("a1", "Unknown command FROB")),
        (b"a1 {3}\r\n", ParseError("a1", "Missing command name")),
        (b"+a {3}\r\n", ParseError(None, "Missing or invalid tag")),
        (b"{3}\r\n", ParseError(None, "Missing or invalid tag")),
    ],
)
def test_junk_gets_no_continuation(data: bytes, error: ParseError) -> None:
    events, sent = feed(data + b"a2 NOOP\r\n")
    assert events == [error, c.Noop("a2")]
    assert sent == b""


def test_literal_where_no_string_goes() -> None:
    assert one(b"a1 COPY {1}\r\n1 x\r\n") == ParseError("a1", "Invalid sequence set")
    assert one(b"a1 NOOP {1}\r\nx\r\n") == ParseError("a1", "Unexpected extra arguments to NOOP")
    assert one(b"a1 LOGIN x{1}\r\ny\r\n") == ParseError("a1", "Invalid password")
    assert one(b"a1 AUTHENTICATE PLAIN {4}\r\nAAAA\r\n") == ParseError(
        "a1", "Invalid initial response")


def test_append_date_time_variants() -> None:
    from protocol.protocol_feed import events_of

    for text, expected in [
        (b'"17-Jul-1996 02:44:25 -0700"',
         datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC)),
        (b'" 7-jul-1996 02:44:25 +0000"', datetime(1996, 7, 7, 2, 44, 25, tzinfo=UTC)),
    ]:
        events = events_of(b"a1 APPEND x " + text + b" {1+}\r\nm\r\n")
        start = events[0]
        assert isinstance(start, c.AppendStart)
        assert start.date_time == expected
        assert start.date_time is not None and start.date_time.tzinfo is not None


def test_search_is_reached_through_uid() -> None:
    assert one(b"a1 UID SEARCH 1:* SEEN\r\n") == c.Search(
        "a1", ast.And((ast.SeqSet(S(((1, STAR),))), ast.Flag("\\Seen"))), None, uid=True)
