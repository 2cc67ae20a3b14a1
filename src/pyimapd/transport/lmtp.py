"""The LMTP listener: sockets, connection tasks, limits and shutdown for LMTP.

Addresses are ``HOST:PORT`` or ``unix:PATH``. :func:`bind` opens the listening sockets;
``pyimapd serve`` with worker processes binds them once, before forking, and every worker
accepts on the same sockets (see docs/lmtp.md). :class:`LmtpListener` accepts on them and
runs each connection's session (:class:`pyimapd.lmtp.server.LmtpServer`, which knows
nothing of sockets) over an :class:`LmtpChannel`.

Limits: the configured total connection limit applies, as for IMAP (an MTA's parallel
deliveries come from one address, so the per-address limit does not). Over it the
client gets ``421`` and is closed (RFC 5321 section 3.8). Shutdown stops accepting,
closes the connections waiting for a command at once and gives a transaction in
progress ``grace`` seconds: the MTA retries whatever was not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyimapd.metrics import Metrics

log = logging.getLogger("pyimapd.lmtp")

READ_CHUNK = 64 * 1024
IDLE_TIMEOUT = 300.0
"""RFC 5321 section 4.5.3.2.7: a server should wait at least 5 minutes for a command."""
SOCKET_MODE = 0o666
"""A UNIX socket's mode: the MTA runs as its own user. Restrict with the directory."""
CLOSE_TIMEOUT = 5.0


def parse_lmtp_address(text: str) -> tuple[str, int] | Path:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``unix:PATH``."""
    if text.startswith("unix:"):
        if not text[5:]:
            raise ValueError("unix: needs a path")
        return Path(text[5:])
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT or unix:PATH, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _unlink_stale(path: Path) -> None:
    """Removes a socket file left by a dead server; refuses to steal a live one."""
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another server listens on {path}")


def bind(addresses: tuple[str, ...]) -> list[socket.socket]:
    """Listening sockets for the addresses, ready to be shared by worker processes."""
    sockets: list[socket.socket] = []
    try:
        for text in addresses:
            where = parse_lmtp_address(text)
            if isinstance(where, Path):
                _unlink_stale(where)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(str(where))
                os.chmod(where, SOCKET_MODE)
            else:
                host, port = where
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class LmtpChannel:
    """One LMTP connection as its session sees it: reads with the idle timeout, writes,
    and whether it is between transactions (then shutdown may cut it at once)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 log: logging.LoggerAdapter[logging.Logger]) -> None:
        self._reader = reader
        self._writer = writer
        self.log = log
        self.idle = False
        """Set by the session while it waits for a command outside a transaction."""

    async def read(self) -> bytes:
        """The next bytes from the client; b"" when it closed. TimeoutError after
        :data:`IDLE_TIMEOUT` seconds of silence."""
        return await asyncio.wait_for(self._reader.read(READ_CHUNK), IDLE_TIMEOUT)

    async def send(self, data: bytes) -> None:
        if data:
            self._writer.write(data)
            await self._writer.drain()


Handler = Callable[[LmtpChannel], Awaitable[None]]


class LmtpListener:
    """Accepts LMTP connections on already bound sockets and runs ``handler`` for each,
    until :meth:`stop`."""

    def __init__(self, handler: Handler, max_connections: int,
                 metrics: Metrics | None = None) -> None:
        self.handler = handler
        self.max_connections = max_connections
        self.metrics = metrics
        self._servers: list[asyncio.Server] = []
        self._channels: dict[asyncio.Task[None], LmtpChannel] = {}

    async def start(self, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            if sock.family == socket.AF_UNIX:
                server = await asyncio.start_unix_server(self._connected, sock=sock)
            else:
                server = await asyncio.start_server(self._connected, sock=sock)
            self._servers.append(server)
            log.info("listening for LMTP on %s", sock.getsockname())

    async def stop(self, grace: float = 5.0) -> None:
        """Stops accepting; idle connections are closed at once, a transaction in
        progress gets ``grace`` seconds to finish (the MTA retries what we cut)."""
        for server in self._servers:
            server.close()
        for task, channel in list(self._channels.items()):
            if channel.idle:
                task.cancel()
        if self._channels:
            await asyncio.wait(list(self._channels), timeout=grace)
        for task in list(self._channels):
            task.cancel()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        name = writer.get_extra_info("peername")
        peer = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else "unix"
        extra = {"session": secrets.token_hex(4), "peer": str(peer), "protocol": "lmtp"}
        slog = logging.LoggerAdapter(log, extra)
        channel = LmtpChannel(reader, writer, slog)
        if len(self._channels) >= self.max_connections:
            slog.warning("refusing LMTP connection from %s: too many connections", peer)
            with contextlib.suppress(ConnectionError, OSError):
                await channel.send(b"421 4.3.2 Too many connections; try again later\r\n")
            await _close(writer)
            return
        if task is not None:
            self._channels[task] = channel
        slog.debug("LMTP connection from %s", peer)
        if self.metrics is not None:
            self.metrics.connection_opened("lmtp")
        try:
            await self.handler(channel)
        except (ConnectionError, TimeoutError) as exc:
            slog.debug("LMTP connection ended: %r", exc)
        except Exception:
            slog.exception("LMTP session crashed")
        finally:
            if self.metrics is not None:
                self.metrics.connection_closed("lmtp")
            await _close(writer)
            slog.debug("LMTP connection from %s closed", peer)
            if task is not None:
                self._channels.pop(task, None)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
