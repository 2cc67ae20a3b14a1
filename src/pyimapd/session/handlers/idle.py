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
from pyimapd.session.state import Result, bad, ok
from pyimapd.storage.interface import Subscription

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def idle(session: Session, command: c.Idle) -> Result:
    session.ask_for_line("idling")
    loop = asyncio.get_running_loop()
    reader: asyncio.Future[Any] = asyncio.ensure_future(session.next_event())
    wake: list[asyncio.Future[None]] = []  # the current round's future, for the reader
    reader.add_done_callback(lambda _: _resolve(wake))
    watched: list[Subscription] = []
    try:
        while True:
            notifier = session.notifier
            if notifier is None:
                await session.flush_updates(allow_expunge=True)
            else:
                await notifier.push(idle=True)  # RFC 5465 section 4: what NOTIFY asked
            await session.io.drain()
            if reader.done():
                break
            wake[:] = [loop.create_future()]
            notifier = session.notifier
            if notifier is not None:
                watched = notifier.watch(wake[0])
            elif session.view is not None:
                watched = [session.view.subscription]
                watched[0].watch(wake[0])
            await wake[0]
            for sub in watched:
                sub.unwatch(wake[0])
            watched = []
            if reader.done():  # what arrives meanwhile goes out before the tagged OK
                break
    finally:
        if not reader.done():
            reader.cancel()
        for sub in watched:
            sub.unwatch(wake[0])
    event = reader.result()  # the reader's TimeoutError or ConnectionClosed ends the session
    if isinstance(event, RawLine) and event.line.strip().upper() == b"DONE":
        return ok("IDLE terminated")
    return bad("Expected DONE to end IDLE")


def _resolve(wake: list[asyncio.Future[None]]) -> None:
    if wake and not wake[0].done():
        wake[0].set_result(None)
