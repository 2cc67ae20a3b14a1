"""Access control lists (RFC 4314): the routines behind the backends' ``get_acl``,
``set_acl`` and ``acl_entries``, over the ``acl`` table.

How this works: an ACL row belongs to a mailbox row, so RENAME (which keeps the row)
keeps the ACL and deleting the row drops it (ON DELETE CASCADE); a DELETE that keeps
the name as \\Noselect drops the rows itself (storage/sql/mailboxes.py), since RFC 4314
section 4 says DELETE deletes the ACL. Rights are stored as canonical letter strings
(storage/rights.py); an empty string is never stored: it removes the entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyimapd.storage.interface import NoSuchMailbox
from pyimapd.storage.sql.core import Dialect, Routine, count, rows, value


def _mailbox_id(d: Dialect, owner: str, name: str) -> Routine[int | None]:
    found = yield value(
        "SELECT b.id FROM mailboxes AS b JOIN users AS u ON u.id = b.user_id"
        " WHERE u.name = ? AND b.name = ?", owner, name)
    return None if found is None else int(found)


def get_acl(d: Dialect, owner: str, name: str) -> Routine[dict[str, str] | None]:
    """The mailbox's entries, None when ``owner`` has no mailbox ``name``."""
    mailbox_id = yield from _mailbox_id(d, owner, name)
    if mailbox_id is None:
        return None
    found = yield rows(
        "SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier",
        mailbox_id)
    return {r["identifier"]: r["rights"] for r in found}


def set_acl(d: Dialect, owner: str, name: str, identifier: str, rights: str) -> Routine[None]:
    """Replaces ``identifier``'s entry; empty ``rights`` removes it."""
    mailbox_id = yield from _mailbox_id(d, owner, name)
    if mailbox_id is None:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    if not rights:
        yield count("DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?",
                    mailbox_id, identifier)
        return
    yield count(
        "INSERT INTO acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)"
        " ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
        mailbox_id, identifier, rights)


def acl_entries(
    d: Dialect, identifiers: Sequence[str]
) -> Routine[list[tuple[str, str, str, str]]]:
    """``(owner, mailbox, identifier, rights)`` of every entry naming one of
    ``identifiers``, across all accounts: what a user may see of others' mailboxes."""
    marks = ", ".join("?" for _ in identifiers)
    found = yield rows(
        "SELECT u.name AS owner, b.name AS mailbox, a.identifier, a.rights FROM acl AS a"
        " JOIN mailboxes AS b ON b.id = a.mailbox_id JOIN users AS u ON u.id = b.user_id"
        f" WHERE a.identifier IN ({marks})", *identifiers)
    return [(r["owner"], r["mailbox"], r["identifier"], r["rights"]) for r in found]
