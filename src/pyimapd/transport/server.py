"""The only module that touches sockets: asyncio listeners and one task per connection.

Each connection gets a :class:`StreamChannel` (the session's view of the socket) and a
:class:`~pyimapd.session.session.Session` that runs until the client logs out or goes
away. Shutdown closes the listeners first, then tells every session BYE.

Plain listeners offer STARTTLS when a certificate is configured; implicit-TLS listeners
(``listen_tls``) handshake before the greeting. Both count against the same connection
limits (:class:`ConnectionLimiter`): over the total or the per-IP limit a client gets
``* BYE`` and is closed, before any session or TLS work is spent on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter

from pyimapd.config import ConnectionLimits
from pyimapd.protocol.responses import untagged_status
from pyimapd.session.session import ServerContext, Session
from pyimapd.transport.tls import TlsContexts

log = logging.getLogger("pyimapd.transport")

READ_CHUNK = 64 * 1024
WRITE_HIGH_WATER = 256 * 1024
CORK_MAX = 64 * 1024
"""Bytes a connection collects before it sends without waiting for the end of the
event loop's turn (see :meth:`StreamChannel.write`)."""
CLOSE_TIMEOUT = 2.0
LISTEN_BACKLOG = 1024
"""Pending connections the kernel queues before accept; asyncio's default of 100
drops SYNs under a burst, and the clients then wait seconds for a retransmit."""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class StreamChannel:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: TlsContexts | None = None,
        handshake_timeout: float = 30.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        peer = writer.get_extra_info("peername")
        self.peer_host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.loopback = is_loopback(self.peer_host) or not isinstance(peer, tuple)
        self.secure = writer.get_extra_info("sslcontext") is not None
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._corked: list[bytes] = []
        self._corked_size = 0
        self._flush_scheduled = False

    @property
    def tls_available(self) -> bool:
        """STARTTLS can be offered: a certificate is configured and TLS is not up yet."""
        return self._tls is not None and not self.secure

    async def read(self) -> bytes:
        return await self._reader.read(READ_CHUNK)

    def write(self, data: bytes) -> None:
        """Collects the responses written in one turn of the event loop and sends them
        in one system call at its end (as Dovecot corks its output stream): a send on
        loopback TCP also runs the receiver's side of the stack, and one per response
        line was the largest single cost of a typical client session."""
        if self._writer.is_closing():
            return
        self._corked.append(data)
        self._corked_size += len(data)
        if self._corked_size >= CORK_MAX:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._corked:
            return
        data = self._corked[0] if len(self._corked) == 1 else b"".join(self._corked)
        self._corked.clear()
        self._corked_size = 0
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        self._flush()
        if not self._writer.is_closing():
            await self._writer.drain()

    def hold_input(self) -> int:
        """Stops reading plaintext and drops what was read but not consumed; returns its
        size. Called by STARTTLS before its OK: whatever the client sends from now on is
        read by the TLS layer as handshake data, so plaintext pipelined behind STARTTLS
        can never be taken for a command sent under TLS (RFC 3207 section 4.2 style
        injection). StreamReader has no public way to drop its buffer."""
        self._flush()
        transport = self._writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()
        buffer: bytearray = self._reader._buffer  # type: ignore[attr-defined]
        dropped = len(buffer)
        buffer.clear()
        return dropped

    async def start_tls(self) -> None:
        """Server-side TLS handshake on this connection (STARTTLS, RFC 3501 6.2.1)."""
        if self._tls is None:
            raise RuntimeError("TLS is not configured")
        self._flush()  # the tagged OK goes out in plaintext, before the handshake
        await self._writer.start_tls(
            self._tls.front, ssl_handshake_timeout=self._handshake_timeout
        )
        self.secure = True

    async def close(self) -> None:
        """Closes the connection; a TLS peer that never answers our close_notify is
        cut off after ``CLOSE_TIMEOUT`` instead of holding the session (and shutdown)."""
        self._flush()
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_TIMEOUT)
        except TimeoutError:
            self._writer.transport.abort()
        except (ConnectionError, OSError):
            pass


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def refuse(channel: StreamChannel, goodbye: bytes) -> None:
    """Says ``goodbye`` (a BYE in the listener's protocol) and closes, over the limits."""
    channel.write(goodbye)
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
        await channel.drain()
    await channel.close()


class ConnectionLimiter:
    """Counts open connections, in total and per client IP."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.total = 0
        self.per_ip: Counter[str] = Counter()

    def admit(self, ip: str) -> str | None:
        """Takes a slot for ``ip``, or returns why not (the BYE text)."""
        if self.total >= self.limits.max_connections:
            return "Too many connections; try again later"
        if self.per_ip[ip] >= self.limits.max_connections_per_ip:
            return "Too many connections from your address"
        self.total += 1
        self.per_ip[ip] += 1
        return None

    def release(self, ip: str) -> None:
        self.total -= 1
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]


class Listener:
    def __init__(
        self,
        ctx: ServerContext,
        addresses: tuple[str, ...],
        tls: TlsContexts | None = None,
        tls_addresses: tuple[str, ...] = (),
    ) -> None:
        self.ctx = ctx
        self.addresses = [parse_address(a) for a in addresses]
        self.tls_addresses = [parse_address(a) for a in tls_addresses]
        if self.tls_addresses and tls is None:
            raise ValueError("implicit-TLS listeners need a certificate and key")
        self.tls = tls
        self.limiter = ConnectionLimiter(ctx.config.connections)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for (host, port), implicit in [(a, False) for a in self.addresses] + [
            (a, True) for a in self.tls_addresses
        ]:
            server = await asyncio.start_server(
                self._connected, host, port, reuse_address=True, reuse_port=True,
                limit=READ_CHUNK, backlog=LISTEN_BACKLOG,
                ssl=self.tls.front if implicit and self.tls else None,
                ssl_handshake_timeout=self.ctx.config.tls.handshake_timeout if implicit else None,
            )
            self._servers.append(server)
            for sock in server.sockets:
                kind = "IMAP over TLS" if implicit else "IMAP"
                log.info("listening for %s on %s", kind, sock.getsockname()[:2])

    def reload_tls(self) -> None:
        """SIGHUP: re-read the certificate and key."""
        if self.tls is not None:
            self.tls.reload()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel = StreamChannel(reader, writer, self.tls, self.ctx.config.tls.handshake_timeout)
        refusal = self.limiter.admit(channel.peer_host)
        if refusal is not None:
            log.warning("refusing connection from %s: %s", channel.peer, refusal)
            await refuse(channel, untagged_status("BYE", refusal))
            return
        try:
            await self._serve(channel)
        finally:
            self.limiter.release(channel.peer_host)

    async def _serve(self, channel: StreamChannel) -> None:
        session = Session(self.ctx, channel)
        self.ctx.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        extra = {"session": session.id, "peer": channel.peer, "protocol": "imap"}
        log.debug("connection from %s (session %s)", channel.peer, session.id, extra=extra)
        metrics = self.ctx.metrics
        if metrics is not None:
            metrics.connection_opened("imap")
        try:
            await session.run()
        except Exception:
            log.exception("session %s crashed", session.id, extra=extra)
        finally:
            self.ctx.sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)
            if metrics is not None:
                metrics.connection_closed("imap")
            log.debug("connection from %s closed", channel.peer, extra=extra)

    async def stop(self, grace: float = 5.0) -> None:
        for server in self._servers:
            server.close()
        sessions = list(self.ctx.sessions)
        for session in sessions:
            session.io.write(untagged_status("BYE", "Server shutting down"))
        if sessions:
            await asyncio.gather(*(s.io.close() for s in sessions), return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=grace)
