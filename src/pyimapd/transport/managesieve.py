"""The ManageSieve listener (RFC 5804): sockets and connection tasks for
:class:`~pyimapd.managesieve.session.SieveSession`, which knows nothing of sockets.

It shares the IMAP listener's pieces: :class:`~pyimapd.transport.server.StreamChannel`
(so STARTTLS behaves the same and uses the same certificate) and a
:class:`~pyimapd.transport.server.ConnectionLimiter` with the same limits, counted for
ManageSieve on its own. Every worker process binds the addresses with ``SO_REUSEPORT``,
as for IMAP. Shutdown stops accepting and says BYE to every connection.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from pyimapd.managesieve.protocol import response
from pyimapd.managesieve.session import SieveServices, SieveSession
from pyimapd.transport.server import (
    LISTEN_BACKLOG,
    READ_CHUNK,
    ConnectionLimiter,
    StreamChannel,
    parse_address,
    refuse,
)
from pyimapd.transport.tls import TlsContexts

log = logging.getLogger("pyimapd.managesieve")


class ManageSieveListener:
    def __init__(self, services: SieveServices, addresses: tuple[str, ...],
                 tls: TlsContexts | None) -> None:
        self.services = services
        self.addresses = [parse_address(a) for a in addresses]
        self.tls = tls
        self.limiter = ConnectionLimiter(services.config.connections)
        self._servers: list[asyncio.Server] = []
        self._channels: dict[asyncio.Task[None], StreamChannel] = {}

    async def start(self) -> None:
        for host, port in self.addresses:
            server = await asyncio.start_server(
                self._connected, host, port, reuse_address=True, reuse_port=True,
                limit=READ_CHUNK, backlog=LISTEN_BACKLOG)
            self._servers.append(server)
            for sock in server.sockets:
                log.info("listening for ManageSieve on %s", sock.getsockname()[:2])

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for channel in self._channels.values():
            channel.write(response("BYE", "Server shutting down"))
        if self._channels:
            await asyncio.gather(*(c.close() for c in self._channels.values()),
                                 return_exceptions=True)
            await asyncio.wait(list(self._channels), timeout=2.0)

    async def _connected(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        config = self.services.config
        channel = StreamChannel(reader, writer, self.tls, config.tls.handshake_timeout)
        refusal = self.limiter.admit(channel.peer_host)
        if refusal is not None:
            log.warning("refusing ManageSieve connection from %s: %s", channel.peer, refusal)
            await refuse(channel, response("BYE", refusal))
            return
        task = asyncio.current_task()
        if task is not None:
            self._channels[task] = channel
        extra = {"session": secrets.token_hex(4), "peer": channel.peer,
                 "protocol": "managesieve"}
        session = SieveSession(self.services, channel, logging.LoggerAdapter(log, extra))
        try:
            await session.run()
        except Exception:
            log.exception("ManageSieve session crashed", extra=extra)
        finally:
            self.limiter.release(channel.peer_host)
            if task is not None:
                self._channels.pop(task, None)
