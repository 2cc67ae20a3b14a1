"""SQLite connections and threads: how the SQLite backend stays off the event loop.

How this works: all SQL runs in worker threads. One single-thread executor owns the one
writer connection, so this process's writes are serialised without Python locks; every
write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction, so writers in *other* processes
sharing the file are serialised by SQLite's own lock (waiting up to ``busy_timeout``).
Reads go to a small pool of reader connections, each running its function inside one
deferred transaction: in WAL mode that is one consistent snapshot, and readers never
block the writer or each other. A read known to be small (a user row, a mailbox list,
a poll that finds few changes, one message's record) runs on the event loop's own thread
instead (:meth:`Database.read_small`): handing it to a thread and back cost about 20
times the query itself, and a typical client session makes twenty of them.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL`` fsyncs the WAL on every
commit, so when :meth:`Database.write` returns the transaction is on stable storage and
survives a kill -9 or power loss. The one exception is :meth:`Database.write_unsynced`,
for bookkeeping whose loss is harmless (the \\Recent floor): it commits on the loop's
thread without waiting for the disk, which survives a kill -9 (the WAL frames are in
the kernel's cache) but perhaps not a power loss; the next synced commit of any
connection makes it durable too, since the WAL is one file written in order.

No mutable state (UIDNEXT, MODSEQ, the \\Recent floor...) is cached in Python: every
function reads what it needs inside its transaction, which is what makes several worker
processes on one file safe.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from inspect import isgeneratorfunction
from pathlib import Path
from typing import TypeVar

from pyimapd.search import fuzzy
from pyimapd.search.sql import contains
from pyimapd.storage.interface import ChangeFeed, StorageError, Unavailable
from pyimapd.storage.sql.core import Changed, Query, Routine, WriteBody
from pyimapd.storage.sqlite import schema
from pyimapd.storage.sqlite.textindex import DIALECT
from pyimapd.storage.values import CHUNK_SIZE

T = TypeVar("T")

DB_NAME = "pyimapd.sqlite3"
BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another process's write lock before giving up."""

