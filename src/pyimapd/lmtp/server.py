"""The LMTP listener: a thin asyncio transport around :mod:`pyimapd.lmtp.protocol`.

How this works: each connection runs :func:`LmtpServer._session`, a loop that feeds the
sans-IO :class:`~pyimapd.lmtp.protocol.LmtpConnection` with what the socket gives, looks
recipients up through :class:`~pyimapd.delivery.Delivery` when RCPT asks, spools the
message as it streams in, and after the final dot answers with one reply per accepted
recipient (RFC 2033 section 4.2), each sent only once that recipient's copy is durable.

Addresses are ``HOST:PORT`` or ``unix:PATH``. :func:`bind` opens the listening sockets;
``pyimapd serve`` with worker processes binds them once, before forking, and every worker
accepts on the same sockets (see docs/lmtp.md).
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
from pathlib import Path
from typing import TYPE_CHECKING

from pyimapd.delivery import Delivery, DeliveryPolicy, DeliveryResult, Spool, Target
from pyimapd.lmtp import protocol as p
from pyimapd.storage.interface import Backend

if TYPE_CHECKING:
    from pyimapd.metrics import Metrics

log = logging.getLogger("pyimapd.lmtp")

READ_CHUNK = 64 * 1024
IDLE_TIMEOUT = 300.0
"""RFC 5321 section 4.5.3.2.7: a server should wait at least 5 minutes for a command."""
SOCKET_MODE = 0o666
"""A UNIX socket's mode: the MTA runs as its own user. Restrict with the directory."""


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


class LmtpServer:
    """Serves LMTP on already bound sockets until :meth:`stop`."""

    def __init__(
        self,
        backend: Backend,
        policy: DeliveryPolicy,
        tmp_dir: Path | None = None,
        max_message_size: int = 0,
        hostname: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.tmp_dir = tmp_dir
        self.max_message_size = max_message_size
        self.hostname = hostname or socket.getfqdn()
        self.metrics = metrics
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: set[asyncio.Task[None] | None] = set()
        """Connections waiting for a command outside a transaction: safe to cut."""

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
        for task in list(self._tasks):
            if task in self._idle:
                task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        name = writer.get_extra_info("peername")
        peer = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else "unix"
        extra = {"session": secrets.token_hex(4), "peer": str(peer), "protocol": "lmtp"}
        slog = logging.LoggerAdapter(log, extra)
        slog.debug("LMTP connection from %s", peer)
        if self.metrics is not None:
            self.metrics.connection_opened("lmtp")
        try:
            await self._session(reader, writer, slog)
        except (ConnectionError, TimeoutError) as exc:
            slog.debug("LMTP connection ended: %r", exc)
        except Exception:
            slog.exception("LMTP session crashed")
        finally:
            if self.metrics is not None:
                self.metrics.connection_closed("lmtp")
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5.0)
            slog.debug("LMTP connection from %s closed", peer)
            if task is not None:
                self._tasks.discard(task)

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        slog: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        conn = p.LmtpConnection(self.hostname, self.max_message_size)
        tx = _Transaction(self, slog)
        try:
            while True:
                event = conn.next_event()
                await _send(conn, writer)  # what the event queued (354, 221, errors...)
                if isinstance(event, p.Closed):
                    return
                if isinstance(event, p.NeedData):
                    idle = tx.sender is None
                    task = asyncio.current_task()
                    if idle:
                        self._idle.add(task)
                    try:
                        data = await asyncio.wait_for(reader.read(READ_CHUNK), IDLE_TIMEOUT)
                    finally:
                        self._idle.discard(task)
                    if not data:
                        return
                    conn.receive_data(data)
                    continue
                await tx.on_event(conn, event)
                await _send(conn, writer)  # the answer to RCPT or to the message
        finally:
            tx.discard()


async def _send(conn: p.LmtpConnection, writer: asyncio.StreamWriter) -> None:
    out = conn.data_to_send()
    if out:
        writer.write(out)
        await writer.drain()


class _Transaction:
    """What one LMTP connection knows about its current mail transaction."""

    def __init__(self, server: LmtpServer, slog: logging.LoggerAdapter[logging.Logger]) -> None:
        self.server = server
        self.log = slog
        self.sender: str | None = None
        """The transaction's reverse-path; None outside a transaction."""
        self.targets: list[Target] = []
        self.spool: Spool | None = None

    async def on_event(self, conn: p.LmtpConnection, event: p.Event) -> None:
        if isinstance(event, p.Sender):
            self.discard()
            self.sender = event.address
            self.log.debug("MAIL FROM:<%s>", event.address)
        elif isinstance(event, p.Recipient):
            conn.answer_recipient(await self.recipient(event.address))
        elif isinstance(event, p.MessageData):
            self.feed(event.data)
        elif isinstance(event, p.MessageEnd):
            conn.answer_message(await self.finish(event))
        elif isinstance(event, p.Reset | p.Hello):
            self.discard()
        elif isinstance(event, p.AwaitingAnswer):
            raise RuntimeError("an LMTP answer was not given")

    async def recipient(self, address: str) -> p.Reply:
        delivery = Delivery(self.server.backend, self.server.policy)
        found = await delivery.resolve(address)
        if isinstance(found, DeliveryResult):
            self.log.info("RCPT TO:<%s> refused: %s %s", address, found.code, found.status)
            if self.server.metrics is not None:
                self.server.metrics.delivery(found)
            return p.Reply(found.code, found.status, found.text)
        self.targets.append(found)
        self.log.debug("RCPT TO:<%s> is user %s", address, found.user)
        return p.Reply(250, "2.1.5", f"<{address}> OK")

    def feed(self, data: bytes) -> None:
        if self.spool is None:
            self.spool = Spool(self.server.tmp_dir)
            # RFC 5321 section 4.4: final delivery records the reverse-path.
            self.spool.feed(f"Return-Path: <{self.sender or ''}>\r\n".encode())
        self.spool.feed(data)

    async def finish(self, end: p.MessageEnd) -> list[p.Reply]:
        """One reply per accepted recipient, in RCPT order (RFC 2033 section 4.2)."""
        targets = self.targets
        if len(targets) != len(end.recipients):
            raise RuntimeError("accepted recipients and targets disagree")
        if end.too_big:
            self.discard()
            return [p.Reply(552, "5.3.4", "Message too big") for _ in targets]
        if self.spool is None:
            self.feed(b"")
        assert self.spool is not None
        try:
            prepared = await self.spool.finish()
            metrics = self.server.metrics
            delivery = Delivery(
                self.server.backend, self.server.policy,
                observe=metrics.delivery if metrics is not None else None,
            )
            results = await delivery.deliver(prepared, targets)
        finally:
            self.discard()
        for r in results:
            self.log.info(
                "delivered from <%s> to <%s>: %s %s%s", end.sender, r.address, r.code,
                r.status, f" ({r.mailbox} uid {r.uid})" if r.ok else f" {r.text}",
            )
        return [p.Reply(r.code, r.status, r.text) for r in results]

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.targets = []
        self.sender = None
