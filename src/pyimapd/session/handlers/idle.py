"""IDLE (RFC 2177): the server pushes mailbox changes until the client says DONE.

How this works: one task reads the client's next line for the whole IDLE (it ends the
IDLE: ``DONE``, anything else is BAD, EOF or the autologout timeout of its read ends the
connection). Each round then waits on a single future that either a change of the
mailbox (the subscription's ``watch``) or that reader resolves, and pushes the untagged
responses the change produced. A new message wakes every idler of the mailbox at once,
so a round costs no task, no timer and no ``asyncio.wait``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pyimapd.protocol import commands as c
from pyimapd.protocol.events import RawLine
from pyimapd.protocol.responses import continuation
from pyimapd.session.state import Result, bad, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session
    from pyimapd.session.view import SelectedView


async def idle(session: Session, command: c.Idle) -> Result:
    session.write(continuation("idling"))
    session.conn.expect_raw_line()
    loop = asyncio.get_running_loop()
    reader: asyncio.Future[Any] = asyncio.ensure_future(session.next_event())
    wake: list[asyncio.Future[None]] = []  # the current round's future, for the reader
    reader.add_done_callback(lambda _: _resolve(wake))
    fallback: asyncio.Future[bool] | None = None
    try:
        while True:
            await session.flush_updates(allow_expunge=True)
            await session.io.drain()
            if reader.done():
                break
            wake[:] = [loop.create_future()]
            if session.view is not None:
                fallback = _watch(session.view, wake[0], fallback)
            await wake[0]
            if reader.done():  # what arrives meanwhile goes out before the tagged OK
                break
    finally:
        if not reader.done():
            reader.cancel()
        if fallback is not None and not fallback.done():
            fallback.cancel()
        if session.view is not None and wake:
            _unwatch(session.view, wake[0])
    event = reader.result()  # the reader's TimeoutError or ConnectionClosed ends the session
    if isinstance(event, RawLine) and event.line.strip().upper() == b"DONE":
        return ok("IDLE terminated")
    return bad("Expected DONE to end IDLE")


def _resolve(wake: list[asyncio.Future[None]]) -> None:
    if wake and not wake[0].done():
        wake[0].set_result(None)


def _watch(
    view: SelectedView, future: asyncio.Future[None], fallback: asyncio.Future[bool] | None
) -> asyncio.Future[bool] | None:
    """Has ``future`` resolved at the mailbox's next change. A subscription without
    ``watch`` (the Subscription protocol needs only ``wait``) gets a task per round,
    whose wait consumes the signal, so the view is marked to poll the store anyway."""
    watch = getattr(view.subscription, "watch", None)
    if watch is not None:
        watch(future)
        return None
    if fallback is not None and not fallback.done():
        fallback.cancel()
    fallback = asyncio.ensure_future(view.subscription.wait(None))

    def changed(task: asyncio.Future[bool]) -> None:
        if not task.cancelled() and task.exception() is None and task.result():
            view.mark_dirty()
        if not future.done():
            future.set_result(None)

    fallback.add_done_callback(changed)
    return fallback


def _unwatch(view: SelectedView, future: asyncio.Future[None]) -> None:
    unwatch = getattr(view.subscription, "unwatch", None)
    if unwatch is not None:
        unwatch(future)
