"""SQLite-only guarantees: file modes, pragmas, shared contents, several backends (as
worker processes would) on one file, and durability across SIGKILL."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from inspect import isgeneratorfunction
from pathlib import Path

import pytest

from pyimapd.storage.interface import PreparedMessage
from pyimapd.storage.sql.core import SQLITE
from pyimapd.storage.sqlite import SqliteBackend, schema
from pyimapd.storage.sqlite.db import drive

WHEN = datetime(2024, 3, 1, tzinfo=UTC)


def msg(data: bytes) -> PreparedMessage:
    return PreparedMessage(io.BytesIO(data), len(data), b"{}")


def body(index: int) -> bytes:
    """Deterministic content of the ``index``-th message; some span many blob chunks."""
    size = 200_000 if index % 5 == 0 else 300 + index
    return (f"Message {index} ".encode() * (size // 10 + 1))[:size]


async def test_files_and_pragmas(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "data")
    await backend.start()
    await backend.users.add_user("u", "h")
    await backend.close()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    db = tmp_path / "data" / "pyimapd.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = conn.execute("SELECT version FROM schema_version").fetchone()[0]
    assert version == len(schema.MIGRATIONS)
    conn.close()


async def test_contents_shared_by_copies_and_freed(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "data")
    await backend.start()
    await backend.users.add_user("u", "h")
    store = await backend.open("u")
    await store.create_mailbox("B")
    await store.append("INBOX", msg(b"shared"), frozenset(), WHEN)
    sel, _ = await store.select("INBOX", False)
    await sel.copy([1], "B")
    await sel.copy([1], "INBOX")

    def count() -> int:
        conn = sqlite3.connect(backend.db.path)
        try:
            return int(conn.execute("SELECT count(*) FROM contents").fetchone()[0])
        finally:
            conn.close()

    assert count() == 1
    await sel.store([1, 2], "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    assert count() == 1
    await store.delete_mailbox("B")
    assert count() == 0
    await backend.close()


async def test_two_backends_on_one_file(tmp_path: Path) -> None:
    """Two instances stand for two worker processes: nothing may be cached."""
    first, second = SqliteBackend(tmp_path / "d"), SqliteBackend(tmp_path / "d")
    await first.start()
    await second.start()
    await first.users.add_user("u", "h")
    a, b = await first.open("u"), await second.open("u")

    async def append(store: object, n: int) -> list[int]:
        return [(await store.append("INBOX", msg(b"x"), frozenset(), WHEN)).uid  # type: ignore[attr-defined]
                for _ in range(n)]

    got = await asyncio.gather(append(a, 40), append(b, 40))
    assert sorted(got[0] + got[1]) == list(range(1, 81))
    (sa, ra), (sb, rb) = await asyncio.gather(a.select("INBOX", False), b.select("INBOX", False))
    assert len(ra.recent) + len(rb.recent) == 80 and not (ra.recent & rb.recent)
    await sb.store([1], "+", frozenset({"\\Seen"}))
    changes = await sa.poll(ra.highestmodseq, 80, True)
    assert [u.uid for u in changes.flags] == [1]
    await first.close()
    await second.close()


CHILD = textwrap.dedent(
    """
    import asyncio, io, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from pyimapd.storage.interface import PreparedMessage
    from pyimapd.storage.sqlite import SqliteBackend

    def body(index):
        size = 200_000 if index % 5 == 0 else 300 + index
        return (f"Message {index} ".encode() * (size // 10 + 1))[:size]

    async def main():
        backend = SqliteBackend(Path(sys.argv[1]))
        await backend.start()
        store = await backend.open("u")
        index = 0
        while True:
            index += 1
            data = body(index)
            message = PreparedMessage(io.BytesIO(data), len(data), b"{}")
            result = await store.append("INBOX", message, frozenset({"\\\\Seen"}),
                                        datetime.now(UTC))
            print(result.uid, index, flush=True)

    asyncio.run(main())
    """
)


async def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backend = SqliteBackend(data_dir)
    await backend.start()
    await backend.users.add_user("u", "h")
    await backend.close()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)], stdout=subprocess.PIPE, env=env,
    )
    acknowledged: dict[int, int] = {}
    assert child.stdout is not None
    while len(acknowledged) < 40:
        line = child.stdout.readline()
        assert line, "child died before acknowledging enough messages"
        uid, index = map(int, line.split())
        acknowledged[uid] = index
    child.send_signal(signal.SIGKILL)
    child.wait()
    for line in child.stdout.read().splitlines():  # acknowledged before the kill landed
        uid, index = map(int, line.split())
        acknowledged[uid] = index
    child.stdout.close()

    backend = SqliteBackend(data_dir)
    await backend.start()
    store = await backend.open("u")
    sel, _ = await store.select("INBOX", True)
    records = {r.uid: r async for r in sel.fetch([(1, 1 << 32)], False)}
    for uid, index in acknowledged.items():
        record = records[uid]
        content = b"".join([c async for c in sel.read(record.content, 0, record.size)])
        assert content == body(index) and record.flags == {"\\Seen"}
    await backend.close()


async def test_small_reads_on_the_loop_fall_back_to_a_thread_when_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_small`` runs on the calling thread; when SQLite cannot give it a snapshot
    at once (busy), the same read runs on a reader thread instead of failing."""
    import threading

    from pyimapd.storage.sqlite.db import Database

    db = Database(tmp_path / "data")
    await db.start()

    def where(conn: sqlite3.Connection) -> str:
        conn.execute("SELECT 1").fetchone()
        return threading.current_thread().name

    try:
        assert await db.read_small(where) == threading.current_thread().name
        real = Database._transaction
        calls: list[str] = []

        def busy_on_loop(conn: sqlite3.Connection, fn, immediate: bool):  # type: ignore[no-untyped-def]
            calls.append(threading.current_thread().name)
            if threading.current_thread() is threading.main_thread():
                raise sqlite3.OperationalError("database is locked")
            return real(conn, fn, immediate)

        monkeypatch.setattr(Database, "_transaction", staticmethod(busy_on_loop))
        name = await db.read_small(where)
        assert name.startswith("sqlite-read") and len(calls) == 2
    finally:
        await db.close()


async def test_unsynced_writes_run_on_the_loop_unless_the_lock_is_taken(tmp_path: Path) -> None:
    """``write_unsynced`` commits on the calling thread without an fsync; while another
    connection (here another process's, as a second connection) holds the write lock it
    does not wait on the loop but goes to the writer thread, which waits its turn."""
    import threading

    from pyimapd.storage.sqlite.db import Database

    db = Database(tmp_path / "data")
    await db.start()

    def bump(conn: sqlite3.Connection, value: int) -> str:
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        return threading.current_thread().name

    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        assert await db.write_unsynced(bump, 1) == threading.current_thread().name
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.ensure_future(db.write_unsynced(bump, 2))
        await asyncio.sleep(0.2)
        assert not pending.done()  # waiting on the writer thread, not failed
        other.execute("COMMIT")
        assert (await pending).startswith("sqlite-writer")
        rows = other.execute("SELECT v FROM t ORDER BY v").fetchall()
        assert rows == [(1,), (2,)]
    finally:
        other.close()
        await db.close()


async def test_flag_index_follows_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-process copy behind a large flag FETCH answers exactly what SQLite does
    after every kind of change, made by this process or another one on the same file
    (new messages, flag changes, expunges, MOVE away, many changes at once), and a
    re-created mailbox is refused like any other read of the old one. SELECT's UID
    list, taken from the copy when it is exact, matches too."""
    import random

    from pyimapd.storage.interface import NoSuchMailbox
    from pyimapd.storage.sql import flagindex
    from pyimapd.storage.sql import messages as sqlite_messages

    monkeypatch.setattr(flagindex, "MIN_SPAN", 10)
    first, second = SqliteBackend(tmp_path / "d"), SqliteBackend(tmp_path / "d")
    await first.start()
    await second.start()
    await first.users.add_user("u", "h")
    here, there = await first.open_owner("u"), await second.open_owner("u")
    await here.create_mailbox("Other")
    for _ in range(60):
        await there.append("INBOX", msg(b"x"), frozenset(), WHEN)
    sel, result = await here.select("INBOX", False)
    other, _ = await there.select("INBOX", False)
    rng = random.Random(5)

    async def check() -> None:
        via_index = [row async for page in sel.fetch_flags([(1, 10_000)]) for row in page]
        direct = await first.db.read(sqlite_messages.flag_page, sel._id, 1, 10_000, 100_000)
        assert via_index == direct
        assert first.flag_index._copies  # the copy was used, not the direct path
        _, again = await here.select("INBOX", True)  # its UID list may come from the copy
        assert list(again.uids) == [row[0] for row in direct]

    await check()
    for step in range(40):
        uids = [r[0] async for page in sel.fetch_flags([(1, 10_000)]) for r in page]
        actor = rng.choice([sel, other])
        action = rng.choice(["flags", "flags", "append", "expunge", "move", "bulk"])
        picked = rng.sample(uids, min(len(uids), rng.randint(1, 4)))
        if action == "flags":
            flag = rng.choice(["\\Seen", "\\Flagged", "$Work", "$Later"])
            await actor.store(picked, rng.choice("+-"), frozenset({flag}))
        elif action == "append":
            await rng.choice([here, there]).append("INBOX", msg(b"y"), frozenset({"$New"}), WHEN)
        elif action == "expunge":
            await actor.store(picked, "+", frozenset({"\\Deleted"}))
            await actor.expunge(picked)
        elif action == "move":
            await actor.move(picked, "Other")
        else:  # more than a quarter of the mailbox changes: the copy is read anew
            await actor.store(uids, "+", frozenset({f"$Bulk{step}"}))
        await check()
    await there.delete_mailbox("Other")
    await there.create_mailbox("Other")
    moved, _ = await here.select("Other", False)
    await there.delete_mailbox("Other")
    with pytest.raises(NoSuchMailbox):
        [row async for page in moved.fetch_flags([(1, 10_000)]) for row in page]
    await first.close()
    await second.close()


def test_flag_index_memory_is_bounded() -> None:
    """Least recently used copies go first; a copy larger than the bound is not kept."""
    from array import array

    from pyimapd.storage.sql.flagindex import FlagCopy, FlagIndex

    index = FlagIndex(db=None, max_rows=100)  # type: ignore[arg-type]

    def copy(n: int) -> FlagCopy:
        return FlagCopy(1, 1, array("q", range(1, n + 1)), [frozenset()] * n,
                        array("q", [1] * n))

    index._keep(1, copy(40))
    index._keep(2, copy(40))
    index._keep(1, copy(40))  # used again: 2 is now the oldest
    index._keep(3, copy(40))
    assert list(index._copies) == [1, 3]
    index._keep(4, copy(101))
    assert 4 not in index._copies


async def test_polls_read_only_what_changed(tmp_path: Path) -> None:
    """A poll after one flag change, and the flag copy's catch-up, find the changed rows
    by MODSEQ: the work SQLite does stays far below a walk of the mailbox (left to
    itself the planner walked the primary key to save a sort). Counted in VM steps."""
    from pyimapd.storage.interface import AppendItem
    from pyimapd.storage.sql import messages as sqlite_messages

    backend = SqliteBackend(tmp_path / "d")
    await backend.start()
    await backend.users.add_user("u", "h")
    store = await backend.open_owner("u")
    items = [AppendItem(msg(b"m%d" % i), frozenset(), WHEN) for i in range(3000)]
    await store.append_many("INBOX", items)
    sel, result = await store.select("INBOX", False)
    await sel.store([1500], "+", frozenset({"\\Seen"}))
    await sel.store([1501], "+", frozenset({"\\Deleted"}))
    await sel.expunge([1501])

    def steps(conn: sqlite3.Connection, fn: object, *args: object) -> tuple[object, int]:
        count = [0]

        def tick() -> int:
            count[0] += 1
            return 0

        conn.set_progress_handler(tick, 100)
        try:
            if isgeneratorfunction(fn):  # a routine of the SQL core
                return drive(conn, fn(SQLITE, *args), None), count[0] * 100
            return fn(conn, *args), count[0] * 100  # type: ignore[operator]
        finally:
            conn.set_progress_handler(None, 0)

    since = result.highestmodseq
    (snap, new, changed, expunged), poll_steps = await backend.db.read(
        steps, sqlite_messages.poll_snapshot, sel._id, result.uidvalidity, since, 3000)
    assert [u.uid for u in changed] == [1500] and expunged == [1501] and not new
    delta, delta_steps = await backend.db.read(
        steps, sqlite_messages.flag_delta, sel._id, result.uidvalidity, since, 1000)
    assert [row[0] for row in delta.changed] == [1500] and delta.expunged == [1501]
    (_, walk_steps) = await backend.db.read(
        steps, lambda conn: conn.execute(
            "SELECT count(*) FROM messages WHERE mailbox_id = ? AND sysflags >= 0",
            (sel._id,)).fetchone())
    assert walk_steps > 10_000
    assert poll_steps < walk_steps / 10 and delta_steps < walk_steps / 10
    await backend.close()
