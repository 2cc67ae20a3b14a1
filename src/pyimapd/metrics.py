"""Prometheus metrics (``metrics_listen``): what the server is doing, for operators.

How this works: a :class:`Metrics` object is made per server process and handed to the
sessions (through ``ServerContext.metrics``), the transport and the LMTP listener, which
call its small ``on_*``-style methods. :meth:`Metrics.serve` answers ``GET /metrics`` with
the text exposition format on a tiny asyncio HTTP endpoint of its own (no thread).

With worker processes (``pyimapd serve --workers N``), :func:`prepare_multiprocess` sets
``PROMETHEUS_MULTIPROC_DIR`` in the supervisor before it forks and before
``prometheus_client`` is imported anywhere: every worker then records into files there
and whichever worker answers a scrape sums them all (prometheus_client's multiprocess
mode), so all workers can share the listening port.

``prometheus_client`` is imported only here and only when metrics are enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from pyimapd.delivery import DeliveryResult

log = logging.getLogger("pyimapd.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
AUTH_COMMANDS = frozenset({"LOGIN", "AUTHENTICATE"})


def prepare_multiprocess(directory: Path) -> None:
    """Called by the supervisor before forking workers: a clean shared directory."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def worker_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay: they only ever grow)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """The server's metrics. ``store_size`` returns the store's size in bytes, or None
    when the backend cannot tell cheaply."""

    def __init__(self, store_size: Any = None) -> None:
        import prometheus_client as pc

        self._pc = pc
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = pc.CollectorRegistry()
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
            own = None  # values live in the shared files; the collector reads them
        else:
            own = self.registry
        self._store_size = store_size
        self.connections = pc.Counter(
            "pyimapd_connections", "Connections accepted", ["protocol"], registry=own
        )
        self.active = pc.Gauge(
            "pyimapd_connections_active", "Connections open now", ["protocol"],
            registry=own, multiprocess_mode="livesum",
        )
        self.commands = pc.Counter(
            "pyimapd_commands", "IMAP commands by name and result", ["command", "result"],
            registry=own,
        )
        self.latency = pc.Histogram(
            "pyimapd_command_seconds", "IMAP command latency", ["command"],
            buckets=LATENCY_BUCKETS, registry=own,
        )
        self.auth_failures = pc.Counter(
            "pyimapd_auth_failures", "Failed LOGIN and AUTHENTICATE commands", registry=own
        )
        self.deliveries = pc.Counter(
            "pyimapd_deliveries", "LMTP recipients by outcome (ok, tempfail, permfail)",
            ["result"], registry=own,
        )
        self.store_bytes = pc.Gauge(
            "pyimapd_store_bytes", "Size of the store on disk", registry=own,
            multiprocess_mode="mostrecent",
        )

    # --- hooks ----------------------------------------------------------------------------

    def connection_opened(self, protocol: str) -> None:
        self.connections.labels(protocol).inc()
        self.active.labels(protocol).inc()

    def connection_closed(self, protocol: str) -> None:
        self.active.labels(protocol).dec()

    def command(self, name: str, result: str, seconds: float) -> None:
        """One finished IMAP command; a NO to LOGIN/AUTHENTICATE is an auth failure."""
        self.commands.labels(name, result).inc()
        self.latency.labels(name).observe(seconds)
        if name in AUTH_COMMANDS and result == "NO":
            self.auth_failures.inc()

    def delivery(self, result: DeliveryResult) -> None:
        outcome = "ok" if result.ok else "tempfail" if result.temporary else "permfail"
        self.deliveries.labels(outcome).inc()

    # --- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        if self._store_size is not None:
            size = self._store_size()
            if size is not None:
                self.store_bytes.set(size)
        data: bytes = self._pc.generate_latest(self.registry)
        return data

    async def serve(self, address: str, sock: Any = None) -> asyncio.Server:
        """``GET /metrics`` on ``HOST:PORT`` (shared with sibling workers, SO_REUSEPORT)."""
        if sock is not None:
            return await asyncio.start_server(self._http, sock=sock)
        host, _, port = address.rpartition(":")
        server = await asyncio.start_server(
            self._http, host.strip("[]") or "127.0.0.1", int(port),
            reuse_address=True, reuse_port=True,
        )
        log.info("metrics on http://%s/metrics", address)
        return server

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            method, path = (head.split(b"\r\n", 1)[0].split(b" ") + [b"", b""])[:2]
            if method not in (b"GET", b"HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif path.split(b"?")[0] != b"/metrics":
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            else:
                body = await asyncio.to_thread(self.render)
                status, ctype = "200 OK", self._pc.CONTENT_TYPE_LATEST
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if method != b"HEAD" else b"")
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def sqlite_size(data_dir: Path) -> int | None:
    """The SQLite store's files (database and WAL)."""
    total = 0
    for name in ("pyimapd.sqlite3", "pyimapd.sqlite3-wal"):
        with contextlib.suppress(OSError):
            total += (data_dir / name).stat().st_size
    return total or None
