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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from pyimapd.search.sql import contains
from pyimapd.storage.interface import Unavailable
from pyimapd.storage.sqlite import schema

T = TypeVar("T")

DB_NAME = "pyimapd.sqlite3"
BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another process's write lock before giving up."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """The connections of one process to ``DATA_DIR/pyimapd.sqlite3``."""

    def __init__(self, data_dir: Path, readers: int = 4) -> None:
        self.path = Path(data_dir) / DB_NAME
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
        return await self._run(self._writer, _bind(fn, args), immediate=True)

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
            return self._transaction(conn, _bind(fn, args), immediate=True)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await self.write(fn, *args)

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


def _bind(fn: Callable[..., T], args: tuple[object, ...]) -> Callable[[sqlite3.Connection], T]:
    """``fn`` with its arguments bound after the connection, which comes first."""

    def call(conn: sqlite3.Connection) -> T:
        return fn(conn, *args)

    return call


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
    return conn
