"""The wire form of FETCH responses (RFC 3501 7.4.2 ``msg-att``, RFC 3516 literal8)."""

from __future__ import annotations

from pyimapd.protocol import fetch_response as wire
from pyimapd.protocol.responses import Atom


def test_a_whole_response() -> None:
    assert wire.line(7, [b"UID 12", b"FLAGS (\\Seen)"]) == b"* 7 FETCH (UID 12 FLAGS (\\Seen))\r\n"
    assert wire.begin(3) + b"UID 1" + wire.SEP + b"RFC822.SIZE 9" + wire.END == (
        b"* 3 FETCH (UID 1 RFC822.SIZE 9)\r\n")


def test_the_flag_resync_format_matches_line() -> None:
    fmt = wire.line_format([b"UID %d", b"%s", b"MODSEQ (%d)"])
    assert fmt % (4, 9, b"FLAGS ()", 20) == wire.line(4, [b"UID 9", b"FLAGS ()", b"MODSEQ (20)"])


def test_literals() -> None:
    assert wire.literal(b"hello") == b"{5}\r\nhello"
    assert wire.literal(b"") == b"\"\""  # an empty value is a quoted string (issue 16)
    assert wire.literal(b"a\x00b", binary=True) == b"~{3}\r\na\x00b"
    assert wire.literal_prefix(1 << 20) == b"{1048576}\r\n"


def test_uidfetch_numbering() -> None:
    """RFC 9586 section 3.3: ``uidfetch-resp = uniqueid SP "UIDFETCH" SP msg-att``."""
    assert wire.BY_UID.number(3, 17) == 17 and wire.BY_MSN.number(3, 17) == 3
    assert wire.line(17, [b"FLAGS ()"], wire.BY_UID) == b"* 17 UIDFETCH (FLAGS ())\r\n"
    assert wire.begin(17, wire.BY_UID) == b"* 17 UIDFETCH ("
    fmt = wire.line_format([b"%s"], wire.BY_UID)
    assert fmt % (17, b"FLAGS ()") == wire.line(17, [b"FLAGS ()"], wire.BY_UID)
    flags = [Atom("FLAGS"), [Atom("\\Seen")]]
    assert wire.values_line(4, flags) == b"* 4 FETCH (FLAGS (\\Seen))\r\n"
