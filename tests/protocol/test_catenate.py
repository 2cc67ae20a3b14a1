"""CATENATE (RFC 4469) in the parser: TEXT literals streamed like messages, URL parts as
events, with MULTIAPPEND (RFC 3502), literal8 (RFC 3516) and the errors."""

from __future__ import annotations

from protocol.protocol_feed import feed
from pyimapd.protocol import commands as c
from pyimapd.protocol.connection import CONTINUE_LITERAL, ServerConnection
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    AppendNext,
    CatenateText,
    CatenateUrl,
    NeedData,
    ParseError,
)
from pyimapd.protocol.limits import Limits

U1 = "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"
U2 = "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME"


def test_rfc4469_example_1_framing() -> None:
    data = (f'A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "{U1}" TEXT {{4}}\r\n'
            f'--\r\n URL "{U2}" URL {U2} TEXT {{2+}}\r\n--)\r\nA004 NOOP\r\n').encode()
    events, sent = feed(data)
    assert events == [
        c.AppendStart("A003", "Drafts", ("\\Seen", "\\Draft", "$MDNSent"), None, 0,
                      catenate=True),
        CatenateUrl("A003", U1), CatenateText("A003", 4), AppendData(b"--\r\n"),
        CatenateUrl("A003", U2), CatenateUrl("A003", U2), CatenateText("A003", 2),
        AppendData(b"--"), AppendEnd("A003"), c.Noop("A004"),
    ]
    assert sent == CONTINUE_LITERAL  # one "+": the second TEXT is {n+}


def test_urls_only_is_one_line() -> None:
    events, sent = feed(b'a APPEND INBOX CATENATE (URL "/INBOX/;UID=1" URL ;UID=2)\r\n')
    assert events == [c.AppendStart("a", "INBOX", (), None, 0, catenate=True),
                      CatenateUrl("a", "/INBOX/;UID=1"), CatenateUrl("a", ";UID=2"),
                      AppendEnd("a")]
    assert sent == b""


def test_url_as_a_literal_and_mailbox_as_a_literal() -> None:
    events, sent = feed(b'a APPEND {5}\r\nINBOX CATENATE (URL {13}\r\n/INBOX/;UID=1 TEXT {1+}\r\n'
                        b'x URL {6+}\r\n;UID=1)\r\n')
    assert events == [c.AppendStart("a", "INBOX", (), None, 0, catenate=True),
                      CatenateUrl("a", "/INBOX/;UID=1"), CatenateText("a", 1),
                      AppendData(b"x"), CatenateUrl("a", ";UID=1"), AppendEnd("a")]
    assert sent == CONTINUE_LITERAL * 2


def test_multiappend_mixes_plain_and_catenate_messages() -> None:
    events, _ = feed(b'a APPEND INBOX {2+}\r\nab (\\Seen) CATENATE (TEXT ~{1+}\r\n\x00) '
                     b'" 7-Feb-1994 22:43:04 -0800" CATENATE (URL ;UID=1) {1+}\r\nz\r\n')
    assert events[:4] == [c.AppendStart("a", "INBOX", (), None, 2), AppendData(b"ab"),
                          AppendNext("a", ("\\Seen",), None, 0, catenate=True),
                          CatenateText("a", 1, binary=True)]
    assert events[4] == AppendData(b"\x00")
    assert isinstance(events[5], AppendNext) and events[5].catenate
    assert events[5].date_time is not None
    assert events[6:] == [CatenateUrl("a", ";UID=1"), AppendNext("a", (), None, 1),
                          AppendData(b"z"), AppendEnd("a")]


