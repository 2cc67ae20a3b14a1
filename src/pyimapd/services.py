"""The side services of ``pyimapd serve``: the LMTP listener and the metrics endpoint.

Kept out of :mod:`pyimapd.server` so the IMAP wiring stays small. With worker processes,
:func:`before_fork` runs once in the supervisor: it binds the LMTP sockets (every worker
then accepts on the same sockets, which also works for ``unix:PATH``, where SO_REUSEPORT
does not exist) and switches prometheus_client to its multiprocess mode.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyimapd.config import Config
from pyimapd.delivery import DeliveryPolicy
from pyimapd.storage.interface import Backend

if TYPE_CHECKING:
    from pyimapd.filtering import SieveFilter


def delivery_policy(config: Config) -> DeliveryPolicy:
    lmtp = config.lmtp
    return DeliveryPolicy(lmtp.detail_delimiter, lmtp.detail_mailbox, lmtp.quota_tempfail)


def sieve_filter(config: Config) -> SieveFilter:
    """Sieve at delivery (pyimapd.filtering), with the ``[sieve] relay`` for redirect
    and vacation (none configured: those actions keep the message instead)."""
    from pyimapd.filtering import SieveFilter
    from pyimapd.relay import SmtpRelay

    hostname = config.lmtp.hostname or socket.getfqdn()
    return SieveFilter(config.sieve, SmtpRelay.parse(config.sieve.relay, hostname), hostname)


def before_fork(config: Config) -> list[socket.socket]:
    """Supervisor side: shared LMTP sockets, and multiprocess metrics when enabled."""
    if config.metrics_listen:
        from pyimapd.metrics import prepare_multiprocess

        prepare_multiprocess(config.data_dir / "run" / "metrics")
    if not config.listen_lmtp:
        return []
    from pyimapd.transport.lmtp import bind

    return bind(config.listen_lmtp)


def worker_exited(config: Config, pid: int) -> None:
    if config.metrics_listen:
        from pyimapd.metrics import worker_exited as forget

        forget(pid)


@dataclass
class Services:
    metrics: object | None = None
    lmtp: object | None = None
    servers: list[asyncio.Server] = field(default_factory=list)

    @classmethod
    async def start(
        cls, config: Config, backend: Backend, lmtp_sockets: list[socket.socket] | None = None
    ) -> Services:
        """Metrics first (sessions need the object), then LMTP, on ``lmtp_sockets``
        when the supervisor bound them, else on sockets bound here."""
        services = cls()
        metrics = None
        if config.metrics_listen:
            from pyimapd.metrics import Metrics, sqlite_size

            size = (lambda: sqlite_size(config.data_dir)) if config.store == "sqlite" else None
            metrics = Metrics(store_size=size)
            services.metrics = metrics
            services.servers.append(await metrics.serve(config.metrics_listen))
        if config.listen_lmtp:
            from pyimapd.lmtp.server import LmtpServer
            from pyimapd.transport.lmtp import LmtpListener, bind

            lmtp = LmtpServer(
                backend,
                delivery_policy(config),
                tmp_dir=config.data_dir / "tmp",
                max_message_size=config.lmtp.max_message_size or config.limits.max_append,
                hostname=config.lmtp.hostname or None,
                metrics=metrics,
                sieve=sieve_filter(config),
            )
            listener = LmtpListener(lmtp.serve, config.connections.max_connections, metrics)
            await listener.start(lmtp_sockets if lmtp_sockets else bind(config.listen_lmtp))
            services.lmtp = listener
        return services

    async def stop(self) -> None:
        from pyimapd.transport.lmtp import LmtpListener

        for server in self.servers:
            server.close()
        if isinstance(self.lmtp, LmtpListener):
            await self.lmtp.stop()
