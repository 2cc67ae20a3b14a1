"""METADATA (RFC 5464): the routines behind the backends' ``get_metadata`` and
``set_metadata``, over the ``metadata`` table (storage/sql/schema.py).

How this works: a mailbox's entries hang off its row (RENAME keeps them, DELETE drops
them); a user's ``/private`` server entries have no mailbox (``mailbox_id`` NULL).
A write locks the mailbox row (the user row for server entries) so that two sessions
of PostgreSQL counting against ``max_entries`` or adding the same entry take turns;
SQLite has one writer anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyimapd.storage import metadata as md
from pyimapd.storage.interface import NoSuchMailbox
from pyimapd.storage.sql.core import Dialect, Routine, count, many, rows, value


def _where(
    d: Dialect, owner: str, mailbox: str | None, lock: bool
) -> Routine[tuple[int, int | None] | None]:
    """``(user_id, mailbox_id)`` of the entries' place, None when there is no such
    mailbox (server entries: the user's row)."""
    suffix = d.lock if lock else ""
    found = yield value(
        "SELECT id FROM users WHERE name = ?" + (suffix if mailbox is None else ""), owner)
    if found is None or mailbox is None:
        return None if found is None else (int(found), None)
    box = yield value(
        "SELECT id FROM mailboxes WHERE user_id = ? AND name = ?" + suffix, found, mailbox)
    return None if box is None else (int(found), int(box))


def _entries(place: tuple[int, int | None], user: str) -> Routine[dict[str, bytes]]:
    user_id, mailbox_id = place
    scope = "mailbox_id IS NULL" if mailbox_id is None else "mailbox_id = ?"
    args = () if mailbox_id is None else (mailbox_id,)
    found = yield rows(
        f"SELECT entry, value FROM metadata WHERE user_id = ? AND {scope}"
        " AND private IN ('', ?)", user_id, *args, user)
    return {r["entry"]: bytes(r["value"]) for r in found}


def get_metadata(
    d: Dialect, owner: str, mailbox: str | None, user: str
) -> Routine[dict[str, bytes] | None]:
    """The entries of ``owner``'s ``mailbox`` (None: ``owner``'s server entries) that
    ``user`` sees: the ``/shared`` ones and ``user``'s ``/private`` ones."""
    place = yield from _where(d, owner, mailbox, lock=False)
    if place is None:
        return None
    found: dict[str, bytes] = yield from _entries(place, user)
    return found


def set_metadata(
    d: Dialect, owner: str, mailbox: str | None, user: str,
    changes: Mapping[str, bytes | None], max_entries: int,
) -> Routine[None]:
    """Applies every change or none (section 4.3); a None value deletes the entry."""
    place = yield from _where(d, owner, mailbox, lock=True)
    if place is None:
        raise NoSuchMailbox(f"Mailbox {mailbox} does not exist")
    current = yield from _entries(place, user)
    md.check_count(current, changes, max_entries)
    user_id, mailbox_id = place
    scope = "mailbox_id IS NULL" if mailbox_id is None else "mailbox_id = ?"
    args = () if mailbox_id is None else (mailbox_id,)
    for entry in changes:
        yield count(
            f"DELETE FROM metadata WHERE user_id = ? AND {scope} AND private = ? AND entry = ?",
            user_id, *args, md.owner_of(entry, user), entry)
    added = [(user_id, mailbox_id, md.owner_of(k, user), k, v)
             for k, v in changes.items() if v is not None]
    if added:
        yield many("INSERT INTO metadata (user_id, mailbox_id, private, entry, value)"
                   " VALUES (?, ?, ?, ?, ?)", added)
