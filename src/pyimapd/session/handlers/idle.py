"""IDLE (RFC 2177): the server pushes mailbox changes until the client says DONE."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pyimapd.protocol import commands as c
from pyimapd.protocol.events import RawLine
from pyimapd.protocol.responses import continuation
from pyimapd.session.state import Result, bad, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def idle(session: Session, command: c.Idle) -> Result:
    session.write(continuation("idling"))
    session.conn.expect_raw_line()
    reader: asyncio.Future[Any] = asyncio.ensure_future(session.next_event())
    waiter: asyncio.Future[bool] | None = None
    try:
        while True:
            await _push_updates(session)
            await session.io.drain()
            pending: set[asyncio.Future[Any]] = {reader}
            if session.view is not None:
                waiter = asyncio.ensure_future(session.view.subscription.wait(None))
                pending.add(waiter)
            timeout = session.ctx.config.timeouts.autologout
            done, _ = await asyncio.wait(pending, timeout=timeout, return_when="FIRST_COMPLETED")
            if not done:
                raise TimeoutError()
            if reader in done:
                event = reader.result()
                if isinstance(event, RawLine) and event.line.strip().upper() == b"DONE":
                    return ok("IDLE terminated")
                return bad("Expected DONE to end IDLE")
            if session.view is not None:
                session.view.mark_dirty()
    finally:
        for task in (reader, waiter):
            if task is not None and not task.done():
                task.cancel()


async def _push_updates(session: Session) -> None:
    await session.flush_updates(allow_expunge=True)
