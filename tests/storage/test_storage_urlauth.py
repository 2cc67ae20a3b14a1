"""The URLAUTH mailbox access keys (RFC 4467 section 2.2) on every backend."""

from __future__ import annotations

import pytest

from pyimapd.storage.interface import (
    URLAUTH_KEY_BYTES,
    Backend,
    MailStore,
    NoSuchMailbox,
)


async def test_a_key_is_made_once_and_kept(store: MailStore) -> None:
    assert await store.urlauth_key("INBOX", create=False) is None
    key = await store.urlauth_key("INBOX", create=True)
    assert key is not None and len(key) == URLAUTH_KEY_BYTES
    assert await store.urlauth_key("INBOX", create=True) == key
    assert await store.urlauth_key("INBOX", create=False) == key
    await store.create_mailbox("Other")
    other = await store.urlauth_key("Other", create=True)
    assert other is not None and other != key


async def test_reset_one_or_all(store: MailStore) -> None:
    await store.create_mailbox("Other")
    inbox = await store.urlauth_key("INBOX", create=True)
    other = await store.urlauth_key("Other", create=True)
    await store.reset_urlauth_keys("Other")
    assert await store.urlauth_key("INBOX", create=False) == inbox
    assert await store.urlauth_key("Other", create=False) is None
    fresh = await store.urlauth_key("Other", create=True)
    assert fresh is not None and fresh != other
    await store.reset_urlauth_keys(None)
    assert await store.urlauth_key("INBOX", create=False) is None
    assert await store.urlauth_key("Other", create=False) is None


async def test_missing_and_noselect_mailboxes(store: MailStore) -> None:
    with pytest.raises(NoSuchMailbox):
        await store.urlauth_key("Nowhere", create=True)
    with pytest.raises(NoSuchMailbox):
        await store.reset_urlauth_keys("Nowhere")
    await store.create_mailbox("a/b")
    await store.delete_mailbox("a")  # kept as \Noselect for its inferior
    with pytest.raises(NoSuchMailbox):
        await store.urlauth_key("a", create=True)


async def test_a_recreated_mailbox_has_a_new_key(store: MailStore) -> None:
    await store.create_mailbox("a/b")
    old = await store.urlauth_key("a", create=True)
    await store.delete_mailbox("a")  # the name stays, \Noselect
    await store.create_mailbox("a")
    assert await store.urlauth_key("a", create=False) is None
    assert await store.urlauth_key("a", create=True) != old
    await store.delete_mailbox("a/b")
    key_b = await store.urlauth_key("a", create=False)
    await store.rename_mailbox("a", "c")  # a rename keeps the mailbox and its key
    assert await store.urlauth_key("c", create=False) == key_b


async def test_keys_are_per_user(backend: Backend, store: MailStore) -> None:
    await backend.users.add_user("bob", "hash-b", default_mailboxes=False)
    bob = await backend.open("bob")
    mine = await store.urlauth_key("INBOX", create=True)
    assert await bob.urlauth_key("INBOX", create=False) is None
    await bob.reset_urlauth_keys(None)
    assert await store.urlauth_key("INBOX", create=False) == mine
