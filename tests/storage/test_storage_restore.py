"""Contract suite: a migration's counters and UIDs (issue 20) on every backend: an
empty mailbox takes another server's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, messages
keep their UIDs (gaps included), and nothing lets a UID go backwards."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from pyimapd.storage.interface import AppendItem, MailStore, NotAllowed, PreparedMessage

WHEN = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


def item(uid: int | None, flags: frozenset[str] = frozenset()) -> AppendItem:
    data = f"Subject: {uid}\r\n\r\nbody\r\n".encode()
    return AppendItem(PreparedMessage(io.BytesIO(data), len(data), b"{}"), flags, WHEN, uid)


async def test_restore_keeps_counters_and_uids(store: MailStore) -> None:
    await store.restore_mailbox("Lists/Work", 1796647686, 5, 9)
    st = await store.status("Lists/Work")
    assert (st.uidvalidity, st.uidnext, st.highestmodseq, st.messages) == (1796647686, 5, 9, 0)
    results = await store.append_many("Lists/Work", [item(1), item(3, frozenset({"$Work"}))])
    assert [(r.uidvalidity, r.uid) for r in results] == [(1796647686, 1), (1796647686, 3)]
    st = await store.status("Lists/Work")
    assert (st.uidnext, st.messages) == (5, 2)
    # Messages below the restored UIDNEXT belong to the old server's state: they carry
    # its HIGHESTMODSEQ, so a client that cached 9 sees nothing new after the switch.
    assert st.highestmodseq == 9
    selected, _ = await store.select("Lists/Work", readonly=True)
    assert [m for page in [p async for p in selected.fetch_flags([(1, 3)])]
            for _, _, m in page] == [9, 9]
    await selected.close()
    # An append without a kept UID goes on from UIDNEXT, with a new MODSEQ.
    assert (await store.append_many("Lists/Work", [item(None)]))[0].uid == 5
    assert (await store.status("Lists/Work")).highestmodseq == 10
    # Kept UIDs above UIDNEXT move it.
    assert (await store.append_many("Lists/Work", [item(9)]))[0].uid == 9
    st = await store.status("Lists/Work")
    assert (st.uidnext, st.highestmodseq) == (10, 11)  # above UIDNEXT: new mail
    found = {r.name: r.noselect for r in await store.list_mailboxes()}
    assert found["Lists"] and not found["Lists/Work"]  # the level is a placeholder
    await store.restore_mailbox("Lists", 555, 1, 1)  # unless it was a mailbox too
    assert not {r.name: r.noselect for r in await store.list_mailboxes()}["Lists"]


async def test_uids_never_go_backwards(store: MailStore) -> None:
    await store.restore_mailbox("Old", 77, 1, 1)
    await store.append_many("Old", [item(4)])
    with pytest.raises(NotAllowed):
        await store.append_many("Old", [item(2)])  # below the highest
    with pytest.raises(NotAllowed):
        await store.append_many("Old", [item(6), item(5)])  # not ascending
    with pytest.raises(NotAllowed):
        await store.append_many("Old", [item(7), item(None)])  # all or none
    with pytest.raises(NotAllowed):
        await store.restore_mailbox("Old", 78, 10, 5)  # has messages now
    assert (await store.status("Old")).uidvalidity == 77
    with pytest.raises(NotAllowed):
        await store.restore_mailbox("Zero", 0, 1, 1)


async def test_restore_an_existing_empty_mailbox(store: MailStore) -> None:
    await store.create_mailbox("Drafts")
    await store.restore_mailbox("Drafts", 1234, 42, 100)
    st = await store.status("Drafts")
    assert (st.uidvalidity, st.uidnext, st.highestmodseq) == (1234, 42, 100)
    await store.restore_mailbox("INBOX", 99, 3, 7)
    assert (await store.status("INBOX")).uidvalidity == 99
