"""The only module that touches sockets: asyncio listeners and one task per connection.

Each connection gets a :class:`StreamChannel` (the session's view of the socket) and a
:class:`~pyimapd.session.session.Session` that runs until the client logs out or goes
away. Shutdown closes the listeners first, then tells every session BYE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pyimapd.protocol.responses import untagged_status
from pyimapd.session.session import ServerContext, Session

log = logging.getLogger("pyimapd.transport")

READ_CHUNK = 64 * 1024
WRITE_HIGH_WATER = 256 * 1024


class StreamChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.secure = writer.get_extra_info("sslcontext") is not None
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    async def read(self) -> bytes:
        return await self._reader.read(READ_CHUNK)

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        if not self._writer.is_closing():
            await self._writer.drain()

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Listener:
    def __init__(self, ctx: ServerContext, addresses: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.addresses = [parse_address(a) for a in addresses]
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for host, port in self.addresses:
            server = await asyncio.start_server(
                self._connected, host, port, reuse_address=True, limit=READ_CHUNK
            )
            self._servers.append(server)
            for sock in server.sockets:
                log.info("listening for IMAP on %s", sock.getsockname()[:2])

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel = StreamChannel(reader, writer)
        session = Session(self.ctx, channel)
        self.ctx.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        log.debug("connection from %s (session %s)", channel.peer, session.id)
        try:
            await session.run()
        except Exception:
            log.exception("session %s crashed", session.id)
        finally:
            self.ctx.sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)
            log.debug("connection from %s closed", channel.peer)

    async def stop(self, grace: float = 5.0) -> None:
        for server in self._servers:
            server.close()
        for session in list(self.ctx.sessions):
            session.io.write(untagged_status("BYE", "Server shutting down"))
            await session.io.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=grace)
