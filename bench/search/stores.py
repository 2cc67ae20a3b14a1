"""The pyimapd stores of bench/search: loading them, the full-text index's size next to
the store's, and what indexing costs an APPEND (issue 17).

How this works: the large mailbox is loaded through the store API in MULTIAPPEND
transactions of :data:`LOAD_BATCH` (the index filled in each, as APPEND fills it), which
is quicker to set up than 100,000 fsynced transactions; what one APPEND costs is
measured apart by :func:`append_cost`, on a fresh store, each message its own fsynced
transaction as the server does it, once with the index and once without it (SQLite: the
SQL core driven with the plain dialect, which skips the FTS5 inserts; PostgreSQL: the
GIN indexes dropped).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

LOAD_BATCH = 500
Message = tuple[bytes, str, datetime]


async def load(backend: Any, user: str, msgs: list[Message]) -> float:
    """Loads ``msgs`` into ``user``'s INBOX; returns the seconds it took."""
    from pyimapd.delivery import prepare_bytes
    from pyimapd.storage.interface import AppendItem

    await backend.start()
    store = await backend.open(user)
    t0 = time.perf_counter()
    try:
        for first in range(0, len(msgs), LOAD_BATCH):
            spooled = []
            for data, flags, when in msgs[first : first + LOAD_BATCH]:
                spool, prepared = await prepare_bytes(data)
                spooled.append((spool, AppendItem(prepared, frozenset(flags.split()), when)))
            try:
                await store.append_many("INBOX", [item for _, item in spooled])
            finally:
                for spool, _ in spooled:
                    spool.close()
    finally:
        await backend.close()
    return time.perf_counter() - t0


def sqlite_sizes(data_dir: Path) -> tuple[int, int]:
    """(index bytes, store bytes): the FTS5 tables' pages (``dbstat``) and the file."""
    import sqlite3

    path = data_dir / "pyimapd.sqlite3"
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index = conn.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'content_body_fts%'"
            " OR name LIKE 'content_lines_fts%'").fetchone()[0]
    finally:
        conn.close()
    return int(index or 0), path.stat().st_size


async def postgres_sizes(dsn: str) -> tuple[int, int]:
    """(index bytes, store bytes): the two GIN indexes and the database."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        index = await conn.fetchval(
            "SELECT pg_relation_size('contents_text_trgm')"
            " + pg_relation_size('content_lines_trgm')")
        total = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return int(index), int(total)


async def _timed_appends(backend: Any, user: str, msgs: list[Message]) -> float:
    """Median milliseconds of one APPEND's server-side work on a started backend: the
    spool and MIME parse (which extracts the search text) and the fsynced store."""
    from pyimapd.delivery import prepare_bytes

    store = await backend.open(user)
    times = []
    for data, flags, when in msgs:
        t0 = time.perf_counter()
        spool, prepared = await prepare_bytes(data)
        try:
            await store.append("INBOX", prepared, frozenset(flags.split()), when)
            times.append(time.perf_counter() - t0)
        finally:
            spool.close()
    return statistics.median(times) * 1000


async def sqlite_append_cost(base: Path, user: str, msgs: list[Message]) -> tuple[float, float]:
    """(ms without the index, ms with it) per APPEND, each on a fresh data dir."""
    from pyimapd.storage.sql.core import SQLITE
    from pyimapd.storage.sqlite import SqliteBackend, db

    out = []
    for indexed in (False, True):
        backend = SqliteBackend(base / f"append-{indexed}")
        await backend.start()
        await backend.users.add_user(user, "x", default_mailboxes=False)
        saved = db.DIALECT
        if not indexed:
            db.DIALECT = SQLITE  # the core without FTS5: APPEND as before the index
        try:
            out.append(await _timed_appends(backend, user, msgs))
        finally:
            db.DIALECT = saved
            await backend.close()
    return out[0], out[1]


async def postgres_append_cost(dsn: str, user: str, msgs: list[Message]) -> tuple[float, float]:
    """(ms without the GIN indexes, ms with them) per APPEND, on a fresh schema each."""
    import asyncpg

    from pyimapd.storage.postgres import PostgresBackend

    out = []
    for indexed in (False, True):
        schema = f"append_{int(indexed)}"
        admin = await asyncpg.connect(dsn)
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        await admin.close()
        url = f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"
        backend = PostgresBackend(url)
        await backend.migrate()
        await backend.start()
        await backend.users.add_user(user, "x", default_mailboxes=False)
        if not indexed:
            conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
            await conn.execute("DROP INDEX contents_text_trgm; DROP INDEX content_lines_trgm")
            await conn.close()
        try:
            out.append(await _timed_appends(backend, user, msgs))
        finally:
            await backend.close()
    return out[0], out[1]


def append_costs(base: Path, dsn: str | None, user: str, msgs: list[Message]) -> dict[str, Any]:
    result: dict[str, Any] = {"sqlite": asyncio.run(sqlite_append_cost(base, user, msgs))}
    if dsn is not None:
        result["postgres"] = asyncio.run(postgres_append_cost(dsn, user, msgs))
    return result
