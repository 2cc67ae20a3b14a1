"""Special-use mailboxes in the store (RFC 6154): the ones a new account gets, CREATE with
a use, and what DELETE and RENAME do to it. Runs on every backend."""

from __future__ import annotations

from pyimapd.storage.interface import DEFAULT_MAILBOXES, Backend, MailStore


async def uses(store: MailStore) -> dict[str, str | None]:
    return {r.name: r.special_use for r in await store.list_mailboxes()}


async def test_new_account_gets_marked_mailboxes(backend: Backend) -> None:
    await backend.users.add_user("bob", "h")
    bob = await backend.open("bob")
    assert await uses(bob) == {"INBOX": None, **dict(DEFAULT_MAILBOXES)}
    assert dict(DEFAULT_MAILBOXES) == {"Drafts": "\\Drafts", "Sent": "\\Sent",
                                       "Trash": "\\Trash", "Junk": "\\Junk",
                                       "Archive": "\\Archive"}
    await backend.users.add_user("carol", "h", default_mailboxes=False)
    assert await uses(await backend.open("carol")) == {"INBOX": None}


async def test_create_with_use_rename_keeps_delete_drops(store: MailStore) -> None:
    await store.create_mailbox("Box/Sent", "\\Sent \\Archive")
    await store.create_mailbox("Plain")
    assert await uses(store) == {"INBOX": None, "Box": None, "Box/Sent": "\\Sent \\Archive",
                                 "Plain": None}
    await store.rename_mailbox("Box", "Other")
    assert (await uses(store))["Other/Sent"] == "\\Sent \\Archive"
    await store.create_mailbox("Other/Sent/Inner")
    await store.delete_mailbox("Other/Sent")  # kept as \Noselect: the use goes
    records = {r.name: r for r in await store.list_mailboxes()}
    assert records["Other/Sent"].noselect and records["Other/Sent"].special_use is None
    await store.create_mailbox("Other/Sent", "\\Trash")  # revived with a new use
    assert (await uses(store))["Other/Sent"] == "\\Trash"
