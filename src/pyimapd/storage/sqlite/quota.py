"""Quota in SQL (RFC 9208): the limits are two columns of ``users`` (NULL = unlimited),
the usage is summed over the account's messages when needed.

How this works: the functions run inside the caller's transaction. An addition calls
:func:`check` after the mailbox rows it writes are known and before it inserts; since
SQLite has a single writer, the usage read there cannot change before the COMMIT. An
account without limits costs one indexed row read.
"""

from __future__ import annotations

import sqlite3

from pyimapd.storage.interface import NoSuchUser, QuotaLimits, QuotaUsage
from pyimapd.storage.quota import check_addition


def limits(conn: sqlite3.Connection, user_id: int) -> QuotaLimits:
    row = conn.execute(
        "SELECT quota_storage_kib, quota_messages FROM users WHERE id = ?", (user_id,)
    ).fetchone()
    if row is None:
        raise NoSuchUser("No such user")
    return QuotaLimits(row[0], row[1])


def usage(conn: sqlite3.Connection, user_id: int) -> tuple[int, int]:
    """(octets, messages) over all the account's mailboxes."""
    row = conn.execute(
        "SELECT coalesce(sum(m.size), 0), count(*) FROM messages AS m"
        " JOIN mailboxes AS b ON b.id = m.mailbox_id WHERE b.user_id = ?",
        (user_id,),
    ).fetchone()
    return int(row[0]), int(row[1])


def check(conn: sqlite3.Connection, user_id: int, octets: int, messages: int) -> None:
    """Raises OverQuota when the addition would exceed a limit (see storage.quota)."""
    found = limits(conn, user_id)
    if found == QuotaLimits() or messages <= 0:
        return
    check_addition(found, *usage(conn, user_id), octets, messages)


def get_quota(conn: sqlite3.Connection, name: str) -> QuotaLimits:
    row = conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoSuchUser(f"No user {name}")
    return limits(conn, int(row[0]))


def set_quota(conn: sqlite3.Connection, name: str, new: QuotaLimits) -> None:
    cur = conn.execute(
        "UPDATE users SET quota_storage_kib = ?, quota_messages = ? WHERE name = ?",
        (new.storage_kib, new.messages, name),
    )
    if cur.rowcount == 0:
        raise NoSuchUser(f"No user {name}")


def quota(conn: sqlite3.Connection, name: str) -> QuotaUsage:
    row = conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoSuchUser(f"No user {name}")
    octets, messages = usage(conn, int(row[0]))
    return QuotaUsage(octets, messages, limits(conn, int(row[0])))
