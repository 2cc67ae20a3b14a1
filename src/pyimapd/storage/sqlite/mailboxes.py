"""Accounts, mailboxes and subscriptions in SQL: the functions behind UserStore and
MailStore, minus APPEND and SELECT (see :mod:`.messages`).

How this works: every function here is synchronous, takes the connection first and runs
inside the transaction :class:`~.db.Database` opened for it (a write for anything that
changes state). Hierarchy decisions come from :mod:`pyimapd.storage.plans`, taken on
the mailbox list read *inside* the transaction, so two processes cannot both create or
rename into the same name. Functions that change mailboxes return the names to notify.
"""

from __future__ import annotations

import json
import sqlite3
import time

from pyimapd.storage import names, plans
from pyimapd.storage.interface import (
    DEFAULT_MAILBOXES,
    MailboxRecord,
    MailboxStatus,
    NoSuchMailbox,
    NoSuchUser,
    NotAllowed,
    StorageError,
    UserRecord,
)
from pyimapd.storage.sqlite.schema import next_uidvalidity
from pyimapd.storage.values import DELETED_BIT, SEEN_BIT

# --- users ---------------------------------------------------------------------------------


def user_id(conn: sqlite3.Connection, user: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
    if row is None:
        raise NoSuchUser(f"No user {user}")
    return int(row["id"])


def get_user(conn: sqlite3.Connection, name: str) -> UserRecord | None:
    row = conn.execute(
        "SELECT name, password_hash, secrets FROM users WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return UserRecord(row["name"], row["password_hash"], _secrets(row["secrets"]))


def _secrets(text: str) -> dict[str, str]:
    """``users.secrets`` is a JSON object of mechanism name to secret; junk reads as {}."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def add_user(
    conn: sqlite3.Connection, name: str, password_hash: str, secrets: dict[str, str] | None = None,
    default_mailboxes: bool = True,
) -> None:
    """Creates the account, its INBOX and (unless told not to) the special-use
    :data:`DEFAULT_MAILBOXES` in one transaction."""
    if not name:
        raise StorageError("User name is empty")
    try:
        cur = conn.execute(
            "INSERT INTO users (name, password_hash, secrets, created) VALUES (?, ?, ?, ?)",
            (name, password_hash, json.dumps(secrets or {}), int(time.time())),
        )
    except sqlite3.IntegrityError as exc:
        raise StorageError(f"User {name} already exists") from exc
    insert_mailbox(conn, int(cur.lastrowid or 0), names.INBOX)
    for box, use in DEFAULT_MAILBOXES if default_mailboxes else ():
        insert_mailbox(conn, int(cur.lastrowid or 0), box, use)


def set_password(
    conn: sqlite3.Connection, name: str, password_hash: str, secrets: dict[str, str] | None = None
) -> None:
    cur = conn.execute(
        "UPDATE users SET password_hash = ?, secrets = ? WHERE name = ?",
        (password_hash, json.dumps(secrets or {}), name),
    )
    if cur.rowcount == 0:
        raise NoSuchUser(f"No user {name}")


def delete_user(conn: sqlite3.Connection, name: str) -> list[str]:
    """Removes the account and everything in it; returns its mailbox names. Messages are
    deleted explicitly first so the trigger frees their contents."""
    uid = user_id(conn, name)
    mailboxes = [r["name"] for r in conn.execute(
        "SELECT name FROM mailboxes WHERE user_id = ?", (uid,))]
    conn.execute(
        "DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)",
        (uid,),
    )
    conn.execute("DELETE FROM users WHERE id = ?", (uid,))
    return mailboxes


def list_users(conn: sqlite3.Connection) -> list[str]:
    return [r["name"] for r in conn.execute("SELECT name FROM users ORDER BY name")]


# --- mailbox rows --------------------------------------------------------------------------


def insert_mailbox(
    conn: sqlite3.Connection, uid: int, name: str, special_use: str | None = None
) -> int:
    cur = conn.execute(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, special_use) VALUES (?, ?, ?, ?)",
        (uid, name, next_uidvalidity(conn), special_use),
    )
    return int(cur.lastrowid or 0)


def existing(conn: sqlite3.Connection, uid: int) -> dict[str, bool]:
    """The user's mailboxes: name -> is \\Noselect (the input of the plans)."""
    rows = conn.execute("SELECT name, noselect FROM mailboxes WHERE user_id = ?", (uid,))
    return {r["name"]: bool(r["noselect"]) for r in rows}


def mailbox_row(
    conn: sqlite3.Connection, uid: int, name: str,
    noselect_error: type[StorageError] = NotAllowed,
) -> sqlite3.Row:
    """The row of a selectable mailbox. APPEND and COPY pass ``NoSuchMailbox`` as
    ``noselect_error`` so a \\Noselect target earns TRYCREATE (its CREATE revives it)."""
    name = names.normalize(name)
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM mailboxes WHERE user_id = ? AND name = ?", (uid, name)
    ).fetchone()
    if row is None:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    if row["noselect"]:
        raise noselect_error(f"Mailbox {name} is \\Noselect")
    return row


def bump_modseq(conn: sqlite3.Connection, mailbox_id: int) -> int:
    """Takes the mailbox's next MODSEQ, inside the caller's write transaction."""
    row = conn.execute(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?"
        " RETURNING highestmodseq",
        (mailbox_id,),
    ).fetchone()
    return int(row[0])


# --- MailStore operations ------------------------------------------------------------------


def list_mailboxes(conn: sqlite3.Connection, user: str) -> list[MailboxRecord]:
    uid = user_id(conn, user)
    subscribed = set(list_subscriptions(conn, user))
    rows = conn.execute(
        "SELECT name, uidvalidity, special_use, noselect FROM mailboxes"
        " WHERE user_id = ? ORDER BY name",
        (uid,),
    ).fetchall()
    parents = names.with_children(r["name"] for r in rows)
    return [
        MailboxRecord(
            name=r["name"], uidvalidity=r["uidvalidity"], subscribed=r["name"] in subscribed,
            has_children=r["name"] in parents,
            special_use=r["special_use"], noselect=bool(r["noselect"]),
        )
        for r in rows
    ]


def create_mailbox(
    conn: sqlite3.Connection, user: str, name: str, special_use: str | None = None
) -> list[str]:
    uid = user_id(conn, user)
    plan = plans.plan_create(name, existing(conn, uid))
    for superior in plan.superiors:
        insert_mailbox(conn, uid, superior)
    if plan.revive:
        # A revived \Noselect name is a new mailbox: fresh UIDVALIDITY and counters.
        conn.execute(
            "UPDATE mailboxes SET uidvalidity = ?, uidnext = 1, highestmodseq = 1,"
            " recent_floor = 0, noselect = 0, special_use = ? WHERE user_id = ? AND name = ?",
            (next_uidvalidity(conn), special_use, uid, plan.name),
        )
    else:
        insert_mailbox(conn, uid, plan.name, special_use)
    return [*plan.superiors, plan.name]


def delete_mailbox(conn: sqlite3.Connection, user: str, name: str) -> list[str]:
    uid = user_id(conn, user)
    name, keep = plans.plan_delete(name, existing(conn, uid))
    row = conn.execute(
        "SELECT id FROM mailboxes WHERE user_id = ? AND name = ?", (uid, name)
    ).fetchone()
    mailbox_id = row["id"]
    conn.execute("DELETE FROM messages WHERE mailbox_id = ?", (mailbox_id,))
    if keep:
        conn.execute("DELETE FROM expunged WHERE mailbox_id = ?", (mailbox_id,))
        conn.execute("DELETE FROM mailbox_keywords WHERE mailbox_id = ?", (mailbox_id,))
        conn.execute(
            "UPDATE mailboxes SET noselect = 1, special_use = NULL WHERE id = ?", (mailbox_id,))
    else:
        conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))
    return [name]


