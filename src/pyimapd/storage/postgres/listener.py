"""The cross-node change feed: LISTEN on one dedicated connection.

How this works: every committed change sends ``pg_notify('pyimapd_changes', [node, user,
mailbox])`` from inside its transaction (see :mod:`.db`), so PostgreSQL delivers it to
every listening node exactly when the change becomes visible. :class:`ChangeListener`
holds one connection per node that only LISTENs: a notification from another node is
handed to :meth:`LocalChangeFeed.deliver_remote`, which wakes the sessions watching that
mailbox; they then poll the store by MODSEQ. Nothing polls at steady state.

Notifications are lost while the connection is down (PostgreSQL keeps them only for
connected listeners). So when the connection drops, the listener reconnects with
backoff, and once it LISTENs again it wakes *every* local watcher: each session polls
from its own MODSEQ and catches up on whatever happened in between. The same wake-up
at the first connect costs nothing (no one is watching yet). A health check every
``heartbeat`` seconds (one ``SELECT 1``) notices a connection that died silently; it
is a liveness probe of the connection, not a poll of any mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import asyncpg

from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import ChangeFeed, Unavailable
from pyimapd.storage.postgres.db import CHANNEL, SERVER_SETTINGS, UNAVAILABLE_ERRORS

log = logging.getLogger("pyimapd.postgres")

HEARTBEAT = 30.0
MAX_BACKOFF = 5.0


class ChangeListener:
    """Feeds notifications of other nodes into this node's :class:`ChangeFeed`."""

    def __init__(
        self, dsn: str, changes: ChangeFeed, node: str, heartbeat: float = HEARTBEAT
    ) -> None:
        self.dsn = dsn
        self.changes = changes
        self.node = node
        self.heartbeat = heartbeat
        self.connects = 0
        """How many times the LISTEN connection was (re)established (for tests)."""
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connects once (raising :class:`Unavailable` if it cannot), then keeps the
        connection alive in a background task."""
        conn = await self._connect()
        self._task = asyncio.create_task(self._run(conn), name="pyimapd-pg-listen")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _connect(self) -> asyncpg.Connection:
        try:
            conn = await asyncpg.connect(self.dsn, server_settings=SERVER_SETTINGS, timeout=10)
            await conn.add_listener(CHANNEL, self._on_notify)
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable(f"Cannot LISTEN on PostgreSQL: {exc}") from exc
        self.connects += 1
        self.connected.set()
        self._wake_all()
        return conn

    async def _run(self, conn: asyncpg.Connection | None) -> None:
        delay = 0.05
        while True:
            if conn is None:
                try:
                    conn = await self._connect()
                    log.info("LISTEN connection to PostgreSQL restored")
                    delay = 0.05
                except Unavailable as exc:
                    log.debug("LISTEN reconnect failed: %s", exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
            try:
                await self._watch(conn)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
            log.warning("LISTEN connection to PostgreSQL lost; reconnecting")
            conn = None

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Returns when the connection is gone."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        while not conn.is_closed():
            try:
                await asyncio.wait_for(lost.wait(), self.heartbeat)
                return
            except TimeoutError:
                pass
            try:
                await conn.fetchval("SELECT 1", timeout=10)
            except (*UNAVAILABLE_ERRORS, asyncpg.InterfaceError):
                return

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            node, user, mailbox = json.loads(payload)
        except (ValueError, TypeError):
            log.warning("ignoring malformed change notification %r", payload[:200])
            return
        if node == self.node:
            return  # this node's own change: its sessions were woken at commit
        if mailbox is None:
            self._wake_all(user)
        elif isinstance(self.changes, LocalChangeFeed):
            self.changes.deliver_remote(user, mailbox)
        else:
            self.changes.notify(user, mailbox)

    def _wake_all(self, user: str | None = None) -> None:
        if isinstance(self.changes, LocalChangeFeed):
            self.changes.deliver_all(user)
