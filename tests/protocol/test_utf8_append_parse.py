"""RFC 6855 section 4's ``utf8-literal`` in the APPEND parser: ``UTF8 (~{n})`` as a
message (with MULTIAPPEND) and as a CATENATE part, and its errors."""

from __future__ import annotations

from protocol.protocol_feed import feed
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    AppendNext,
    CatenateText,
    CatenateUrl,
    ParseError,
)

MSG = "Subject: café\r\n\r\nhi\r\n".encode()


def test_utf8_message_and_multiappend() -> None:
    n = len(MSG)
    data = (b"a APPEND INBOX (\\Seen) UTF8 (~{%d+}\r\n" % n + MSG + b") UTF8 (~{%d+}\r\n" % n
            + MSG + b")\r\nb NOOP\r\n")
    events, _ = feed(data)
    assert events == [
        c.AppendStart("a", "INBOX", ("\\Seen",), None, n, binary=True), AppendData(MSG),
        AppendNext("a", (), None, n, binary=True), AppendData(MSG), AppendEnd("a"),
        c.Noop("b"),
    ]


def test_utf8_catenate_part() -> None:
    head = b'a APPEND INBOX CATENATE (URL "/INBOX/;UID=1" UTF8 (~{%d+}\r\n' % len(MSG)
    data = head + MSG + b") TEXT {2+}\r\n--)\r\n"
    events, _ = feed(data)
    assert events[1:] == [
        CatenateUrl("a", "/INBOX/;UID=1"), CatenateText("a", len(MSG), True), AppendData(MSG),
        CatenateText("a", 2), AppendData(b"--"), AppendEnd("a"),
    ]


def test_errors() -> None:
    events, _ = feed(b"a APPEND INBOX UTF8 {3+}\r\nabc\r\nb NOOP\r\n")
    assert isinstance(events[0], ParseError) and events[-1] == c.Noop("b")
    events, _ = feed(b"a APPEND INBOX UTF8 (~{3+}\r\nabc\r\nb NOOP\r\n")
    assert isinstance(events[-2], AppendAbort) and "UTF8" in events[-2].text, events
    assert events[-1] == c.Noop("b")
    events, _ = feed(b'a APPEND INBOX UTF8 ("x")\r\nb NOOP\r\n')
    assert isinstance(events[0], ParseError) and events[-1] == c.Noop("b")
