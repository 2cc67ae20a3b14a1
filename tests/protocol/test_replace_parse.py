"""REPLACE and UID REPLACE (RFC 8508 section 6) in the sans-IO connection: streamed like
APPEND, with the message number or UID carried on ReplaceStart, one message only."""

from __future__ import annotations

from protocol.protocol_feed import feed
from pyimapd.protocol import commands as c
from pyimapd.protocol.connection import CONTINUE_LITERAL
from pyimapd.protocol.events import AppendData, AppendEnd, ParseError


def test_replace_streams_its_message() -> None:
    events, sent = feed(b"A003 REPLACE 4 Drafts (\\Seen \\Draft) {5}\r\nhello\r\nA004 NOOP\r\n")
    assert events == [
        c.ReplaceStart("A003", "Drafts", ("\\Seen", "\\Draft"), None, 5, uid=False, number=4),
        AppendData(b"hello"), AppendEnd("A003"), c.Noop("A004")]
    assert sent == CONTINUE_LITERAL


def test_uid_replace_star_and_lower_case() -> None:
    events, _ = feed(b"a uid replace 2000 INBOX {1+}\r\nx\r\nb replace * Drafts {1+}\r\ny\r\n")
    assert events[0] == c.ReplaceStart("a", "INBOX", (), None, 1, uid=True, number=2000)
    assert events[3] == c.ReplaceStart("b", "Drafts", (), None, 1, uid=False, number=None)


def test_replace_is_one_message() -> None:
    events, sent = feed(b"a REPLACE 1 Drafts {1+}\r\nx {1}\r\nb NOOP\r\n")
    assert ParseError("a", "REPLACE takes exactly one message") in events, events
    assert events[-1] == c.Noop("b")
    assert sent == b""  # the second literal's "+" is never sent


def test_bad_replace_arguments() -> None:
    for line in (b"a REPLACE 0 Drafts {1+}\r\nx\r\n", b"a UID REPLACE * Drafts {1+}\r\nx\r\n",
                 b"a REPLACE x Drafts {1+}\r\nx\r\n", b"a REPLACE 1 Drafts\r\n",
                 b"a REPLACE 1\r\n", b"a REPLACE\r\n"):
        events, _ = feed(line + b"b NOOP\r\n")
        assert isinstance(events[0], ParseError) and events[0].tag == "a", (line, events)
        assert events[-1] == c.Noop("b"), (line, events)
