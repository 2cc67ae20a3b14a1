"""Contract suite, part 2: messages in the selected state (UIDs, MODSEQ, poll, \\Recent,
FETCH paging, body streaming, STORE, COPY, EXPUNGE, SEARCH), run against every backend."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pyimapd.search.ast import And, Flag, Header, Not, Text, UidIn
from pyimapd.storage.interface import (
    Backend,
    MailStore,
    NoSuchMailbox,
    NotAllowed,
    PreparedMessage,
    SelectedMailbox,
    StorageError,
)

WHEN = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
KIB64 = 64 * 1024


def msg(data: bytes = b"Subject: x\r\n\r\nhello\r\n", **kw: object) -> PreparedMessage:
    return PreparedMessage(io.BytesIO(data), len(data), b"{}", **kw)  # type: ignore[arg-type]


async def add(store: MailStore, n: int, flags: frozenset[str] = frozenset(),
              mailbox: str = "INBOX") -> list[int]:
    return [(await store.append(mailbox, msg(), flags, WHEN)).uid for _ in range(n)]


async def read_all(sel: SelectedMailbox, content: int, start: int, length: int) -> list[bytes]:
    return [chunk async for chunk in sel.read(content, start, length)]


# --- UIDs and MODSEQ -----------------------------------------------------------------------


async def test_uids_ascend_and_are_never_reused(store: MailStore) -> None:
    uids = await add(store, 3)
    assert uids == [1, 2, 3]
    sel, _ = await store.select("INBOX", False)
    await sel.store([3], "+", frozenset({"\\Deleted"}))
    assert await sel.expunge() == [3]
    assert await add(store, 1) == [4]
    assert (await store.status("INBOX")).uidnext == 5


async def test_modseq_bumped_by_every_change(store: MailStore) -> None:
    start = (await store.status("INBOX")).highestmodseq
    await add(store, 2)
    after_append = (await store.status("INBOX")).highestmodseq
    assert after_append == start + 2
    sel, result = await store.select("INBOX", False)
    assert result.highestmodseq == after_append
    updates = await sel.store([1, 2], "+", frozenset({"\\Flagged"}))
    assert [u.uid for u in updates] == [1, 2]
    modseq = (await store.status("INBOX")).highestmodseq
    assert modseq > after_append and all(u.modseq == modseq for u in updates)
    assert await sel.store([1, 2], "+", frozenset({"\\flagged"})) == []  # no change
    assert (await store.status("INBOX")).highestmodseq == modseq
    await sel.store([2], "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    assert (await store.status("INBOX")).highestmodseq == modseq + 2


async def test_store_modes_and_flag_normalisation(store: MailStore) -> None:
    await add(store, 1, frozenset({"\\seen", "Foo", "\\Recent"}))
    sel, result = await store.select("INBOX", False)
    assert result.keywords == {"Foo"}
    records = [r async for r in sel.fetch([(1, 1)], False)]
    assert records[0].flags == {"\\Seen", "Foo"}
    assert await sel.store([1], "+", frozenset({"foo"})) == []  # keywords: case-insensitive
    [u] = await sel.store([1], "+", frozenset({"\\ANSWERED", "Bar"}))
    assert u.flags == {"\\Seen", "Foo", "\\Answered", "Bar"}
    [u] = await sel.store([1], "-", frozenset({"FOO", "\\seen"}))
    assert u.flags == {"\\Answered", "Bar"}
    [u] = await sel.store([1, 99], "", frozenset({"\\Draft"}))
    assert u.flags == {"\\Draft"}
    changes = await sel.poll(0, 1, False)
    assert changes.keywords == {"Foo", "Bar"}  # keywords ever defined stay listed


async def test_readonly_refuses_writes(store: MailStore) -> None:
    await add(store, 1)
    sel, result = await store.select("INBOX", True)
    assert result.readonly and sel.readonly
    with pytest.raises(NotAllowed):
        await sel.store([1], "+", frozenset({"\\Seen"}))
    with pytest.raises(NotAllowed):
        await sel.expunge()


async def test_internaldate_keeps_its_offset(store: MailStore) -> None:
    zone = timezone(timedelta(hours=-5, minutes=-30))
    when = datetime(2023, 12, 31, 23, 59, 58, tzinfo=zone)
    sent = datetime(2023, 12, 30, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    await store.append("INBOX", msg(sent_date=sent), frozenset(), when)
    sel, _ = await store.select("INBOX", True)
    [record] = [r async for r in sel.fetch([(1, 1)], True)]
    assert record.internaldate == when and record.internaldate.utcoffset() == zone.utcoffset(None)
    assert record.structure == b"{}"


# --- poll and \Recent ----------------------------------------------------------------------


async def test_poll_reports_new_flags_and_expunged(backend: Backend, store: MailStore) -> None:
    await add(store, 3)
    sel, start = await store.select("INBOX", False)
    other = await backend.open("alice")
    sel2, _ = await other.select("INBOX", False)
    assert await sel.poll(start.highestmodseq, 3, True) == await sel.poll(
        start.highestmodseq, 3, True)
    quiet = await sel.poll(start.highestmodseq, 3, True)
    assert (quiet.new, quiet.flags, quiet.expunged, quiet.recent) == ((), (), (), frozenset())
    await sel2.store([1, 3], "+", frozenset({"\\Deleted"}))
    await sel2.store([2], "+", frozenset({"kw"}))
    await sel2.expunge([3])
    await add(other, 2)
    changes = await sel.poll(start.highestmodseq, 3, True)
    assert [u.uid for u in changes.new] == [4, 5]
    assert [(u.uid, u.flags) for u in changes.flags] == [(1, {"\\Deleted"}), (2, {"kw"})]
    assert changes.expunged == (3,)
    assert changes.recent == {4, 5}
    assert changes.keywords == {"kw"} and changes.uidnext == 6
    assert changes.highestmodseq == (await store.status("INBOX")).highestmodseq
    later = await sel.poll(changes.highestmodseq, 5, True)
    assert (later.new, later.flags, later.expunged) == ((), (), ())
    # expunged UIDs the session never knew are not reported
    await sel2.store([5], "+", frozenset({"\\Deleted"}))
    await sel2.expunge([5])
    assert (await sel.poll(changes.highestmodseq, 4, True)).expunged == ()


async def test_recent_claimed_by_exactly_one_session(backend: Backend, store: MailStore) -> None:
    await add(store, 20)
    stores = [await backend.open("alice") for _ in range(4)]
    results = await asyncio.gather(*(s.select("INBOX", False) for s in stores))
    claimed = [r.recent for _, r in results]
    assert sum(len(c) for c in claimed) == 20
    assert frozenset().union(*claimed) == frozenset(range(1, 21))
    await add(store, 10)
    polls = await asyncio.gather(*(sel.poll(0, 20, True) for sel, _ in results))
    claimed = [p.recent for p in polls]
    assert sum(len(c) for c in claimed) == 10
    assert frozenset().union(*claimed) == frozenset(range(21, 31))
    assert (await store.status("INBOX")).recent == 0


async def test_readonly_select_reports_recent_without_claiming(store: MailStore) -> None:
    await add(store, 3)
    _, examine = await store.select("INBOX", True)
    assert examine.recent == {1, 2, 3}
    assert (await store.status("INBOX")).recent == 3
    ro, _ = await store.select("INBOX", True)
    await add(store, 1)
    assert (await ro.poll(0, 3, True)).recent == {4}  # read-only: reported, not claimed
    _, writable = await store.select("INBOX", False)
    assert writable.recent == {1, 2, 3, 4}
    _, again = await store.select("INBOX", False)
    assert again.recent == frozenset()


async def test_select_result(store: MailStore) -> None:
    await add(store, 2, frozenset({"\\Seen"}))
    await add(store, 2)
    sel, result = await store.select("inbox", False)
    assert result.name == "INBOX" and sel.name == "INBOX"
    assert list(result.uids) == [1, 2, 3, 4]
    assert result.unseen_uids_first == 3 and result.uidnext == 5
    with pytest.raises(NoSuchMailbox):
        await store.select("missing", False)


# --- FETCH and body streaming --------------------------------------------------------------


async def test_fetch_pages_over_2000_messages(store: MailStore) -> None:
    await add(store, 5)
    sel, _ = await store.select("INBOX", False)
    while (await store.status("INBOX")).messages < 2000:
        status = await store.status("INBOX")
        uids = list(range(1, status.uidnext))
        await sel.copy(uids[: 2000 - status.messages], "INBOX")
    await sel.store(list(range(1, 2001, 7)), "+", frozenset({"\\Deleted"}))
    gone = set(await sel.expunge())
    expected = [u for u in range(1, 2001) if u not in gone]
    got = [r.uid async for r in sel.fetch([(1, 4294967295)], False)]
    assert got == expected
    ranges = [(1500, 1200), (5, 9), (1999, 3000), (7, 8)]
    got = [r.uid async for r in sel.fetch(ranges, True)]
    wanted = {u for lo, hi in ranges for u in range(min(lo, hi), max(lo, hi) + 1)}
    assert got == [u for u in expected if u in wanted]


async def test_fetch_flags_matches_fetch(
    store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flag resync's rows agree with the full records, across pages (a page of 7
    here) and around gaps, ranges given in any order."""
    from pyimapd.storage.sql import backend as sql

    monkeypatch.setattr(sql, "FLAG_PAGE", 7)
    await add(store, 40)
    sel, _ = await store.select("INBOX", False)
    await sel.store(list(range(1, 41, 3)), "+", frozenset({"\\Seen", "$Work"}))
    await sel.store(list(range(2, 41, 5)), "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    ranges = [(30, 12), (1, 3), (38, 99)]
    rows = [row async for page in sel.fetch_flags(ranges) for row in page]
    records = [(r.uid, r.flags, r.modseq) async for r in sel.fetch(ranges, False)]
    assert rows == records and len(rows) > 14
    assert [p async for p in sel.fetch_flags([(200, 300)])] == []


async def test_read_many_ranges_in_one_call(store: MailStore) -> None:
    """Small sections of several messages at once, clipped to each message; None for
    a body that is gone (every copy expunged)."""
    first = b"Subject: one\r\n\r\nfirst body\r\n"
    second = b"Subject: two\r\n\r\nsecond\r\n"
    await store.append("INBOX", msg(first), frozenset(), WHEN)
    await store.append("INBOX", msg(second), frozenset(), WHEN)
    sel, _ = await store.select("INBOX", False)
    one, two = [r async for r in sel.fetch([(1, 2)], False)]
    got = await sel.read_many([(one.content, 0, 14), (two.content, 16, 999),
                               (one.content, 500, 600)])
    assert got == [first[:14], second[16:], b""]
    await sel.store([1], "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    assert await sel.read_many([(one.content, 0, 5), (two.content, 0, 7)]) == [
        None, second[:7]]
    assert await sel.read_many([]) == []


async def test_read_10mb_body_in_chunks(store: MailStore) -> None:
    data = os.urandom(10 * 1024 * 1024 + 123)
    await store.append("INBOX", msg(data), frozenset(), WHEN)
    sel, _ = await store.select("INBOX", True)
    [record] = [r async for r in sel.fetch([(1, 1)], False)]
    assert record.size == len(data)
    chunks = await read_all(sel, record.content, 0, record.size)
    assert max(len(c) for c in chunks) <= KIB64
    assert b"".join(chunks) == data
    part = await read_all(sel, record.content, 1_000_000, 300_000)
    assert b"".join(part) == data[1_000_000:1_300_000]
    tail = await read_all(sel, record.content, len(data) - 10, 1000)
    assert b"".join(tail) == data[-10:]
    assert await read_all(sel, record.content, len(data) + 5, 10) == []


async def test_empty_message_and_short_source(store: MailStore) -> None:
    await store.append("INBOX", msg(b""), frozenset(), WHEN)
    sel, _ = await store.select("INBOX", True)
    [record] = [r async for r in sel.fetch([(1, 1)], False)]
    assert record.size == 0 and await read_all(sel, record.content, 0, 10) == []
    short = PreparedMessage(io.BytesIO(b"abc"), 10, b"{}")
    with pytest.raises(StorageError):
        await store.append("INBOX", short, frozenset(), WHEN)
    assert (await store.status("INBOX")).messages == 1  # nothing half-written


# --- COPY and EXPUNGE ----------------------------------------------------------------------


async def test_copy(store: MailStore) -> None:
    await store.create_mailbox("Dest")
    await add(store, 1, mailbox="Dest")
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    for i in range(4):
        await store.append("INBOX", msg(b"m%d" % i), frozenset({"\\Seen", f"k{i}"}), when)
    sel, _ = await store.select("INBOX", False)
    with pytest.raises(NoSuchMailbox):
        await sel.copy([1], "Nowhere")
    result = await sel.copy([4, 2, 1, 99], "Dest")
    dest = await store.status("Dest")
    assert result.uidvalidity == dest.uidvalidity
    assert result.source_uids == (1, 2, 4) and result.dest_uids == (2, 3, 4)
    assert dest.recent == 4  # copies are \Recent in the destination
    dsel, dres = await store.select("Dest", False)
    assert {"k0", "k1", "k3"} <= dres.keywords
    records = [r async for r in dsel.fetch([(2, 4)], False)]
    assert [r.flags for r in records] == [{"\\Seen", f"k{i}"} for i in (0, 1, 3)]
    assert all(r.internaldate == when for r in records)
    # the copy outlives its source
    await sel.store([1, 2, 3, 4], "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    contents = [b"".join(await read_all(dsel, r.content, 0, r.size)) for r in records]
    assert contents == [b"m0", b"m1", b"m3"]
    assert (await sel.copy([1], "Dest")).dest_uids == ()


async def test_expunge_only_deleted_and_only_given(store: MailStore) -> None:
    await add(store, 6)
    sel, _ = await store.select("INBOX", False)
    await sel.store([2, 3, 5], "+", frozenset({"\\Deleted"}))
    assert await sel.expunge([3, 4, 5, 42]) == [3, 5]
    assert await sel.expunge() == [2]
    assert await sel.expunge() == []
    assert list((await store.select("INBOX", True))[1].uids) == [1, 4, 6]


async def test_expunged_content_cannot_be_read(store: MailStore) -> None:
    await add(store, 1)
    sel, _ = await store.select("INBOX", False)
    [record] = [r async for r in sel.fetch([(1, 1)], False)]
    await sel.store([1], "+", frozenset({"\\Deleted"}))
    await sel.expunge()
    with pytest.raises(StorageError):
        await read_all(sel, record.content, 0, 10)


# --- SEARCH and the change feed ------------------------------------------------------------


async def test_search(store: MailStore) -> None:
    first = msg(b"Subject: Hello W\xc3\xb6rld\r\n\r\nbody\r\n",
                search_headers={"Subject": "Hello Wörld"}, search_text="Body")
    second = msg(search_headers={"subject": "other"}, search_text="body")
    await store.append("INBOX", first, frozenset({"\\Seen"}), WHEN)
    await store.append("INBOX", second, frozenset({"Work"}), WHEN)
    sel, _ = await store.select("INBOX", True)
    assert await sel.search(Header("SUBJECT", "WÖRLD")) == [1]
    assert await sel.search(Flag("work")) == [2]
    assert await sel.search(And((Not(Flag("\\Seen")), UidIn(((1, 5),))))) == [2]
    assert await sel.search(Text("subject: other")) == [2]
    assert await sel.search(Text("BODY")) == [1, 2]


async def test_change_feed_wakes_watchers(backend: Backend, store: MailStore) -> None:
    sub = backend.changes.subscribe("alice", "inbox")
    other = backend.changes.subscribe("alice", "Other")
    try:
        assert await sub.wait(0.01) is False
        await add(store, 2)
        assert await sub.wait(1) is True
        assert await sub.wait(0.01) is False  # two appends, one wake-up
        assert await other.wait(0.01) is False
        sel, _ = await store.select("INBOX", False)
        await sel.store([1], "+", frozenset({"\\Seen"}))
        assert await sub.wait(1) is True
        await store.rename_mailbox("INBOX", "Other")
        assert await sub.wait(1) is True and await other.wait(1) is True
    finally:
        sub.close()
        other.close()
