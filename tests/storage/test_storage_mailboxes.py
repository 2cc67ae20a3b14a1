"""Contract suite, part 1: accounts, the mailbox hierarchy, subscriptions and STATUS
(RFC 3501 sections 6.3.1-6.3.10), run against every backend."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from pyimapd.storage.interface import (
    Backend,
    MailboxExists,
    MailStore,
    NoSuchMailbox,
    NoSuchUser,
    NotAllowed,
    PreparedMessage,
    StorageError,
)

WHEN = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def msg(data: bytes = b"Subject: x\r\n\r\nhello\r\n") -> PreparedMessage:
    return PreparedMessage(io.BytesIO(data), len(data), b"{}")


async def add(store: MailStore, mailbox: str, n: int, flags: frozenset[str] = frozenset()
              ) -> list[int]:
    return [(await store.append(mailbox, msg(), flags, WHEN)).uid for _ in range(n)]


async def names_of(store: MailStore) -> dict[str, bool]:
    """name -> noselect."""
    return {r.name: r.noselect for r in await store.list_mailboxes()}


# --- accounts ------------------------------------------------------------------------------


async def test_users_lifecycle(backend: Backend) -> None:
    users = backend.users
    assert await users.list_users() == ["alice"]
    assert (await users.get_user("alice")).password_hash == "hash-a"
    assert await users.get_user("nobody") is None
    with pytest.raises(StorageError):
        await users.add_user("alice", "x")
    await users.set_password("alice", "hash-b")
    assert (await users.get_user("alice")).password_hash == "hash-b"
    with pytest.raises(NoSuchUser):
        await users.set_password("nobody", "x")
    await users.add_user("bob", "hash")
    assert await users.list_users() == ["alice", "bob"]


async def test_add_user_creates_inbox_and_delete_removes_all(backend: Backend) -> None:
    await backend.users.add_user("bob", "h")
    bob = await backend.open("bob")
    assert await names_of(bob) == {"INBOX": False, "Drafts": False, "Sent": False,
                                   "Trash": False, "Junk": False, "Archive": False}
    await bob.create_mailbox("Work")
    await add(bob, "Work", 2)
    await bob.set_subscribed("Work", True)
    await backend.users.delete_user("bob")
    assert await backend.users.get_user("bob") is None
    with pytest.raises(NoSuchUser):
        await backend.open("bob")
    with pytest.raises(NoSuchUser):
        await backend.users.delete_user("bob")
    await backend.users.add_user("bob", "h")
    bob = await backend.open("bob")
    assert await names_of(bob) == {"INBOX": False, "Drafts": False, "Sent": False,
                                   "Trash": False, "Junk": False, "Archive": False}
    assert await bob.list_subscriptions() == []
    assert (await bob.status("INBOX")).messages == 0


# --- CREATE --------------------------------------------------------------------------------


async def test_create_makes_superiors_and_refuses_duplicates(store: MailStore) -> None:
    await store.create_mailbox("a/b/c")
    assert await names_of(store) == {"INBOX": False, "a": False, "a/b": False, "a/b/c": False}
    with pytest.raises(MailboxExists):
        await store.create_mailbox("a/b")
    with pytest.raises(MailboxExists):
        await store.create_mailbox("inbox")
    await store.create_mailbox("x/")  # trailing delimiter declares a hierarchy
    assert "x" in await names_of(store)
    records = {r.name: r for r in await store.list_mailboxes()}
    assert records["a"].has_children and not records["a/b/c"].has_children


@pytest.mark.parametrize("bad", ["", "/a", "a//b", "a/./b", "a/..", "a\x00b", "a\nb", "a*", "%"])
async def test_create_refuses_bad_names(store: MailStore, bad: str) -> None:
    with pytest.raises(NotAllowed):
        await store.create_mailbox(bad)


async def test_inbox_is_case_insensitive(store: MailStore) -> None:
    await store.create_mailbox("inbox/Sub")
    assert "INBOX/Sub" in await names_of(store)
    await store.append("iNbOx", msg(), frozenset(), WHEN)
    assert (await store.status("Inbox")).messages == 1


# --- DELETE --------------------------------------------------------------------------------


async def test_delete_rules(store: MailStore) -> None:
    with pytest.raises(NotAllowed):
        await store.delete_mailbox("INBOX")
    with pytest.raises(NoSuchMailbox):
        await store.delete_mailbox("nope")
    await store.create_mailbox("leaf")
    await add(store, "leaf", 2)
    await store.delete_mailbox("leaf")
    assert "leaf" not in await names_of(store)


async def test_delete_with_inferiors_keeps_noselect(store: MailStore) -> None:
    await store.create_mailbox("p/c")
    await add(store, "p", 3)
    await store.delete_mailbox("p")
    assert (await names_of(store))["p"] is True
    with pytest.raises(NotAllowed):
        await store.delete_mailbox("p")  # \Noselect with inferiors
    with pytest.raises(NotAllowed):
        await store.select("p", False)
    with pytest.raises(NotAllowed):
        await store.status("p")
    with pytest.raises(NoSuchMailbox):  # TRYCREATE-able
        await store.append("p", msg(), frozenset(), WHEN)
    await store.delete_mailbox("p/c")
    await store.delete_mailbox("p")  # no inferiors left
    assert await names_of(store) == {"INBOX": False}


async def test_create_revives_noselect_with_new_uidvalidity(store: MailStore) -> None:
    await store.create_mailbox("p/c")
    before = (await store.status("p")).uidvalidity
    await add(store, "p", 2)
    await store.delete_mailbox("p")
    await store.create_mailbox("p")
    status = await store.status("p")
    assert status.uidvalidity != before
    assert status.messages == 0 and status.uidnext == 1


async def test_uidvalidity_unique_per_creation(store: MailStore) -> None:
    seen = {(await store.status("INBOX")).uidvalidity}
    for _ in range(3):
        await store.create_mailbox("box")
        await add(store, "box", 1)
        validity = (await store.status("box")).uidvalidity
        assert validity not in seen
        seen.add(validity)
        await store.delete_mailbox("box")
    await store.create_mailbox("other")
    assert (await store.status("other")).uidvalidity not in seen


async def test_selected_mailbox_deleted_or_recreated(store: MailStore) -> None:
    await store.create_mailbox("gone")
    selected, _ = await store.select("gone", False)
    await store.delete_mailbox("gone")
    with pytest.raises(NoSuchMailbox):
        await selected.poll(0, 0, True)
    await store.create_mailbox("gone")
    with pytest.raises(NoSuchMailbox):
        await selected.poll(0, 0, True)


# --- RENAME --------------------------------------------------------------------------------


async def test_rename_moves_inferiors_and_keeps_uidvalidity(store: MailStore) -> None:
    await store.create_mailbox("a/b")
    await add(store, "a", 2)
    await add(store, "a/b", 1)
    validity = (await store.status("a")).uidvalidity
    await store.set_subscribed("a/b", True)
    await store.rename_mailbox("a", "x/y")
    assert await names_of(store) == {"INBOX": False, "x": False, "x/y": False, "x/y/b": False}
    status = await store.status("x/y")
    assert status.uidvalidity == validity and status.messages == 2
    assert (await store.status("x/y/b")).messages == 1
    assert await store.list_subscriptions() == ["x/y/b"]


async def test_rename_errors(store: MailStore) -> None:
    await store.create_mailbox("a/b")
    await store.create_mailbox("c")
    with pytest.raises(NoSuchMailbox):
        await store.rename_mailbox("nope", "z")
    with pytest.raises(MailboxExists):
        await store.rename_mailbox("a", "c")
    with pytest.raises(MailboxExists):
        await store.rename_mailbox("c", "inbox")
    with pytest.raises(NotAllowed):
        await store.rename_mailbox("a", "a/b/d")
    with pytest.raises(NotAllowed):
        await store.rename_mailbox("a", "bad//name")


async def test_rename_selected_mailbox_follows(store: MailStore) -> None:
    await store.create_mailbox("old")
    selected, _ = await store.select("old", False)
    await store.rename_mailbox("old", "new")
    await add(store, "new", 1)
    changes = await selected.poll(0, 0, True)
    assert [u.uid for u in changes.new] == [1]


async def test_rename_inbox_moves_messages(store: MailStore) -> None:
    await store.create_mailbox("INBOX/keep")
    uids = await add(store, "INBOX", 3, frozenset({"\\Seen", "Work"}))
    inbox_before = await store.status("INBOX")
    watching, _ = await store.select("INBOX", True)
    await store.rename_mailbox("INBOX", "Archive")
    names = await names_of(store)
    assert names == {"INBOX": False, "INBOX/keep": False, "Archive": False}
    inbox = await store.status("INBOX")
    assert inbox.messages == 0 and inbox.uidnext == inbox_before.uidnext
    assert inbox.uidvalidity == inbox_before.uidvalidity
    archive = await store.status("Archive")
    assert archive.messages == 3 and archive.uidvalidity != inbox.uidvalidity
    sel, result = await store.select("Archive", True)
    assert list(result.uids) == uids and "Work" in result.keywords
    records = [r async for r in sel.fetch([(1, 10)], False)]
    assert all({"\\Seen", "Work"} <= r.flags for r in records)
    changes = await watching.poll(inbox_before.highestmodseq, uids[-1], False)
    assert changes.expunged == tuple(uids)
    assert (await store.append("INBOX", msg(), frozenset(), WHEN)).uid == uids[-1] + 1


# --- subscriptions and STATUS --------------------------------------------------------------


async def test_subscriptions_are_names(store: MailStore) -> None:
    await store.set_subscribed("Ghost", True)  # need not exist (RFC 3501 6.3.6)
    await store.create_mailbox("Real")
    await store.set_subscribed("Real", True)
    await store.set_subscribed("inbox", True)
    assert await store.list_subscriptions() == ["Ghost", "INBOX", "Real"]
    await store.delete_mailbox("Real")
    assert "Real" in await store.list_subscriptions()
    await store.set_subscribed("Real", False)
    await store.set_subscribed("Never", False)
    assert await store.list_subscriptions() == ["Ghost", "INBOX"]
    records = {r.name: r for r in await store.list_mailboxes()}
    assert records["INBOX"].subscribed
    with pytest.raises(NotAllowed):
        await store.set_subscribed("a//b", True)


async def test_status(store: MailStore) -> None:
    await store.create_mailbox("S")
    empty = await store.status("S")
    assert (empty.messages, empty.recent, empty.unseen, empty.size, empty.uidnext) == (
        0, 0, 0, 0, 1)
    await add(store, "S", 2, frozenset({"\\Seen"}))
    await add(store, "S", 3)
    status = await store.status("S")
    assert status.messages == 5 and status.unseen == 3 and status.recent == 5
    assert status.size == 5 * len(msg().source.getvalue())  # type: ignore[attr-defined]
    assert status.uidnext == 6 and status.highestmodseq > empty.highestmodseq
    await store.select("S", False)
    assert (await store.status("S")).recent == 0
    with pytest.raises(NoSuchMailbox):
        await store.status("missing")
