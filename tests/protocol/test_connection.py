"""Framing: lines, literals, continuation requests, limits, streamed APPEND, raw lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from protocol.protocol_feed import drain, events_of, feed, feed_chunks, one
from pyimapd.protocol import commands as c
from pyimapd.protocol.connection import CONTINUE_LITERAL, Event, ServerConnection
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    NeedData,
    ParseError,
    RawLine,
)
from pyimapd.protocol.limits import (
    DEFAULT_MAX_APPEND,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_LITERAL,
    DEFAULT_MAX_LITERALS,
    DEFAULT_MAX_RAW_LINE,
    Limits,
)

PLUS = CONTINUE_LITERAL
SMALL = Limits(max_line=100, max_literal=50, max_append=1000, max_literals=3,
               max_raw_line=60, max_command=400)


TOOBIG = ParseError("a1", "Message too large", code="TOOBIG", status="NO")

def test_limits_defaults() -> None:
    limits = Limits()
    assert limits.max_line == DEFAULT_MAX_LINE == 65536
    assert limits.max_literal == DEFAULT_MAX_LITERAL == 65536
    assert limits.max_append == DEFAULT_MAX_APPEND == 50 * 1024 * 1024
    assert limits.max_literals == DEFAULT_MAX_LITERALS == 1000
    assert limits.max_raw_line == DEFAULT_MAX_RAW_LINE == 65536
    with pytest.raises(ValueError):
        Limits(max_line=0)


def test_simple_and_pipelined_commands() -> None:
    events, sent = feed(b"a1 NOOP\r\na2 capability\r\na3 LOGOUT\r\n")
    assert events == [c.Noop("a1"), c.Capability("a2"), c.Logout("a3")]
    assert sent == b""


def test_bare_lf_is_tolerated_and_empty_lines_ignored() -> None:
    assert events_of(b"\r\n\na1 NOOP\n\r\na2 NOOP\r\n") == [c.Noop("a1"), c.Noop("a2")]


def test_nothing_before_crlf() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 NOOP")
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"\r")
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"\n")
    assert conn.next_event() == c.Noop("a1")


def test_sync_literal_gets_continuation_before_the_data() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 LOGIN {4}\r\n")
    assert isinstance(conn.next_event(), NeedData)
    assert conn.data_to_send() == PLUS
    assert conn.data_to_send() == b""
    conn.receive_data(b"fred {6}\r\n")
    assert isinstance(conn.next_event(), NeedData)
    assert conn.data_to_send() == PLUS
    conn.receive_data(b"secret\r\n")
    assert conn.next_event() == c.Login("a1", "fred", "secret")
    assert conn.data_to_send() == b""


def test_non_sync_literal_needs_no_continuation() -> None:
    events, sent = feed(b"a1 LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n")
    assert events == [c.Login("a1", "fred", "secret")]
    assert sent == b""


def test_literal_contents_are_opaque() -> None:
    # CRLF, quotes, a fake marker and 8-bit octets inside a literal are just data.
    payload = b'x\r\n"{3}\r\n\xff'
    events, sent = feed(b"a1 LOGIN {%d}\r\n%s {0}\r\n\r\n" % (len(payload), payload))
    assert events == [c.Login("a1", payload.decode("utf-8", "surrogateescape"), "")]
    assert sent == PLUS * 2


def test_oversized_sync_literal_is_refused_without_continuation() -> None:
    events, sent = feed(b"a1 LOGIN {51}\r\na2 NOOP\r\n", SMALL)
    assert events == [ParseError("a1", "Literal too large"), c.Noop("a2")]
    assert sent == b""


def test_oversized_non_sync_literal_is_discarded_unbuffered() -> None:
    data = b"a1 LOGIN {500+}\r\n" + b"A2 NOOP\r\n" * 50 + b"x" * 50 + b" {3+}\r\nabc\r\na3 NOOP\r\n"
    assert len(data) > 500
    events, sent = feed(data, SMALL)
    assert events == [ParseError("a1", "Literal too large"), c.Noop("a3")]
    assert sent == b""
    _, _, conn = feed_chunks([data[i : i + 7] for i in range(0, len(data), 7)], SMALL)
    assert conn.buffered_size == 0


def test_discarded_octets_are_never_kept() -> None:
    conn = ServerConnection(SMALL)
    conn.receive_data(b"a1 LOGIN {100000+}\r\n")
    assert conn.next_event() == ParseError("a1", "Literal too large")
    for _ in range(99):
        conn.receive_data(b"z" * 1000)
        assert conn.buffered_size == 0  # dropped in receive_data itself
    conn.receive_data(b"z" * 1000 + b" trailing\r\na2 NOOP\r\n")
    assert drain(conn) == [c.Noop("a2")]


def test_too_many_literals() -> None:
    data = b"a1 LOGIN {1}\r\na {1}\r\nb {1}\r\nc {1}\r\nd\r\na2 NOOP\r\n"
    events, sent = feed(data, SMALL)
    # the fourth literal is refused; the client, without "+", sends "d" as a new line
    assert events[0] == ParseError("a1", "Too many literals")
    assert events[-1] == c.Noop("a2")
    assert sent == PLUS * 3


def test_command_size_bound_over_all_literals() -> None:
    lits = b"".join(b" {50}\r\n" + b"x" * 50 for _ in range(3))
    limits = Limits(max_literal=50, max_command=120)
    events, sent = feed(b"a1 SEARCH TEXT {50}\r\n" + b"x" * 50 + b" TEXT" + lits + b"\r\n", limits)
    # 19 + 50 octets, then 10 + 50 more would pass 120: the second literal is refused
    assert events[0] == ParseError("a1", "Command too large")
    assert sent == PLUS


def test_line_too_long_is_fatal_and_bounded() -> None:
    conn = ServerConnection(SMALL)
    conn.receive_data(b"tag1 NOOP " + b"x" * 80)
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"x" * 20)
    assert conn.next_event() == ParseError("tag1", "Line too long", fatal=True)
    assert conn.buffered_size == 0
    conn.receive_data(b"\r\na2 NOOP\r\n")
    assert isinstance(conn.next_event(), NeedData)
    assert conn.buffered_size == 0


def test_line_limit_is_exact() -> None:
    line = b"a1 NOOP" + b" " * 0
    at_limit = b"a1 LOGIN " + b"x" * (100 - 11) + b" y"
    assert len(at_limit) == 100
    assert one(at_limit + b"\r\n", SMALL) == c.Login("a1", "x" * 89, "y")
    over = one(b"a1 LOGIN " + b"x" * 90 + b" y\r\n", SMALL)
    assert over == ParseError("a1", "Line too long", fatal=True)
    assert one(line + b"\r\n", SMALL) == c.Noop("a1")


def test_line_limit_counts_all_segments_of_a_command() -> None:
    data = b"a1 LOGIN " + b"x" * 50 + b" {2}\r\nab" + b" " * 60 + b"\r\n"
    assert one(data, SMALL) == ParseError("a1", "Line too long", fatal=True)


def test_line_too_long_without_a_tag() -> None:
    assert one(b"x" * 200, SMALL) == ParseError(None, "Line too long", fatal=True)


@pytest.mark.parametrize(
    "data",
    [b"a1 NO\x00OP\r\n", b"a1 LOGIN \x00 {1}\r\nx\r\n", b"a1 LOGIN {1}\r\nx \x00\r\n"],
)
def test_nul_octets_are_refused(data: bytes) -> None:
    events, sent = feed(data + b"a2 NOOP\r\n")
    assert events[0] == ParseError("a1", "NUL octet in command")
    assert events[-1] == c.Noop("a2")


def test_eof() -> None:
    events, _, conn = feed_chunks([b"a1 NOOP\r\na2 LOG"], eof=True)
    assert events == [c.Noop("a1")]
    assert conn.eof
    assert isinstance(conn.next_event(), NeedData)
    with pytest.raises(RuntimeError):
        conn.receive_data(b"more")


def test_not_eof_before_close() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 NOOP\r\n")
    assert not conn.eof
    conn.receive_data(b"")
    assert conn.eof
    assert conn.next_event() == c.Noop("a1")


# --- APPEND ----------------------------------------------------------------------------


def test_append_streams_chunks() -> None:
    conn = ServerConnection()
    conn.receive_data(b'A1 APPEND saved (\\Seen) "05-Mar-2024 10:11:12 -0130" {10}\r\n')
    start = conn.next_event()
    assert start == c.AppendStart(
        "A1", "saved", ("\\Seen",),
        datetime(2024, 3, 5, 10, 11, 12, tzinfo=timezone(-timedelta(hours=1, minutes=30))),
        10,
    )
    assert conn.data_to_send() == PLUS
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"hell")
    assert conn.next_event() == AppendData(b"hell")
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"o worl")
    assert conn.next_event() == AppendData(b"o worl")
    conn.receive_data(b"\r\nA2 NOOP\r\n")
    assert conn.next_event() == AppendEnd("A1")
    assert conn.next_event() == c.Noop("A2")


def test_append_whole_and_bytewise() -> None:
    events, sent = feed(b"a1 append INBOX {5+}\r\nhello\r\n")
    assert events == [c.AppendStart("a1", "INBOX", (), None, 5), AppendData(b"hello"),
                      AppendEnd("a1")]
    assert sent == b""


def test_append_mailbox_literal_is_not_the_message() -> None:
    events, sent = feed(b"a1 APPEND {5}\r\ninbox {3}\r\nabc\r\n")
    assert events == [c.AppendStart("a1", "INBOX", (), None, 3), AppendData(b"abc"),
                      AppendEnd("a1")]
    assert sent == PLUS * 2


def test_append_empty_message() -> None:
    events, sent = feed(b"a1 APPEND x {0}\r\n\r\n")
    assert events == [c.AppendStart("a1", "x", (), None, 0), AppendEnd("a1")]
    assert sent == PLUS


def test_append_chunks_never_exceed_what_arrived() -> None:
    size = 1024 * 1024
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND INBOX {%d+}\r\n" % size)
    assert isinstance(conn.next_event(), c.AppendStart)
    total = 0
    for _ in range(size // 4096):
        conn.receive_data(b"m" * 4096)
        events = drain(conn)
        assert events == [AppendData(b"m" * 4096)]
        total += 4096
        assert conn.buffered_size == 0
    conn.receive_data(b"\r\n")
    assert drain(conn) == [AppendEnd("a1")]
    assert total == size


def test_append_trailing_garbage_aborts() -> None:
    events = events_of(b"a1 APPEND x {2}\r\nab extra\r\na2 NOOP\r\n")
    assert events[-2:] == [AppendAbort("a1", "Unexpected data after APPEND message"),
                           c.Noop("a2")]


def test_append_trailing_non_sync_literal_is_discarded() -> None:
    events = events_of(b"a1 APPEND x {2}\r\nab x {5+}\r\nA2 NO\r\na2 NOOP\r\n")
    assert events[-2:] == [AppendAbort("a1", "Unexpected data after APPEND message"),
                           c.Noop("a2")]


def test_append_too_large_sync() -> None:
    events, sent = feed(b"a1 APPEND x {1001}\r\na2 NOOP\r\n", SMALL)
    assert events == [TOOBIG, c.Noop("a2")]
    assert sent == b""


def test_append_too_large_non_sync_is_discarded() -> None:
    data = b"a1 APPEND x {1001+}\r\n" + b"a9 NOOP\r\n" * 111 + b"zz\r\na2 NOOP\r\n"
    events, sent = feed(data, SMALL)
    assert events == [TOOBIG, c.Noop("a2")]


def test_append_message_uses_append_limit_not_literal_limit() -> None:
    events, _ = feed(b"a1 APPEND x {999}\r\n" + b"q" * 999 + b"\r\n", SMALL)
    assert events[0] == c.AppendStart("a1", "x", (), None, 999)
    assert events[-1] == AppendEnd("a1")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"a1 APPEND x (\\Recent) {3}\r\n", "\\Recent cannot be set by the client"),
        (b"a1 APPEND x (\\Seen {3}\r\n", "Missing flag"),
        (b'a1 APPEND x "31-Feb-2024 00:00:00 +0000" {3}\r\n', "Invalid date"),
        (b'a1 APPEND x "1-Feb-2024 00:00:00" {3}\r\n', "Invalid date-time"),
        (b"a1 APPEND x () y {3}\r\n", "Invalid APPEND arguments"),
    ],
)
def test_append_bad_head_is_refused_before_the_literal(data: bytes, text: str) -> None:
    events, sent = feed(data + b"a2 NOOP\r\n")
    assert events == [ParseError("a1", text), c.Noop("a2")]
    assert sent == b""


def test_append_to_an_invalid_name_is_no_before_the_literal() -> None:
    events, sent = feed(b"a1 APPEND &Jjo {3}\r\na2 NOOP\r\n")
    text = "Invalid mailbox name: unterminated or invalid modified BASE64 in mailbox name"
    assert events == [ParseError("a1", text, code="CANNOT", status="NO"), c.Noop("a2")]
    assert sent == b""


def test_append_without_literal() -> None:
    assert one(b"a1 APPEND x\r\n") == ParseError("a1", "Missing message literal")
    assert one(b"a1 APPEND x (\\Seen) y\r\n") == ParseError("a1", "Invalid APPEND arguments")
    assert one(b"a1 APPEND\r\n") == ParseError("a1", "Missing mailbox name")


def test_reject_append_withdraws_continuation() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND nosuch {5}\r\n")
    assert isinstance(conn.next_event(), c.AppendStart)
    conn.reject_append()
    assert conn.data_to_send() == b""
    conn.receive_data(b"a2 NOOP\r\n")
    assert drain(conn) == [c.Noop("a2")]


def test_reject_append_after_continuation_discards() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND nosuch {5}\r\n")
    assert isinstance(conn.next_event(), c.AppendStart)
    assert conn.data_to_send() == PLUS
    conn.reject_append()
    conn.receive_data(b"a9 NO\r\na2 NOOP\r\n")
    assert drain(conn) == [c.Noop("a2")]
    with pytest.raises(RuntimeError):
        conn.reject_append()


# --- raw lines, STARTTLS ---------------------------------------------------------------


def _run_session(chunks: list[bytes], react: Callable[[ServerConnection, Event], None]
                 ) -> list[Event]:
    conn = ServerConnection(SMALL)
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        while not isinstance(event := conn.next_event(), NeedData):
            events.append(event)
            react(conn, event)
    return events


def _raw_after_idle_or_auth(conn: ServerConnection, event: Event) -> None:
    if isinstance(event, c.Idle | c.Authenticate):
        conn.expect_raw_line()


@pytest.mark.parametrize("bytewise", [False, True])
def test_raw_lines_after_idle_and_authenticate(bytewise: bool) -> None:
    data = b"a1 IDLE\r\nDONE\r\na2 AUTHENTICATE PLAIN\r\nAGZvbwBiYXI= {5}\r\na3 NOOP\r\n"
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    events = _run_session(chunks, _raw_after_idle_or_auth)
    assert events == [c.Idle("a1"), RawLine(b"DONE"), c.Authenticate("a2", "PLAIN"),
                      RawLine(b"AGZvbwBiYXI= {5}"), c.Noop("a3")]


def test_raw_line_too_long_is_fatal() -> None:
    events = _run_session([b"a1 IDLE\r\n" + b"x" * 70], _raw_after_idle_or_auth)
    assert events == [c.Idle("a1"), ParseError(None, "Line too long", fatal=True)]


def test_expect_raw_line_mid_command_is_an_error() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 LOGIN {3}\r\n")
    conn.next_event()
    with pytest.raises(RuntimeError):
        conn.expect_raw_line()


def test_discard_buffered_after_starttls() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 STARTTLS\r\na2 LOGIN evil pass\r\na3 NO")
    assert conn.next_event() == c.StartTLS("a1")
    assert conn.discard_buffered() == b"a2 LOGIN evil pass\r\na3 NO"
    assert isinstance(conn.next_event(), NeedData)
    conn.receive_data(b"b1 NOOP\r\n")
    assert conn.next_event() == c.Noop("b1")