def rename_mailbox(conn: sqlite3.Connection, user: str, old: str, new: str) -> list[str]:
    uid = user_id(conn, user)
    plan = plans.plan_rename(old, new, existing(conn, uid))
    for superior in plan.superiors:
        insert_mailbox(conn, uid, superior)
    if plan.inbox:
        _rename_inbox(conn, uid, plan.moves[0][1])
    else:
        for src, dst in plan.moves:
            conn.execute(
                "UPDATE mailboxes SET name = ? WHERE user_id = ? AND name = ?", (dst, uid, src)
            )
            moved = conn.execute(
                "DELETE FROM subscriptions WHERE user_id = ? AND name = ?", (uid, src)
            ).rowcount
            if moved:
                conn.execute(
                    "INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)",
                    (uid, dst),
                )
    return [n for move in plan.moves for n in move]


def _rename_inbox(conn: sqlite3.Connection, uid: int, new: str) -> None:
    """RFC 3501 section 6.3.5: INBOX's messages move to a new mailbox (new UIDVALIDITY,
    so they keep UIDs, flags and MODSEQs) and are recorded as expunged from INBOX, so
    sessions with INBOX selected see them go. INBOX keeps its UIDNEXT: UIDs are never
    reused."""
    inbox = conn.execute(
        "SELECT * FROM mailboxes WHERE user_id = ? AND name = ?", (uid, names.INBOX)
    ).fetchone()
    cur = conn.execute(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, uidnext, highestmodseq,"
        " recent_floor) VALUES (?, ?, ?, ?, ?, ?)",
        (uid, new, next_uidvalidity(conn), inbox["uidnext"], inbox["highestmodseq"],
         inbox["recent_floor"]),
    )
    target = int(cur.lastrowid or 0)
    moved = [r[0] for r in conn.execute(
        "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", (inbox["id"],))]
    conn.execute("UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?", (target, inbox["id"]))
    conn.execute(
        "INSERT INTO mailbox_keywords (mailbox_id, folded, keyword)"
        " SELECT ?, folded, keyword FROM mailbox_keywords WHERE mailbox_id = ?",
        (target, inbox["id"]),
    )
    if moved:
        modseq = bump_modseq(conn, inbox["id"])
        conn.executemany(
            "INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
            [(inbox["id"], u, modseq) for u in moved],
        )