SMALL_MAILBOX = 2000
"""SELECT and polls try the loop's thread first, bounded to this many rows; past
that they go to a reader thread."""
SMALL_READ = 256 * 1024
"""Section or body bytes read on the event loop's thread."""
READ_CHUNKS_PER_CALL = 16
"""64 KiB chunks read per thread hop when streaming a body (1 MiB at most in memory)."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """The connections of one process to ``DATA_DIR/pyimapd.sqlite3``."""

    def __init__(
        self, data_dir: Path, readers: int = 4, changes: ChangeFeed | None = None
    ) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.changes = changes
        self._data_dir = Path(data_dir)
        self._readers = readers
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._inline: sqlite3.Connection | None = None
        self._inline_writer: sqlite3.Connection | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Creates the data dir (0700) and the file (0600), then the schema."""
        self._prepare_files()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-read")
        await self._run(self._writer, schema.migrate, immediate=False, transaction=False)

    def _prepare_files(self) -> None:
        """Creates the files with tight modes up front: SQLite gives the ``-wal`` and
        ``-shm`` files the mode of the main file, and mail is private."""
        self._data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._data_dir, 0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        """Waits for running work, then closes every connection."""
        for pool in (self._writer, self._reader_pool):
            if pool is not None:
                await asyncio.to_thread(pool.shutdown, True)
        self._writer = self._reader_pool = None
        self._inline = self._inline_writer = None
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    # --- running work ------------------------------------------------------------------

    async def write(self, fn: Callable[..., T], *args: object) -> T:
        """Runs ``fn(conn, *args)`` in one ``BEGIN IMMEDIATE`` transaction on the writer
        thread and returns once it is committed and durable."""
        if self._writer is None:
            raise Unavailable("Store is not started")
        changes: list[Changed] = []
        result = await self._run(self._writer, _bind(fn, args, changes), immediate=True)
        self._announce(changes)
        return result

    def _announce(self, changes: list[Changed]) -> None:
        """Wakes the watchers of what a committed write changed (pyimapd.storage.feed)."""
        if self.changes is None:
            return
        for change in changes:
            for name in change.names:
                self.changes.notify(change.user, name)

    async def read(self, fn: Callable[..., T], *args: object) -> T:
        """Runs ``fn(conn, *args)`` in one read transaction (one snapshot) on a reader."""
        if self._reader_pool is None:
            raise Unavailable("Store is not started")
        return await self._run(self._reader_pool, _bind(fn, args), immediate=False)

    async def read_small(self, fn: Callable[..., T], *args: object) -> T:
        """Like :meth:`read`, but on the calling (event loop) thread, for reads that
        touch a handful of rows and so cannot hold the loop up. WAL readers take no lock
        a writer holds; in the rare case the snapshot cannot be had at once (SQLite says
        busy: the WAL is being reset or recovered) the read goes to a reader thread."""
        if self._reader_pool is None:
            raise Unavailable("Store is not started")
        try:
            conn = self._inline
            if conn is None:
                conn = self._inline = self._loop_connection()
            return self._transaction(conn, _bind(fn, args), immediate=False)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await self.read(fn, *args)

    async def write_unsynced(self, fn: Callable[..., T], *args: object) -> T:
        """Like :meth:`write`, but on the calling (event loop) thread and without an
        fsync (see the module docstring): for small writes whose loss in a power cut
        is harmless. When the write lock is taken (by this process's writer thread or
        another process) it does not wait on the loop: the write goes to the writer
        thread, durable as usual. Its connection never checkpoints (that copies pages
        and fsyncs); the writer thread's does."""
        if self._writer is None:
            raise Unavailable("Store is not started")
        try:
            conn = self._inline_writer
            if conn is None:
                conn = self._inline_writer = self._loop_connection(
                    "PRAGMA synchronous=NORMAL", "PRAGMA wal_autocheckpoint=0")
            changes: list[Changed] = []
            result = self._transaction(conn, _bind(fn, args, changes), immediate=True)
            self._announce(changes)
            return result
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await self.write(fn, *args)

    async def read_bounded(self, fn: Callable[..., T | None], *args: object) -> T:
        """``fn(..., limit)`` on the loop's thread, bounded to :data:`SMALL_MAILBOX`
        rows; past that (``fn`` returns None) ``fn(...)`` on a reader thread."""
        found = await self.read_small(fn, *args, SMALL_MAILBOX)
        if found is None:
            found = await self.read(fn, *args)
        assert found is not None  # no limit, no None
        return found

    async def body_pieces(self, content: int, start: int, end: int) -> list[bytes]:
        """Up to 1 MiB of ``[start, end)`` of a body, read on the loop's thread when
        that is at most :data:`SMALL_READ`."""
        run = self.read_small if end - start <= SMALL_READ else self.read
        return await run(_read_chunks, content, start, end, READ_CHUNKS_PER_CALL)

    async def read_ranges(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        small = sum(end - start for _, start, end in ranges) <= SMALL_READ
        run = self.read_small if small else self.read
        return await run(_read_ranges, list(ranges))

    def _loop_connection(self, *pragmas: str) -> sqlite3.Connection:
        """A connection for the event loop's thread: it never waits for a lock
        (busy_timeout 0), since waiting there would stall every session."""
        conn = open_connection(self.path, busy_timeout_ms=0)
        for pragma in pragmas:
            conn.execute(pragma)
        with self._all_lock:
            self._all.append(conn)
        return conn

    async def _run(
        self, pool: ThreadPoolExecutor, fn: Callable[[sqlite3.Connection], T],
        immediate: bool, transaction: bool = True,
    ) -> T:
        loop = asyncio.get_running_loop()
        job = partial(self._in_thread, fn, immediate, transaction)
        return await loop.run_in_executor(pool, job)

    def _in_thread(
        self, fn: Callable[[sqlite3.Connection], T], immediate: bool, transaction: bool
    ) -> T:
        conn = self._connection()
        try:
            if not transaction:
                return fn(conn)
            return self._transaction(conn, fn, immediate)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise Unavailable("The mail store is busy, try again") from exc
            raise

    @staticmethod
    def _transaction(
        conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], immediate: bool
    ) -> T:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use. Connections never move between
        threads while in use (each pool thread keeps its own); sqlite3's thread check is
        off only so :meth:`close` can close them once the pools have stopped."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn


