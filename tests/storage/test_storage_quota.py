"""Contract suite: quota (RFC 9208) and MULTIAPPEND's append_many (RFC 3502), on every
backend."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from pyimapd.storage.interface import (
    AppendItem,
    Backend,
    MailStore,
    NoSuchMailbox,
    NoSuchUser,
    OverQuota,
    PreparedMessage,
    QuotaLimits,
)

WHEN = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def item(size: int, flags: frozenset[str] = frozenset()) -> AppendItem:
    data = b"Subject: q\r\n\r\n" + b"x" * (size - 16) + b"\r\n"
    assert len(data) == size
    return AppendItem(PreparedMessage(io.BytesIO(data), size, b"{}"), flags, WHEN)


async def test_limits_default_to_unlimited_and_round_trip(backend: Backend) -> None:
    assert await backend.users.get_quota("alice") == QuotaLimits()
    await backend.users.set_quota("alice", QuotaLimits(storage_kib=10, messages=3))
    assert await backend.users.get_quota("alice") == QuotaLimits(10, 3)
    await backend.users.set_quota("alice", QuotaLimits(messages=5))
    assert await backend.users.get_quota("alice") == QuotaLimits(None, 5)
    with pytest.raises(NoSuchUser):
        await backend.users.get_quota("nobody")
    with pytest.raises(NoSuchUser):
        await backend.users.set_quota("nobody", QuotaLimits(1))
    with pytest.raises(ValueError):
        QuotaLimits(storage_kib=-1)


async def test_usage_counts_every_mailbox(backend: Backend, store: MailStore) -> None:
    await store.create_mailbox("Other")
    await store.append_many("INBOX", [item(100), item(200)])
    await store.append_many("Other", [item(300)])
    usage = await store.quota()
    assert (usage.storage, usage.messages, usage.limits) == (600, 3, QuotaLimits())


async def test_storage_limit_refuses_the_append_that_exceeds_it(
    backend: Backend, store: MailStore
) -> None:
    await backend.users.set_quota("alice", QuotaLimits(storage_kib=1))
    await store.append("INBOX", item(1000).message, frozenset(), WHEN)
    with pytest.raises(OverQuota) as refused:
        await store.append("INBOX", item(100).message, frozenset(), WHEN)
    assert refused.value.code == "OVERQUOTA"
    await store.append("INBOX", item(24).message, frozenset(), WHEN)  # exactly 1024
    status = await store.status("INBOX")
    assert (status.messages, status.size, status.uidnext) == (2, 1024, 3)


async def test_message_limit_and_atomic_append_many(backend: Backend, store: MailStore) -> None:
    await backend.users.set_quota("alice", QuotaLimits(messages=3))
    await store.append_many("INBOX", [item(50)])
    before = await store.status("INBOX")
    with pytest.raises(OverQuota):
        await store.append_many("INBOX", [item(50), item(60), item(70)])
    after = await store.status("INBOX")
    assert after == before  # none stored, no UID or MODSEQ taken
    results = await store.append_many("INBOX", [item(60), item(70)])
    assert [r.uid for r in results] == [2, 3]


async def test_append_many_takes_consecutive_uids_and_one_modseq(store: MailStore) -> None:
    before = await store.status("INBOX")
    results = await store.append_many(
        "INBOX", [item(40, frozenset({"\\Seen"})), item(50), item(60, frozenset({"kw"}))])
    assert [r.uid for r in results] == [1, 2, 3]
    assert {r.uidvalidity for r in results} == {before.uidvalidity}
    status = await store.status("INBOX")
    assert status.highestmodseq == before.highestmodseq + 1 and status.unseen == 2
    sel, snap = await store.select("INBOX", True)
    records = [r async for r in sel.fetch([(1, 3)], False)]
    assert [r.size for r in records] == [40, 50, 60]
    assert [set(r.flags) for r in records] == [{"\\Seen"}, set(), {"kw"}]
    assert "kw" in snap.keywords
    with pytest.raises(NoSuchMailbox):
        await store.append_many("Missing", [item(40)])


async def test_copy_counts_and_move_does_not(backend: Backend, store: MailStore) -> None:
    await store.create_mailbox("Dest")
    await store.append_many("INBOX", [item(400), item(400)])
    await backend.users.set_quota("alice", QuotaLimits(storage_kib=1))
    sel, _ = await store.select("INBOX", False)
    with pytest.raises(OverQuota):
        await sel.copy([1, 2], "Dest")
    assert (await store.status("Dest")).messages == 0
    await backend.users.set_quota("alice", QuotaLimits(storage_kib=0))  # lowered below use
    moved = await sel.move([1, 2], "Dest")  # adds nothing: never refused
    assert moved.dest_uids == (1, 2)
    dsel, _ = await store.select("Dest", False)
    await dsel.store([1], "+", frozenset({"\\Deleted"}))
    status = await store.status("Dest")
    assert (status.deleted, status.deleted_size) == (1, 400)
    assert await dsel.expunge() == [1]
    assert (await store.quota()).storage == 400
