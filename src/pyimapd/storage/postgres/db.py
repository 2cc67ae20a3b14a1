"""The connection pool, transactions and error mapping of the PostgreSQL backend.

How this works: a node holds one bounded ``asyncpg`` pool (``pool_size`` connections,
however many IMAP clients it serves). :meth:`Database.write` runs an async function in
one READ COMMITTED transaction; the function takes row locks (``SELECT ... FOR
UPDATE`` on the mailbox row) before it reads what it will change, so writers to one
mailbox take turns across every node (docs/postgres.md gives the argument).
:meth:`Database.read` runs one REPEATABLE READ, READ ONLY transaction: one snapshot,
which :func:`poll` relies on.

A function records the mailboxes it changed with :meth:`Tx.changed`. Just before COMMIT
the transaction sends one ``pg_notify`` per mailbox, so other nodes hear of a change
exactly when it becomes visible (PostgreSQL delivers notifications at commit, never for
a rolled-back transaction); after COMMIT this node wakes its own sessions directly.

Faults: every connection runs with ``synchronous_commit = on``, so COMMIT returns only
once the WAL is flushed: an acknowledged write survives a PostgreSQL crash. A lost
connection, a server shutting down or starting up, a read-only server (a standby after
failover) or an exhausted pool become :class:`Unavailable` (``NO [UNAVAILABLE]``); the
pool replaces dead connections on the next acquire, so the node recovers by itself.
Deadlocks and serialization failures are retried a few times: the transaction was rolled
back, so running it again is safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import lru_cache
from inspect import isgeneratorfunction
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg
import asyncpg.exceptions as pgerr

from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import ChangeFeed, StorageError, Unavailable
from pyimapd.storage.postgres.schema import BODY_CHUNK
from pyimapd.storage.postgres.textindex import DIALECT
from pyimapd.storage.sql.core import Changed, Query, Routine, WriteBody
from pyimapd.storage.values import CHUNK_SIZE

log = logging.getLogger("pyimapd.postgres")

T = TypeVar("T")
P = ParamSpec("P")

CHANNEL = "pyimapd_changes"
"""The LISTEN/NOTIFY channel; the payload is JSON ``[node, user, mailbox]``."""

MAX_PAYLOAD = 7900
"""PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a longer one is sent as
``[node, user, null]``, which wakes all of the user's watchers."""

READ_BYTES = 1024 * 1024
"""Body bytes fetched per query when streaming (16 pieces of 64 KiB)."""

RETRIES = 5
ACQUIRE_TIMEOUT = 10.0
COMMAND_TIMEOUT = 60.0

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    pgerr.PostgresConnectionError,
    pgerr.ConnectionDoesNotExistError,
    pgerr.OperatorInterventionError,
    pgerr.InsufficientResourcesError,
    pgerr.ReadOnlySQLTransactionError,
    pgerr.ConnectionFailureError,
)
"""Errors that mean "the database is not there right now" rather than a bug."""

RETRY_ERRORS = (pgerr.DeadlockDetectedError, pgerr.SerializationError)

SERVER_SETTINGS = {"synchronous_commit": "on", "application_name": "pyimapd"}


def payload(node: str, user: str, mailbox: str | None) -> str:
    text = json.dumps([node, user, mailbox], ensure_ascii=False)
    if mailbox is not None and len(text.encode()) > MAX_PAYLOAD:
        return payload(node, user, None)
    return text