def _bind(
    fn: Callable[..., T], args: tuple[object, ...], changes: list[Changed] | None = None
) -> Callable[[sqlite3.Connection], T]:
    """A call on a connection: a routine of the SQL core (storage/sql), driven with
    :func:`drive`, or a function taking the connection first (schema and checks)."""
    if isgeneratorfunction(fn):
        def run(conn: sqlite3.Connection) -> T:
            return drive(conn, fn(DIALECT, *args), changes)
        return run

    def call(conn: sqlite3.Connection) -> T:
        return fn(conn, *args)

    return call


def drive(conn: sqlite3.Connection, routine: Routine[T], changes: list[Changed] | None) -> T:
    """Runs a routine of the SQL core on ``conn``, inside the caller's transaction;
    its :class:`Changed` announcements go to ``changes`` (for after the COMMIT)."""
    sent: object = None
    try:
        while True:
            op = routine.send(sent)
            if type(op) is Query:
                sent = _execute(conn, op)
            elif type(op) is Changed:
                if changes is None:
                    raise RuntimeError("a read transaction announced a change")
                changes.append(op)
                sent = None
            else:
                assert isinstance(op, WriteBody)
                _write_body(conn, op)
                sent = None
    except StopIteration as stop:
        result: T = stop.value
        return result


def _execute(conn: sqlite3.Connection, query: Query) -> object:
    kind = query.kind
    if kind == "many":
        conn.executemany(query.sql, query.args)
        return None
    if kind == "tuples":  # no sqlite3.Row per row: for scans of a whole mailbox
        cursor = conn.cursor()
        cursor.row_factory = None
        return cursor.execute(query.sql, query.args).fetchall()
    cursor = conn.execute(query.sql, query.args)
    if kind == "rows":
        return cursor.fetchall()
    if kind == "row":
        return cursor.fetchone()
    if kind == "value":
        found = cursor.fetchone()
        return None if found is None else found[0]
    return cursor.rowcount


def _write_body(conn: sqlite3.Connection, op: WriteBody) -> None:
    """Fills the ``zeroblob`` the content row was inserted with, 64 KiB at a time
    straight from the spool file: incremental blob I/O, never the whole message."""
    if op.size <= 0:
        return
    op.source.seek(0)
    with conn.blobopen("contents", "body", op.content_id) as blob:
        remaining = op.size
        while remaining > 0:
            chunk = op.source.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise StorageError("Message source is shorter than its declared size")
            blob.write(chunk)
            remaining -= len(chunk)


def _read_chunks(
    conn: sqlite3.Connection, content: int, start: int, end: int, count: int
) -> list[bytes]:
    """Up to ``count`` chunks of at most 64 KiB from ``[start, end)`` of a body: blob
    I/O reads the slice in place, never the whole column."""
    try:
        blob = conn.blobopen("contents", "body", content, readonly=True)
    except sqlite3.OperationalError as exc:
        raise StorageError("Message no longer exists") from exc
    chunks: list[bytes] = []
    with blob:
        end = min(end, len(blob))
        blob.seek(min(start, end))
        while start < end and len(chunks) < count:
            n = min(CHUNK_SIZE, end - start)
            chunks.append(blob.read(n))
            start += n
    return chunks


def _read_ranges(
    conn: sqlite3.Connection, ranges: Sequence[tuple[int, int, int]]
) -> list[bytes | None]:
    """``[start, end)`` of each ``(content, start, end)``; None for a missing body."""
    out: list[bytes | None] = []
    for content, start, end in ranges:
        try:
            blob = conn.blobopen("contents", "body", content, readonly=True)
        except sqlite3.OperationalError:
            out.append(None)
            continue
        with blob:
            end = min(end, len(blob))
            if start >= end:
                out.append(b"")
                continue
            blob.seek(start)
            out.append(blob.read(end - start))
    return out


def open_connection(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection with the pragmas every pyimapd connection needs.

    ``isolation_level=None`` turns off the sqlite3 module's implicit transactions: we
    issue BEGIN/COMMIT ourselves. ``foreign_keys`` is per connection in SQLite.
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    conn.create_function("pyimapd_contains", 2, contains, deterministic=True)
    conn.create_function("pyimapd_fuzzy", 2, fuzzy.sql_score, deterministic=True)
    return conn
