"""LMTP sessions: the mail transactions of one connection, over the sans-IO protocol.

How this works: :meth:`LmtpServer.serve` runs one connection. It feeds the sans-IO
:class:`~pyimapd.lmtp.protocol.LmtpConnection` with what the channel gives, looks
recipients up through :class:`~pyimapd.delivery.Delivery` when RCPT asks, spools the
message as it streams in, and after the final dot answers with one reply per accepted
recipient (RFC 2033 section 4.2), each sent only once that recipient's copy is durable.

The sockets, connection limits and shutdown are the transport's
(transport/lmtp.py, ``LmtpListener``); this module sees a :class:`Channel`.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pyimapd.delivery import Delivery, DeliveryPolicy, DeliveryResult, Spool, Target
from pyimapd.lmtp import protocol as p
from pyimapd.storage.interface import Backend

if TYPE_CHECKING:
    from pyimapd.filtering import SieveFilter
    from pyimapd.metrics import Metrics


class Channel(Protocol):
    """What a session needs of its connection (transport/lmtp.py's LmtpChannel)."""

    log: logging.LoggerAdapter[logging.Logger]
    idle: bool

    async def read(self) -> bytes: ...

    async def send(self, data: bytes) -> None: ...


class LmtpServer:
    """Delivers what LMTP connections bring, one :meth:`serve` per connection."""

    def __init__(
        self,
        backend: Backend,
        policy: DeliveryPolicy,
        tmp_dir: Path | None = None,
        max_message_size: int = 0,
        hostname: str | None = None,
        metrics: Metrics | None = None,
        sieve: SieveFilter | None = None,
    ) -> None:
        self.sieve = sieve
        self.backend = backend
        self.policy = policy
        self.tmp_dir = tmp_dir
        self.max_message_size = max_message_size
        self.hostname = hostname or socket.getfqdn()
        self.metrics = metrics

    async def serve(self, channel: Channel) -> None:
        """Runs the connection until QUIT, EOF or an error; TimeoutError when the client
        stays silent too long (the channel's read says how long)."""
        conn = p.LmtpConnection(self.hostname, self.max_message_size)
        tx = _Transaction(self, channel.log)
        try:
            while True:
                event = conn.next_event()
                await channel.send(conn.data_to_send())  # what the event queued (354, 221...)
                if isinstance(event, p.Closed):
                    return
                if isinstance(event, p.NeedData):
                    channel.idle = tx.sender is None
                    try:
                        data = await channel.read()
                    finally:
                        channel.idle = False
                    if not data:
                        return
                    conn.receive_data(data)
                    continue
                await tx.on_event(conn, event)
                await channel.send(conn.data_to_send())  # the answer to RCPT or to the message
        finally:
            tx.discard()


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
                sieve=self.server.sieve,
            )
            results = await delivery.deliver(prepared, targets, sender=end.sender or "")
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
