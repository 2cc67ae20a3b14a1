"""MULTIAPPEND (RFC 3502) and APPEND's literal8 (RFC 3516 section 4.4) in the sans-IO
connection: each further message is announced by AppendNext, streamed like the first,
with the same limits and the same ``+`` handling."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from protocol.protocol_feed import events_of, feed, feed_chunks
from pyimapd.protocol import commands as c
from pyimapd.protocol.connection import CONTINUE_LITERAL
from pyimapd.protocol.events import AppendAbort, AppendData, AppendEnd, AppendNext, ParseError
from pyimapd.protocol.limits import Limits

SMALL = Limits(max_append=100, max_literals=3)
PST = timezone(-timedelta(hours=8))


TOOBIG = ParseError("a1", "Message too large", code="TOOBIG", status="NO")

def test_rfc3502_example_streams_both_messages() -> None:
    data = (b'A003 APPEND saved-messages (\\Seen) {5}\r\nfirst'
            b' (\\Seen) "7-Feb-1994 22:43:04 -0800" {6}\r\nsecond\r\nA004 NOOP\r\n')
    events, sent = feed(data)
    assert events == [
        c.AppendStart("A003", "saved-messages", ("\\Seen",), None, 5),
        AppendData(b"first"),
        AppendNext("A003", ("\\Seen",), datetime(1994, 2, 7, 22, 43, 4, tzinfo=PST), 6),
        AppendData(b"second"),
        AppendEnd("A003"),
        c.Noop("A004"),
    ]
    assert sent == CONTINUE_LITERAL * 2


def test_non_sync_messages_and_bare_literals() -> None:
    events, sent = feed(b"a1 APPEND x {1+}\r\na {2+}\r\nbc ~{1+}\r\nd\r\n")
    assert events == [
        c.AppendStart("a1", "x", (), None, 1), AppendData(b"a"),
        AppendNext("a1", (), None, 2), AppendData(b"bc"),
        AppendNext("a1", (), None, 1, binary=True), AppendData(b"d"),
        AppendEnd("a1"),
    ]
    assert sent == b""


def test_literal8_message_may_hold_nul() -> None:
    events, _ = feed(b"a1 APPEND x ~{3}\r\na\x00b\r\n")
    assert events == [c.AppendStart("a1", "x", (), None, 3, binary=True),
                      AppendData(b"a\x00b"), AppendEnd("a1")]
    events, sent = feed(b"a2 SELECT ~{5}\r\na3 NOOP\r\n")  # no "+": no literal
    assert events == [
        ParseError("a2", "literal8 is only allowed for an APPEND message or TEXT part"),
        c.Noop("a3")]
    assert sent == b""


def test_second_message_too_large_is_refused_without_plus() -> None:
    events, sent, conn = feed_chunks([b"a1 APPEND x {1}\r\n", b"a {101}\r\n", b"a2 NOOP\r\n"],
                                     SMALL)
    assert events == [c.AppendStart("a1", "x", (), None, 1), AppendData(b"a"),
                      TOOBIG, c.Noop("a2")]
    assert sent == CONTINUE_LITERAL  # only the first message's


def test_second_message_too_large_non_sync_is_discarded() -> None:
    data = b"a1 APPEND x {1+}\r\na {101+}\r\n" + b"a9 NOOP\r\n" * 11 + b"zz\r\na2 NOOP\r\n"
    events, _ = feed(data, SMALL)
    assert events[-2:] == [TOOBIG, c.Noop("a2")]


def test_message_count_is_bounded() -> None:
    events = events_of(b"a1 APPEND x {1+}\r\na {1+}\r\nb {1+}\r\nc {1+}\r\nd\r\na2 NOOP\r\n",
                       SMALL)
    assert ParseError("a1", "Too many messages in one APPEND") in events
    assert events[-1] == c.Noop("a2")
    assert sum(isinstance(e, AppendNext) for e in events) == 2


def test_bad_next_head_aborts() -> None:
    for tail in (b' (\\Recent) {1}', b' "bad date" {1}', b" x {1}", b"{1}"):
        events = events_of(b"a1 APPEND x {1+}\r\na" + tail + b"\r\na2 NOOP\r\n")
        assert events[-2:] == [AppendAbort("a1", "Unexpected data after APPEND message"),
                               c.Noop("a2")], tail


def test_reject_next_message_withdraws_its_plus() -> None:
    _, _, conn = feed_chunks([b"a1 APPEND x {1}\r\n"])
    conn.receive_data(b"a {3}\r\n")
    assert conn.next_event() == AppendData(b"a")
    assert conn.next_event() == AppendNext("a1", (), None, 3)
    conn.reject_append()
    assert conn.data_to_send() == b""
    conn.receive_data(b"a2 NOOP\r\n")
    assert conn.next_event() == c.Noop("a2")
