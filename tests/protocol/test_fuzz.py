"""Property tests: arbitrary bytes, split anywhere, give only protocol events."""

from __future__ import annotations

import ast as pyast
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyimapd.protocol import commands as c
from pyimapd.protocol.connection import Event, ServerConnection
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    NeedData,
    ParseError,
    RawLine,
)
from pyimapd.protocol.limits import Limits

TINY = Limits(max_line=40, max_literal=10, max_append=30, max_literals=3, max_raw_line=20,
              max_command=60)
EVENT_TYPES = (c.Command, AppendData, AppendEnd, AppendAbort, RawLine, ParseError)

FRAGMENTS = [
    b"a1 ", b"A2 ", b"* ", b"+ ", b" ", b"\r\n", b"\n", b"\r", b"\x00", b"{3}\r\n",
    b"{0}\r\n", b"{2+}\r\n", b"{99}\r\n", b"{99+}\r\n", b"{12345678901234567890}\r\n",
    b"APPEND ", b"inbox ", b"(\\Seen) ", b'"1-Jan-2020 00:00:00 +0000" ', b"LOGIN ",
    b"FETCH ", b"1:* ", b"BODY.PEEK[HEADER.FIELDS (TO)]<0.5>", b"(", b")", b'"', b"\\",
    b"SEARCH ", b"OR ", b"NOT ", b"SINCE 1-Feb-2020", b"UID ", b"STORE ", b"+FLAGS ",
    b"IDLE", b"DONE", b"AUTHENTICATE PLAIN", b" =", b"STATUS ", b"x", b"&Jjo-", b"\xff",
    b"LIST ", b'"" ', b"%", b"NOOP", b"$", b"0", b"4294967296",
]

imapish = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join)
anything = st.one_of(st.binary(max_size=300), imapish)


def _react(conn: ServerConnection, event: Event) -> None:
    """A session's minimal reactions, deterministic in the event."""
    if isinstance(event, c.Idle | c.Authenticate):
        conn.expect_raw_line()
    if isinstance(event, c.AppendStart) and event.size % 2:
        conn.reject_append()


def _run(chunks: list[bytes], limits: Limits) -> tuple[list[Event], bytes]:
    conn = ServerConnection(limits)
    events: list[Event] = []
    sent = b""
    bound = max(limits.max_line, limits.max_raw_line) + 1
    for chunk in [ch for ch in chunks if ch] + [b""]:
        conn.receive_data(chunk)
        while not isinstance(event := conn.next_event(), NeedData):
            assert isinstance(event, EVENT_TYPES), event
            _react(conn, event)
            if isinstance(event, AppendData) and events and isinstance(events[-1], AppendData):
                events[-1] = AppendData(events[-1].data + event.data)
            else:
                events.append(event)
        sent += conn.data_to_send()
        assert conn.buffered_size <= bound
    assert conn.eof
    return events, sent


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return [p for p in pieces if p]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(anything, st.lists(st.integers(min_value=0, max_value=300), max_size=20),
       st.sampled_from([TINY, Limits()]))
def test_random_bytes_split_anywhere(data: bytes, cuts: list[int], limits: Limits) -> None:
    whole = _run([data], limits)
    split = _run(_split(data, cuts), limits)
    assert whole == split


@settings(max_examples=100)
@given(anything)
def test_byte_by_byte_equals_whole(data: bytes) -> None:
    assert _run([data], TINY) == _run([data[i : i + 1] for i in range(len(data))], TINY)


def test_protocol_package_does_no_io() -> None:
    """ARCHITECTURE.md: protocol/ never imports asyncio, socket, ssl or selectors."""
    forbidden = {"asyncio", "socket", "ssl", "selectors"}
    package = Path(c.__file__).parent
    for path in package.glob("*.py"):
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            names: list[str] = []
            if isinstance(node, pyast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, pyast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
