"""Feeding helpers shared by the protocol tests.

Every input is fed whole and then one byte at a time; both must give the same events
(consecutive AppendData chunks are joined, since their split depends on the feeding).
"""

from __future__ import annotations

from pyimapd.protocol.connection import Event, ServerConnection
from pyimapd.protocol.events import AppendData, NeedData
from pyimapd.protocol.limits import Limits


def drain(conn: ServerConnection) -> list[Event]:
    """All events available now."""
    events: list[Event] = []
    while True:
        event = conn.next_event()
        if isinstance(event, NeedData):
            return events
        events.append(event)


def merge_chunks(events: list[Event]) -> list[Event]:
    merged: list[Event] = []
    for event in events:
        if isinstance(event, AppendData) and merged and isinstance(merged[-1], AppendData):
            merged[-1] = AppendData(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged


def feed_chunks(
    chunks: list[bytes], limits: Limits | None = None, eof: bool = False
) -> tuple[list[Event], bytes, ServerConnection]:
    conn = ServerConnection(limits) if limits is not None else ServerConnection()
    events: list[Event] = []
    sent = b""
    for chunk in chunks:
        conn.receive_data(chunk)
        events.extend(drain(conn))
        sent += conn.data_to_send()
    if eof:
        conn.receive_data(b"")
        events.extend(drain(conn))
    return merge_chunks(events), sent, conn


def feed(data: bytes, limits: Limits | None = None) -> tuple[list[Event], bytes]:
    """Feed ``data`` whole, then byte by byte; assert both agree; return events and the
    continuation requests queued."""
    whole, sent_whole, _ = feed_chunks([data], limits)
    single, sent_single, _ = feed_chunks([data[i : i + 1] for i in range(len(data))], limits)
    assert whole == single
    assert sent_whole == sent_single
    return whole, sent_whole


def events_of(data: bytes, limits: Limits | None = None) -> list[Event]:
    return feed(data, limits)[0]


def one(data: bytes, limits: Limits | None = None) -> Event:
    """The single event ``data`` produces."""
    events = events_of(data, limits)
    assert len(events) == 1, events
    return events[0]