def set_subscribed(conn: sqlite3.Connection, user: str, name: str, subscribed: bool) -> None:
    """Subscriptions are names: they may name no mailbox, and deleting a mailbox keeps
    them (RFC 3501 section 6.3.6)."""
    uid = user_id(conn, user)
    if subscribed:
        conn.execute(
            "INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)",
            (uid, names.validate(name)),
        )
    else:
        conn.execute(
            "DELETE FROM subscriptions WHERE user_id = ? AND name = ?",
            (uid, names.normalize(name)),
        )


def list_subscriptions(conn: sqlite3.Connection, user: str) -> list[str]:
    uid = user_id(conn, user)
    rows = conn.execute("SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name", (uid,))
    return [r["name"] for r in rows]


def status(conn: sqlite3.Connection, user: str, name: str) -> MailboxStatus:
    """STATUS in one scan of the mailbox's messages (RFC 3501 section 6.3.10)."""
    row = mailbox_row(conn, user_id(conn, user), name)
    counts = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(uid > ?), 0),"
        f" coalesce(sum((sysflags & {SEEN_BIT}) = 0), 0),"
        f" coalesce(sum((sysflags & {DELETED_BIT}) != 0), 0),"
        f" coalesce(sum(CASE WHEN (sysflags & {DELETED_BIT}) != 0 THEN size END), 0)"
        " FROM messages WHERE mailbox_id = ?",
        (row["recent_floor"], row["id"]),
    ).fetchone()
    return MailboxStatus(
        messages=counts[0], recent=counts[2], uidnext=row["uidnext"],
        uidvalidity=row["uidvalidity"], unseen=counts[3],
        highestmodseq=row["highestmodseq"], size=counts[1], deleted=counts[4],
        deleted_size=counts[5],
    )