class Tx:
    """One transaction's connection plus the mailboxes it changed."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.changes: dict[tuple[str, str], None] = {}

    def changed(self, user: str, names: Iterable[str]) -> None:
        for name in names:
            self.changes[(user, name)] = None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self.conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        return str(await self.conn.execute(sql, *args))

    async def executemany(self, sql: str, args: Iterable[tuple[Any, ...]]) -> None:
        rows = list(args)
        if rows:
            await self.conn.executemany(sql, rows)


TxFn = Callable[Concatenate[Tx, P], Awaitable[T]]


class Database:
    """A node's pool on one PostgreSQL database."""

    def __init__(
        self, dsn: str, changes: ChangeFeed, node: str, pool_size: int = 10,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self.dsn = dsn
        self.changes = changes
        self.node = node
        self.pool_size = pool_size
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=0, max_size=self.pool_size,
                command_timeout=self.command_timeout, server_settings=SERVER_SETTINGS,
            )
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable(f"Cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise Unavailable("Store is not started")
        return self._pool

    async def connection(self) -> asyncpg.Connection:
        """A pooled connection for administrative use (migrations); release it with
        :meth:`release`."""
        try:
            return await self._require_pool().acquire(timeout=ACQUIRE_TIMEOUT)
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable(f"PostgreSQL is unavailable: {exc}") from exc

    async def release(self, conn: asyncpg.Connection) -> None:
        await self._require_pool().release(conn)

    async def write(self, fn: TxFn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Runs ``fn(tx, ...)`` in one transaction and returns once it is committed
        (and, with ``synchronous_commit``, flushed), then wakes local watchers."""
        delay = 0.01
        for attempt in range(RETRIES):
            try:
                result, changes = await self._run(fn, False, *args, **kwargs)
            except RETRY_ERRORS:
                if attempt == RETRIES - 1:
                    raise Unavailable("The mail store is busy, try again") from None
                await asyncio.sleep(delay)
                delay *= 2
                continue
            for user, mailbox in changes:
                deliver_local(self.changes, user, mailbox)
            return result
        raise AssertionError("unreachable")

    async def read(self, fn: TxFn[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Runs ``fn(tx, ...)`` in one read-only snapshot."""
        result, _ = await self._run(fn, True, *args, **kwargs)
        return result

    # Every read is a pool round trip here: there is no loop-thread shortcut as on
    # SQLite, and no unsynced commit (synchronous_commit is the durability promise).
    read_small = read

    async def read_bounded(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.read(fn, *args)

    async def write_unsynced(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.write(fn, *args)

    async def body_pieces(self, content: int, start: int, end: int) -> list[bytes]:
        return await self.read(_read_range, content, start, min(end, start + READ_BYTES))

    async def read_ranges(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        return await self.read(_read_ranges, list(ranges))

    async def _run(
        self, fn: TxFn[P, T], readonly: bool, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, list[tuple[str, str]]]:
        pool = self._require_pool()
        try:
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                isolation = "repeatable_read" if readonly else "read_committed"
                async with conn.transaction(isolation=isolation, readonly=readonly):
                    tx = Tx(conn)
                    if isgeneratorfunction(fn):
                        result = await drive(tx, fn(DIALECT, *args, **kwargs))
                    else:
                        result = await fn(tx, *args, **kwargs)
                    if tx.changes:
                        await conn.execute(
                            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL,
                            [payload(self.node, u, m) for u, m in tx.changes],
                        )
                return result, list(tx.changes)
        except UNAVAILABLE_ERRORS as exc:
            raise Unavailable(f"PostgreSQL is unavailable: {type(exc).__name__}") from exc
        except pgerr.InterfaceError as exc:
            if "pool is closing" in str(exc) or "connection is closed" in str(exc):
                raise Unavailable("PostgreSQL is unavailable") from exc
            raise


async def _read_range(tx: Tx, content: int, start: int, end: int) -> list[bytes]:
    """The bytes ``[start, end)`` of a body (clipped to its size), in pieces of at most
    64 KiB. Only the covering chunk rows are read, each with ``substring`` so that
    PostgreSQL fetches just the slices it needs."""
    size = await tx.fetchval("SELECT size FROM contents WHERE id = $1", content)
    if size is None:
        raise StorageError("Message no longer exists")
    end = min(end, int(size))
    if start >= end:
        return []
    rows = await tx.fetch(
        "SELECT substring(data FROM (greatest($2 - seq * $4, 0) + 1)::integer"
        " FOR (least($3 - seq * $4, $4) - greatest($2 - seq * $4, 0))::integer) AS part"
        " FROM body_chunks WHERE content_id = $1 AND seq BETWEEN $5 AND $6 ORDER BY seq",
        content, start, end, BODY_CHUNK, start // BODY_CHUNK, (end - 1) // BODY_CHUNK,
    )
    pieces: list[bytes] = []
    for r in rows:
        part = r["part"]
        pieces.extend(part[i:i + CHUNK_SIZE] for i in range(0, len(part), CHUNK_SIZE))
    return pieces


async def _read_ranges(tx: Tx, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
    """``[start, end)`` of each ``(content, start, end)`` in one transaction; None for
    a missing body."""
    out: list[bytes | None] = []
    for content, start, end in ranges:
        try:
            out.append(b"".join(await _read_range(tx, content, start, end)))
        except StorageError:
            out.append(None)
    return out


@lru_cache(maxsize=2048)
def numbered(sql: str) -> str:
    """The SQL core's ``?`` placeholders as PostgreSQL's ``$1``, ``$2``... (no ``?``
    appears in the core's SQL but as a placeholder: see storage/sql/core.py)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))


async def drive(tx: Tx, routine: Routine[T]) -> T:
    """Runs a routine of the SQL core in the transaction ``tx``; its :class:`Changed`
    announcements are sent with NOTIFY at COMMIT (see :meth:`Database._run`)."""
    sent: object = None
    try:
        while True:
            op = routine.send(sent)
            if type(op) is Query:
                sent = await _execute(tx.conn, op)
            elif type(op) is Changed:
                tx.changed(op.user, op.names)
                sent = None
            else:
                assert isinstance(op, WriteBody)
                await _write_body(tx.conn, op)
                sent = None
    except StopIteration as stop:
        result: T = stop.value
        return result


async def _execute(conn: asyncpg.Connection, query: Query) -> object:
    sql, kind = numbered(query.sql), query.kind
    if kind in ("rows", "tuples"):
        return await conn.fetch(sql, *query.args)
    if kind == "row":
        return await conn.fetchrow(sql, *query.args)
    if kind == "value":
        return await conn.fetchval(sql, *query.args)
    if kind == "many":
        if query.args:
            await conn.executemany(sql, query.args)
        return None
    status = str(await conn.execute(sql, *query.args))  # "UPDATE 3", "INSERT 0 1"
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


async def _write_body(conn: asyncpg.Connection, op: WriteBody) -> None:
    """The body as rows of ``body_chunks``, read piece by piece from the spool file."""
    op.source.seek(0)
    remaining, seq = op.size, 0
    while remaining > 0:
        chunk = op.source.read(min(BODY_CHUNK, remaining))
        if not chunk:
            raise StorageError("Message source is shorter than its declared size")
        await conn.execute("INSERT INTO body_chunks (content_id, seq, data) VALUES ($1, $2, $3)",
                           op.content_id, seq, chunk)
        remaining -= len(chunk)
        seq += 1


def deliver_local(changes: ChangeFeed, user: str, mailbox: str) -> None:
    """Wakes this node's watchers without publishing again (NOTIFY did that)."""
    if isinstance(changes, LocalChangeFeed):
        changes.deliver_remote(user, mailbox)
    else:
        changes.notify(user, mailbox)
