"""URLAUTH mailbox access keys (RFC 4467 section 2.2): the routines behind
``MailStore.urlauth_key`` and ``reset_urlauth_keys``, over the ``urlauth_keys`` table.

How this works: a key row belongs to a mailbox row and records the UIDVALIDITY it was
made under; a row whose UIDVALIDITY is not the mailbox's is stale (a re-created
mailbox) and counts as no key. A new key is written with one upsert that keeps a
current key and replaces a stale one, then read back: two writers creating the first
key of a mailbox at once (two PostgreSQL nodes) both return the one that won. The keys
themselves come from the caller (``secrets`` in the backend), never from SQL.
"""

from __future__ import annotations

from pyimapd.storage.interface import NoSuchMailbox
from pyimapd.storage.sql.core import Dialect, Routine, count, row, value


def _mailbox(d: Dialect, user: str, name: str) -> Routine[tuple[int, int]]:
    """(row id, UIDVALIDITY) of a selectable mailbox of ``user``."""
    found = yield row(
        "SELECT b.id, b.uidvalidity FROM mailboxes AS b JOIN users AS u ON u.id = b.user_id"
        " WHERE u.name = ? AND b.name = ? AND NOT b.noselect", user, name)
    if found is None:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    return int(found[0]), int(found[1])


def get_key(d: Dialect, user: str, name: str) -> Routine[bytes | None]:
    mailbox_id, uidvalidity = yield from _mailbox(d, user, name)
    found = yield value(
        "SELECT access_key FROM urlauth_keys WHERE mailbox_id = ? AND uidvalidity = ?",
        mailbox_id, uidvalidity)
    return None if found is None else bytes(found)


def create_key(d: Dialect, user: str, name: str, new_key: bytes) -> Routine[bytes]:
    """The mailbox's current key, ``new_key`` when it had none."""
    mailbox_id, uidvalidity = yield from _mailbox(d, user, name)
    yield count(
        "INSERT INTO urlauth_keys (mailbox_id, uidvalidity, access_key) VALUES (?, ?, ?)"
        " ON CONFLICT (mailbox_id) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
        " access_key = excluded.access_key"
        " WHERE urlauth_keys.uidvalidity <> excluded.uidvalidity",
        mailbox_id, uidvalidity, new_key)
    found = yield value("SELECT access_key FROM urlauth_keys WHERE mailbox_id = ?", mailbox_id)
    return bytes(found)


def reset_keys(d: Dialect, user: str, name: str | None) -> Routine[None]:
    """RESETKEY (RFC 4467 section 7): one mailbox's key, or all of the user's."""
    if name is not None:
        mailbox_id, _ = yield from _mailbox(d, user, name)
        yield count("DELETE FROM urlauth_keys WHERE mailbox_id = ?", mailbox_id)
        return
    yield count(
        "DELETE FROM urlauth_keys WHERE mailbox_id IN (SELECT b.id FROM mailboxes AS b"
        " JOIN users AS u ON u.id = b.user_id WHERE u.name = ?)", user)