def test_syntax_errors_before_any_literal_are_bad() -> None:
    for line, text in [
        (b'a APPEND INBOX CATENATE (URL "x"', "Unterminated CATENATE list"),
        (b'a APPEND INBOX CATENATE (FOO "x")', "Unknown CATENATE part FOO"),
        (b"a APPEND INBOX CATENATE ()", "Invalid CATENATE part"),
        (b'a APPEND INBOX CATENATE (URL "x") junk', "Invalid APPEND arguments"),
        (b"a APPEND INBOX CATENATE (TEXT x)", "TEXT needs a literal"),
        (b"a APPEND INBOX CATENATE", "Missing CATENATE list"),
        (b"a APPEND INBOX", "Missing message literal"),
    ]:
        events, _ = feed(line + b"\r\nb NOOP\r\n")
        assert events == [ParseError("a", text), c.Noop("b")], line


def test_errors_after_a_text_literal_abort() -> None:
    events, _ = feed(b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx FOO)\r\nb NOOP\r\n")
    assert events[-2:] == [AppendAbort("a", "Unknown CATENATE part FOO"), c.Noop("b")]
    events, _ = feed(b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx\r\nb NOOP\r\n")
    assert events[-2:] == [AppendAbort("a", "Unterminated CATENATE list"), c.Noop("b")]
    events, _ = feed(b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx) URL\r\nb NOOP\r\n")
    assert events[-2:] == [AppendAbort("a", "Invalid APPEND arguments"),
                           c.Noop("b")]


def test_literal8_only_for_text() -> None:
    events, sent = feed(b"a APPEND INBOX CATENATE (URL ~{5}\r\nb NOOP\r\n")
    assert events == [
        ParseError("a", "literal8 is only allowed for an APPEND message or TEXT part"),
        c.Noop("b")]
    assert sent == b""


def test_text_over_the_limit_is_toobig_without_plus() -> None:
    limits = Limits(max_append=10)
    events, sent = feed(b'a APPEND INBOX CATENATE (URL ";UID=1" TEXT {11}\r\nb NOOP\r\n', limits)
    assert events == [ParseError("a", "Message too large", code="TOOBIG", status="NO"),
                      c.Noop("b")]
    assert sent == b""
    events, _ = feed(b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx TEXT {11+}\r\n" + b"y" * 11
                     + b")\r\nb NOOP\r\n", limits)
    assert events[-2:] == [ParseError("a", "Message too large", code="TOOBIG", status="NO"),
                           c.Noop("b")]


def test_parts_are_bounded() -> None:
    limits = Limits(max_literals=2)
    events, _ = feed(b"a APPEND INBOX CATENATE (URL x URL y URL z)\r\nb NOOP\r\n", limits)
    assert events == [ParseError("a", "Too many CATENATE parts in one APPEND"), c.Noop("b")]


def test_reject_withdraws_the_plus_and_the_queued_parts() -> None:
    conn = ServerConnection()
    conn.receive_data(b'a APPEND INBOX CATENATE (URL ";UID=1" TEXT {3}\r\n')
    start = conn.next_event()
    assert isinstance(start, c.AppendStart) and start.catenate
    assert conn.next_event() == CatenateUrl("a", ";UID=1")
    conn.reject_append()  # the URL is bad: the client must not send the TEXT
    assert conn.data_to_send() == b""
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"b NOOP\r\n")
    assert conn.next_event() == c.Noop("b")


def test_reject_after_the_whole_line() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a APPEND INBOX CATENATE (URL x URL y)\r\nb NOOP\r\n")
    assert isinstance(conn.next_event(), c.AppendStart)
    conn.reject_append()
    assert conn.next_event() == c.Noop("b")


def test_reject_after_the_plus_went_out_discards_the_rest() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a APPEND INBOX CATENATE (URL x TEXT {3}\r\n")
    assert isinstance(conn.next_event(), c.AppendStart)
    assert conn.next_event() == CatenateUrl("a", "x")
    assert conn.next_event() == CatenateText("a", 3)
    assert conn.data_to_send() == CONTINUE_LITERAL
    conn.receive_data(b"ab")
    assert conn.next_event() == AppendData(b"ab")
    conn.reject_append()
    conn.receive_data(b'c URL "y" TEXT {2+}\r\nzz)\r\nb NOOP\r\n')
    assert conn.next_event() == c.Noop("b")
