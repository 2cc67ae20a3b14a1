"""PostgreSQL-only guarantees: migrations, chunked bodies, several nodes on one database
(race-free UIDs and MODSEQs, \\Recent once, cross-node wake-ups), the bounded pool and
freeing of shared contents. The contract suite runs on PostgreSQL too (conftest.py)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from pgutil import fresh_dsn
from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import PreparedMessage
from pyimapd.storage.postgres import PostgresBackend, SchemaOutOfDate
from pyimapd.storage.postgres.backend import split_dsn
from pyimapd.storage.postgres.db import MAX_PAYLOAD, payload
from pyimapd.storage.postgres.schema import BODY_CHUNK, LATEST

WHEN = datetime(2024, 3, 1, tzinfo=UTC)


def msg(data: bytes) -> PreparedMessage:
    return PreparedMessage(io.BytesIO(data), len(data), b"{}")


@pytest.fixture
async def dsn() -> str:
    url = fresh_dsn()
    await PostgresBackend(url, listen=False).migrate()
    return url


@pytest.fixture
async def nodes(dsn: str) -> AsyncIterator[tuple[PostgresBackend, PostgresBackend]]:
    """Two backends on one database, as two server nodes would be."""
    a, b = PostgresBackend(dsn), PostgresBackend(dsn)
    await a.start()
    await b.start()
    await a.users.add_user("u", "h")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_start_refuses_old_schema_and_names_the_command() -> None:
    url = fresh_dsn()
    backend = PostgresBackend(url)
    with pytest.raises(SchemaOutOfDate) as info:
        await backend.start()
    assert "pyimapd db migrate" in info.value.text
    assert await backend.migrate() == (0, LATEST)
    assert await backend.migrate() == (LATEST, LATEST)
    await backend.start()
    await backend.users.add_user("u", "h")
    assert await backend.users.list_users() == ["u"]
    await backend.close()


def test_pool_size_comes_out_of_the_url() -> None:
    assert split_dsn("postgresql://u@h/db?pool_size=3&sslmode=disable") == (
        "postgresql://u@h/db?sslmode=disable", 3)
    assert split_dsn("postgresql://u@h/db") == ("postgresql://u@h/db", None)
    with pytest.raises(ValueError):
        split_dsn("postgresql://u@h/db?pool_size=0")


async def test_large_body_is_chunked_and_read_back_by_ranges(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, _ = nodes
    data = bytes(range(256)) * (3 * BODY_CHUNK // 256) + b"tail" * 1001
    store = await a.open("u")
    await store.append("INBOX", msg(data), frozenset(), WHEN)
    async with a.db._require_pool().acquire() as conn:
        chunks = await conn.fetch("SELECT seq, length(data) AS n FROM body_chunks ORDER BY seq")
    assert [r["seq"] for r in chunks] == [0, 1, 2, 3]
    assert all(r["n"] <= BODY_CHUNK for r in chunks)
    sel, _ = await store.select("INBOX", True)
    [record] = [r async for r in sel.fetch([(1, 1)], False)]
    whole = [p async for p in sel.read(record.content, 0, record.size)]
    assert b"".join(whole) == data and max(map(len, whole)) <= 64 * 1024
    for start, length in [(BODY_CHUNK - 5, 10), (0, 1), (2 * BODY_CHUNK, BODY_CHUNK),
                          (len(data) - 3, 100), (len(data) + 5, 10)]:
        got = b"".join([p async for p in sel.read(record.content, start, length)])
        assert got == data[start:start + length], (start, length)


async def test_concurrent_appends_on_two_nodes_get_distinct_ascending_uids(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    stores = [await a.open("u"), await b.open("u")]
    per_node = 25

    async def appender(i: int) -> list[int]:
        uids = []
        for n in range(per_node):
            result = await stores[i].append("INBOX", msg(b"m%d-%d" % (i, n)), frozenset(), WHEN)
            uids.append(result.uid)
        return uids

    results = await asyncio.gather(*(appender(i % 2) for i in range(4)))
    all_uids = sorted(u for uids in results for u in uids)
    assert all_uids == list(range(1, 4 * per_node + 1))
    for uids in results:
        assert uids == sorted(uids)
    sel, res = await stores[1].select("INBOX", True)
    assert list(res.uids) == all_uids and res.highestmodseq == 1 + 4 * per_node
    modseqs = [r.modseq async for r in sel.fetch([(1, 1000)], False)]
    assert len(set(modseqs)) == len(modseqs)


async def test_concurrent_stores_on_two_nodes_each_take_a_modseq(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    sa = await a.open("u")
    for _ in range(3):
        await sa.append("INBOX", msg(b"x"), frozenset(), WHEN)
    sel_a, _ = await sa.select("INBOX", False)
    sel_b, _ = await (await b.open("u")).select("INBOX", False)
    keywords = [f"k{i}" for i in range(20)]
    updates = await asyncio.gather(*(
        (sel_a if i % 2 else sel_b).store([1, 2, 3], "+", frozenset({k}))
        for i, k in enumerate(keywords)
    ))
    modseqs = sorted(u[0].modseq for u in updates)
    assert modseqs == sorted(set(modseqs)) and len(modseqs) == 20
    [first, *_] = [r async for r in sel_a.fetch([(1, 1)], False)]
    assert {k for k in first.flags} == set(keywords)  # no lost update


async def test_recent_is_claimed_by_one_node_only(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    sa, sb = await a.open("u"), await b.open("u")
    for _ in range(5):
        await sa.append("INBOX", msg(b"r"), frozenset(), WHEN)
    (_, ra), (_, rb) = await asyncio.gather(sa.select("INBOX", False), sb.select("INBOX", False))
    assert ra.recent | rb.recent == {1, 2, 3, 4, 5}
    assert not ra.recent & rb.recent


async def test_change_on_one_node_wakes_a_watcher_on_the_other(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    watch = b.changes.subscribe("u", "INBOX")
    await watch.wait(0)
    store = await a.open("u")
    latencies = []
    for _ in range(10):
        started = time.monotonic()
        await store.append("INBOX", msg(b"n"), frozenset(), WHEN)
        assert await watch.wait(5.0)
        latencies.append(time.monotonic() - started)
    watch.close()
    assert max(latencies) < 2.0  # generous: the machine is shared; bench/ measures


async def test_own_notifications_are_not_delivered_twice(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, _ = nodes
    watch = a.changes.subscribe("u", "INBOX")
    store = await a.open("u")
    await store.append("INBOX", msg(b"x"), frozenset(), WHEN)
    assert await watch.wait(0)  # woken at commit, directly
    assert not await watch.wait(0.5)  # and not again by its own NOTIFY
    watch.close()


async def test_listener_reconnects_and_wakes_every_watcher(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    assert b.listener is not None and b.listener.connects == 1
    watch = b.changes.subscribe("u", "Anything")
    await watch.wait(0)
    async with a.db._require_pool().acquire() as conn:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'"
        )
    assert await watch.wait(10.0)  # woken so the session re-polls what it may have missed
    assert b.listener.connects >= 2
    other = b.changes.subscribe("u", "INBOX")
    await (await a.open("u")).append("INBOX", msg(b"after"), frozenset(), WHEN)
    assert await other.wait(5.0)  # and notifications flow again
    watch.close()
    other.close()


async def test_pool_is_bounded(dsn: str) -> None:
    backend = PostgresBackend(dsn + "&pool_size=2")
    await backend.start()
    await backend.users.add_user("u", "h")
    store = await backend.open("u")
    await asyncio.gather(*(store.status("INBOX") for _ in range(40)),
                         *(store.append("INBOX", msg(b"p"), frozenset(), WHEN) for _ in range(10)))
    pool = backend.db._require_pool()
    assert pool.get_size() <= 2
    assert (await store.status("INBOX")).messages == 10
    await backend.close()


async def test_shared_content_freed_with_its_last_message(
    nodes: tuple[PostgresBackend, PostgresBackend],
) -> None:
    a, b = nodes
    sa = await a.open("u")
    await sa.create_mailbox("B")
    await sa.append("INBOX", msg(b"z" * (BODY_CHUNK + 1)), frozenset({"\\Deleted"}), WHEN)
    sel, _ = await sa.select("INBOX", False)
    await sel.copy([1], "B")
    sel_b, _ = await (await b.open("u")).select("B", False)
    await sel_b.store([1], "+", frozenset({"\\Deleted"}))
    await asyncio.gather(sel.expunge(), sel_b.expunge())  # last two references, at once

    async def count(table: str) -> int:
        async with a.db._require_pool().acquire() as conn:
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))

    assert await count("contents") == 0 and await count("body_chunks") == 0


def test_long_mailbox_names_fall_back_to_a_user_wide_wake_up() -> None:
    assert payload("n", "u", "INBOX") == '["n", "u", "INBOX"]'
    long = payload("n", "u", "é" * MAX_PAYLOAD)
    assert long == '["n", "u", null]'


async def test_user_wide_wake_up_reaches_every_mailbox_of_the_user() -> None:
    feed = LocalChangeFeed()
    inbox, other, stranger = (feed.subscribe("u", "INBOX"), feed.subscribe("u", "X"),
                              feed.subscribe("v", "INBOX"))
    feed.deliver_all("u")
    assert await inbox.wait(0) and await other.wait(0) and not await stranger.wait(0)
    feed.deliver_all()
    assert await stranger.wait(0)
