"""APPEND (RFC 3501 section 6.3.11), streamed from the wire to the store.

The parser announces the message literal with ``AppendStart`` before any of its bytes
are read. The handler checks the size and the target mailbox first and only then lets
the client send the message (``reject_append`` withdraws the queued ``+`` otherwise), so a
refused APPEND costs no bandwidth and no memory. The bytes are spooled (CRLF-normalised
and parsed once, see :mod:`pyimapd.delivery`) and stored in one durable step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyimapd.delivery import Spool
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import AppendAbort, AppendData, AppendEnd
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.state import Result, bad, no, ok
from pyimapd.storage.interface import NoSuchMailbox

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def refuse_append(session: Session, command: c.Command) -> None:
    """An APPEND that will not run must not receive its literal."""
    if isinstance(command, c.AppendStart):
        session.conn.reject_append()


async def append(session: Session, command: c.AppendStart) -> Result:
    store = session.require_store()
    limit = session.ctx.config.limits.max_append
    if command.size > limit:
        session.conn.reject_append()
        return no(f"Message larger than the limit of {limit} octets", ResponseCode("TOOBIG"))
    try:
        await store.status(command.mailbox)
    except NoSuchMailbox as exc:
        session.conn.reject_append()
        return no(exc.text, ResponseCode("TRYCREATE"))
    except BaseException:
        session.conn.reject_append()
        raise
    spool = Spool(session.ctx.config.data_dir / "tmp")
    try:
        while True:
            event = await session.next_event()
            if isinstance(event, AppendData):
                spool.feed(event.data)
            elif isinstance(event, AppendEnd):
                break
            elif isinstance(event, AppendAbort):
                return bad(event.text)
            else:
                return bad("APPEND interrupted")
        prepared = await spool.finish()
        when = command.date_time or datetime.now(UTC).astimezone()
        result = await store.append(command.mailbox, prepared, frozenset(command.flags), when)
    finally:
        spool.close()
    if session.view is not None and session.view.name == command.mailbox:
        session.view.mark_dirty()
    code = ResponseCode("APPENDUID", f"{result.uidvalidity} {result.uid}")
    return ok("APPEND completed", code)
