"""Contract suite, part 3: what the IMAP extensions need from every backend (MOVE,
UID EXPUNGE, CONDSTORE/QRESYNC data, special-use, quota)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from pyimapd.storage.interface import (
    Backend,
    MailStore,
    NoSuchMailbox,
    NotAllowed,
    PreparedMessage,
)

WHEN = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


async def add(store: MailStore, n: int, mailbox: str = "INBOX",
              flags: frozenset[str] = frozenset()) -> list[int]:
    uids = []
    for i in range(n):
        data = b"Subject: %d\r\n\r\nbody\r\n" % i
        message = PreparedMessage(io.BytesIO(data), len(data), b"{}")
        uids.append((await store.append(mailbox, message, flags, WHEN)).uid)
    return uids


# --- MOVE (RFC 6851) -----------------------------------------------------------------------


async def test_move_copies_and_expunges_in_one_step(backend: Backend, store: MailStore) -> None:
    await store.create_mailbox("Dest")
    await add(store, 4, flags=frozenset({"\\Seen", "k"}))
    sel, first = await store.select("INBOX", False)
    watcher = backend.changes.subscribe("alice", "Dest")
    try:
        result = await sel.move([4, 2, 99], "Dest")
        assert await watcher.wait(0) is True
    finally:
        watcher.close()
    assert result.source_uids == (2, 4) and result.dest_uids == (1, 2)
    dest = await store.status("Dest")
    assert result.uidvalidity == dest.uidvalidity and dest.messages == 2
    status = await store.status("INBOX")
    assert status.messages == 2 and result.source_modseq == status.highestmodseq
    changes = await sel.poll(first.highestmodseq, 4, False)
    assert changes.expunged == (2, 4) and changes.flags == ()
    dsel, _ = await store.select("Dest", False)
    records = [r async for r in dsel.fetch([(1, 2)], False)]
    assert [r.flags for r in records] == [{"\\Seen", "k"}] * 2  # \Deleted never set
    body = [c async for c in dsel.read(records[1].content, 0, records[1].size)]
    assert b"".join(body) == b"Subject: 3\r\n\r\nbody\r\n"


async def test_move_refusals_change_nothing(store: MailStore) -> None:
    await add(store, 2)
    sel, _ = await store.select("INBOX", False)
    with pytest.raises(NoSuchMailbox):
        await sel.move([1], "Nowhere")
    assert (await store.status("INBOX")).messages == 2
    ro, _ = await store.select("INBOX", True)
    with pytest.raises(NotAllowed):
        await ro.move([1], "INBOX")
    assert (await sel.move([42], "INBOX")).source_uids == ()


async def test_move_into_the_same_mailbox(store: MailStore) -> None:
    await add(store, 2)
    sel, _ = await store.select("INBOX", False)
    result = await sel.move([1], "INBOX")
    assert result.dest_uids == (3,)
    _, after = await store.select("INBOX", True)
    assert list(after.uids) == [2, 3]
