"""COMPRESS (RFC 4978 section 3): after the tagged OK both directions are raw DEFLATE.

The client must not send anything between COMPRESS and its result, so octets already
read behind the command are dropped, as for STARTTLS; the channel is wrapped once the
OK has been flushed (the OK itself goes out uncompressed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.compress import DeflateChannel
from pyimapd.session.state import Result, bad, no, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def compress(session: Session, command: c.Compress) -> Result:
    if command.algorithm != "DEFLATE":
        return bad(f"Unknown compression algorithm {command.algorithm}")
    if isinstance(session.io, DeflateChannel):
        return no("DEFLATE active via COMPRESS", ResponseCode("COMPRESSIONACTIVE"))
    dropped = session.conn.discard_buffered()
    if dropped:
        session.log.info("dropped %d octets sent before the result of COMPRESS", len(dropped))

    async def start() -> None:
        session.io = DeflateChannel(session.io)

    session.after_response = start
    return ok("DEFLATE active")
