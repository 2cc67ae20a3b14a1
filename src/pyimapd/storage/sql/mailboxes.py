"""Accounts, mailboxes and subscriptions: the routines behind UserStore and MailStore,
minus APPEND and SELECT (see :mod:`.messages`).

How this works: each routine runs inside the transaction its backend opened for it (a
write for anything that changes state). Hierarchy changes (CREATE, DELETE, RENAME) first
take the user's row lock (``user_id(lock=True)``; see :class:`~.core.Dialect` for why
only PostgreSQL needs one), then decide with :mod:`pyimapd.storage.plans` on the mailbox
list read under it: two writers creating or renaming into one name take turns, and the
second sees the first's result. Lock order everywhere: the user, then mailboxes by id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pyimapd.storage import names, plans
from pyimapd.storage.interface import (
    DEFAULT_MAILBOXES,
    MAILBOX_LIST,
    MailboxRecord,
    MailboxStatus,
    NoSuchMailbox,
    NoSuchUser,
    NotAllowed,
    StorageError,
    UserRecord,
)
from pyimapd.storage.sql.core import (
    Dialect,
    Routine,
    changed,
    count,
    many,
    row,
    rows,
    value,
)
from pyimapd.storage.values import DELETED_BIT, SEEN_BIT

# --- users ---------------------------------------------------------------------------------


def user_id(d: Dialect, user: str, lock: bool = False) -> Routine[int]:
    """The user's row id; ``lock`` takes the row lock that serialises hierarchy changes."""
    found = yield value("SELECT id FROM users WHERE name = ?" + (d.lock if lock else ""), user)
    if found is None:
        raise NoSuchUser(f"No user {user}")
    return int(found)


def get_user(d: Dialect, name: str) -> Routine[UserRecord | None]:
    found = yield row(
        f"SELECT name, password_hash, {d.json_column} FROM users WHERE name = ?", name)
    if found is None:
        return None
    return UserRecord(found["name"], found["password_hash"], _secrets(found["secrets"]))


def _secrets(text: str) -> dict[str, str]:
    """``users.secrets`` is a JSON object of mechanism name to secret; junk reads as {}."""
    try:
        loaded = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items()}


def add_user(
    d: Dialect, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
    default_mailboxes: bool = True,
) -> Routine[None]:
    """Creates the account, its INBOX and (unless told not to) the special-use
    :data:`DEFAULT_MAILBOXES` in one transaction."""
    if not name:
        raise StorageError("User name is empty")
    uid = yield value(
        "INSERT INTO users (name, password_hash, secrets, created)"
        f" VALUES (?, ?, {d.json_param}, ?) ON CONFLICT (name) DO NOTHING RETURNING id",
        name, password_hash, json.dumps(dict(secrets or {})), int(time.time()))
    if uid is None:
        raise StorageError(f"User {name} already exists")
    yield from insert_mailbox(d, int(uid), names.INBOX)
    for box, use in DEFAULT_MAILBOXES if default_mailboxes else ():
        yield from insert_mailbox(d, int(uid), box, use)


def set_password(
    d: Dialect, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
) -> Routine[None]:
    """Replaces the hash and all SASL secrets (see the UserStore Protocol)."""
    found = yield count(
        f"UPDATE users SET password_hash = ?, secrets = {d.json_param} WHERE name = ?",
        password_hash, json.dumps(dict(secrets or {})), name)
    if not found:
        raise NoSuchUser(f"No user {name}")


def delete_user(d: Dialect, name: str) -> Routine[None]:
    """Removes the account and everything in it. Its mailboxes are locked first (so no
    APPEND is half-way into them) and their messages deleted, which frees contents."""
    uid = yield from user_id(d, name, lock=True)
    boxes = yield rows(
        "SELECT id, name FROM mailboxes WHERE user_id = ? ORDER BY id" + d.lock, uid)
    yield count(
        "DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)",
        uid)
    yield count("DELETE FROM metadata WHERE private = ?", name)  # on others' mailboxes
    yield count("DELETE FROM users WHERE id = ?", uid)
    yield changed(name, [r["name"] for r in boxes])


def list_users(d: Dialect) -> Routine[list[str]]:
    found = yield rows(f"SELECT name FROM users ORDER BY name{d.binary_order}")
    return [r["name"] for r in found]


# --- mailbox rows --------------------------------------------------------------------------


def next_uidvalidity(d: Dialect) -> Routine[int]:
    """Kept within 32 bits as RFC 3501 requires (nz-number), wrapping to 1."""
    return int((yield value(d.next_uidvalidity)))


def insert_mailbox(
    d: Dialect, uid: int, name: str, special_use: str | None = None,
    uidvalidity: int | None = None,
) -> Routine[int]:
    if uidvalidity is None:
        uidvalidity = yield from next_uidvalidity(d)
    return int((yield value(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, special_use)"
        " VALUES (?, ?, ?, ?) RETURNING id", uid, name, uidvalidity, special_use)))


def existing(d: Dialect, uid: int) -> Routine[dict[str, bool]]:
    """The user's mailboxes: name -> is \\Noselect (the input of the plans)."""
    found = yield rows("SELECT name, noselect FROM mailboxes WHERE user_id = ?", uid)
    return {r["name"]: bool(r["noselect"]) for r in found}


def mailbox_row(
    d: Dialect, uid: int, name: str, noselect_error: type[StorageError] = NotAllowed,
    lock: bool = False,
) -> Routine[Any]:
    """The row of a selectable mailbox (locked with ``lock``). APPEND and COPY pass
    ``NoSuchMailbox`` as ``noselect_error`` so a \\Noselect target earns TRYCREATE (its
    CREATE revives it)."""
    name = names.normalize(name)
    found = yield row(
        "SELECT * FROM mailboxes WHERE user_id = ? AND name = ?" + (d.lock if lock else ""),
        uid, name)
    if found is None:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    if found["noselect"]:
        raise noselect_error(f"Mailbox {name} is \\Noselect")
    return found


def bump_modseq(d: Dialect, mailbox_id: int) -> Routine[int]:
    """Takes the mailbox's next MODSEQ; the caller holds the mailbox's row lock."""
    return int((yield value(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?"
        " RETURNING highestmodseq", mailbox_id)))


def record_expunged(
    d: Dialect, mailbox_id: int, uids: Sequence[int], modseq: int
) -> Routine[None]:
    """Notes the UIDs as expunged at ``modseq`` (for QRESYNC and other sessions' polls);
    one array statement on PostgreSQL, a batch on SQLite."""
    upsert = " ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq"
    if d.arrays:
        yield count(
            "INSERT INTO expunged (mailbox_id, uid, modseq)"
            " SELECT ?, u, ? FROM unnest(?::bigint[]) AS u" + upsert,
            mailbox_id, modseq, sorted(uids))
    else:
        yield many("INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)" + upsert,
                   [(mailbox_id, u, modseq) for u in uids])


# --- MailStore operations ------------------------------------------------------------------


def list_mailboxes(d: Dialect, user: str) -> Routine[list[MailboxRecord]]:
    uid = yield from user_id(d, user)
    subscribed = set((yield from list_subscriptions(d, user)))
    found = yield rows(
        "SELECT name, uidvalidity, special_use, noselect FROM mailboxes"
        f" WHERE user_id = ? ORDER BY name{d.binary_order}", uid)
    parents = names.with_children(r["name"] for r in found)
    return [
        MailboxRecord(
            name=r["name"], uidvalidity=r["uidvalidity"], subscribed=r["name"] in subscribed,
            has_children=r["name"] in parents,
            special_use=r["special_use"], noselect=bool(r["noselect"]),
        )
        for r in found
    ]


def create_mailbox(
    d: Dialect, user: str, name: str, special_use: str | None = None
) -> Routine[tuple[int, int]]:
    uid = yield from user_id(d, user, lock=True)
    plan = plans.plan_create(name, (yield from existing(d, uid)))
    for superior in plan.superiors:
        yield from insert_mailbox(d, uid, superior)
    if plan.revive:
        # A revived \Noselect name is a new mailbox: fresh UIDVALIDITY and counters.
        uidvalidity = yield from next_uidvalidity(d)
        yield count(
            "UPDATE mailboxes SET uidvalidity = ?, uidnext = 1, highestmodseq = 1,"
            " recent_floor = 0, noselect = FALSE, special_use = ?"
            " WHERE user_id = ? AND name = ?", uidvalidity, special_use, uid, plan.name)
        ident = int((yield value(
            "SELECT id FROM mailboxes WHERE user_id = ? AND name = ?", uid, plan.name)))
    else:
        uidvalidity = yield from next_uidvalidity(d)
        ident = yield from insert_mailbox(d, uid, plan.name, special_use, uidvalidity)
    yield changed(user, [*plan.superiors, plan.name, MAILBOX_LIST])
    return ident, uidvalidity


def restore_mailbox(
    d: Dialect, user: str, name: str, uidvalidity: int, uidnext: int, highestmodseq: int
) -> Routine[None]:
    """A migration keeps another server's counters (issue 20); only for an empty
    mailbox, so no session can have cached anything under the old ones."""
    uid = yield from user_id(d, user, lock=True)
    if not (0 < uidvalidity <= 0xFFFFFFFF and 0 < uidnext <= 0xFFFFFFFF and highestmodseq > 0):
        raise NotAllowed("UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ must be positive")
    name = names.validate(name)
    present = yield from existing(d, uid)
    superiors = [p for p in names.parents(name) if p not in present]
    for superior in superiors:
        # A level the old server did not have as a mailbox: a \Noselect placeholder,
        # as it showed there (if it was a mailbox, its own restore makes it one).
        yield from insert_mailbox(d, uid, superior)
        yield count("UPDATE mailboxes SET noselect = TRUE WHERE user_id = ? AND name = ?",
                    uid, superior)
    if name not in present:
        yield from insert_mailbox(d, uid, name)
    box = yield row("SELECT id FROM mailboxes WHERE user_id = ? AND name = ?", uid, name)
    messages = yield value("SELECT COUNT(*) FROM messages WHERE mailbox_id = ?", box["id"])
    if int(messages):
        raise NotAllowed(f"{name} has messages already: UIDs can be kept only in a "
                         "new or empty mailbox")
    yield count("DELETE FROM expunged WHERE mailbox_id = ?", box["id"])
    yield count(
        "UPDATE mailboxes SET uidvalidity = ?, uidnext = ?, highestmodseq = ?,"
        " recent_floor = ?, noselect = FALSE WHERE id = ?",
        uidvalidity, uidnext, highestmodseq, uidnext - 1, box["id"])
    yield changed(user, [*superiors, name, MAILBOX_LIST])


def delete_mailbox(d: Dialect, user: str, name: str) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    name, keep = plans.plan_delete(name, (yield from existing(d, uid)))
    mailbox_id = yield value(
        "SELECT id FROM mailboxes WHERE user_id = ? AND name = ?" + d.lock, uid, name)
    yield count("DELETE FROM messages WHERE mailbox_id = ?", mailbox_id)
    if keep:
        yield count("DELETE FROM expunged WHERE mailbox_id = ?", mailbox_id)
        yield count("DELETE FROM mailbox_keywords WHERE mailbox_id = ?", mailbox_id)
        yield count("DELETE FROM acl WHERE mailbox_id = ?", mailbox_id)  # RFC 4314 section 4
        yield count("DELETE FROM metadata WHERE mailbox_id = ?", mailbox_id)  # RFC 5464 4.1
        yield count(
            "UPDATE mailboxes SET noselect = TRUE, special_use = NULL WHERE id = ?", mailbox_id)
    else:
        yield count("DELETE FROM mailboxes WHERE id = ?", mailbox_id)
    yield changed(user, [name, MAILBOX_LIST])


def rename_mailbox(d: Dialect, user: str, old: str, new: str) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    plan = plans.plan_rename(old, new, (yield from existing(d, uid)))
    for superior in plan.superiors:
        yield from insert_mailbox(d, uid, superior)
    if plan.inbox:
        yield from _rename_inbox(d, uid, plan.moves[0][1])
    else:
        for src, dst in plan.moves:
            yield count(
                "UPDATE mailboxes SET name = ? WHERE user_id = ? AND name = ?", dst, uid, src)
            moved = yield count(
                "DELETE FROM subscriptions WHERE user_id = ? AND name = ?", uid, src)
            if moved:
                yield count(
                    "INSERT INTO subscriptions (user_id, name) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING", uid, dst)
    yield changed(user, [*(n for move in plan.moves for n in move), MAILBOX_LIST])


def _rename_inbox(d: Dialect, uid: int, new: str) -> Routine[None]:
    """RFC 3501 section 6.3.5: INBOX's messages move to a new mailbox (new UIDVALIDITY,
    so they keep UIDs, flags and MODSEQs) and are recorded as expunged from INBOX, so
    sessions with INBOX selected see them go. INBOX keeps its UIDNEXT: UIDs are never
    reused."""
    inbox = yield row(
        "SELECT * FROM mailboxes WHERE user_id = ? AND name = ?" + d.lock, uid, names.INBOX)
    uidvalidity = yield from next_uidvalidity(d)
    target = yield value(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, uidnext, highestmodseq,"
        " recent_floor) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        uid, new, uidvalidity, inbox["uidnext"], inbox["highestmodseq"],
        inbox["recent_floor"])
    moved = yield rows(
        "UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ? RETURNING uid",
        target, inbox["id"])
    yield count(
        "INSERT INTO mailbox_keywords (mailbox_id, folded, keyword)"
        " SELECT ?, folded, keyword FROM mailbox_keywords WHERE mailbox_id = ?",
        target, inbox["id"])
    if moved:
        modseq = yield from bump_modseq(d, inbox["id"])
        yield from record_expunged(d, inbox["id"], sorted(r[0] for r in moved), modseq)


def set_subscribed(d: Dialect, user: str, name: str, subscribed: bool) -> Routine[None]:
    """Subscriptions are names: they may name no mailbox, and deleting a mailbox keeps
    them (RFC 3501 section 6.3.6)."""
    uid = yield from user_id(d, user)
    if subscribed:
        yield count(
            "INSERT INTO subscriptions (user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
            uid, names.validate(name))
    else:
        yield count(
            "DELETE FROM subscriptions WHERE user_id = ? AND name = ?",
            uid, names.normalize(name))
    yield changed(user, [MAILBOX_LIST])


def list_subscriptions(d: Dialect, user: str) -> Routine[list[str]]:
    uid = yield from user_id(d, user)
    found = yield rows(
        f"SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name{d.binary_order}", uid)
    return [r["name"] for r in found]


def status(d: Dialect, user: str, name: str) -> Routine[MailboxStatus]:
    """STATUS in one scan of the mailbox's messages (RFC 3501 section 6.3.10)."""
    box = yield from mailbox_row(d, (yield from user_id(d, user)), name)
    counts = yield row(
        "SELECT count(*) AS n, coalesce(sum(size), 0) AS size,"
        " count(*) FILTER (WHERE uid > ?) AS recent,"
        f" count(*) FILTER (WHERE (sysflags & {SEEN_BIT}) = 0) AS unseen,"
        f" count(*) FILTER (WHERE (sysflags & {DELETED_BIT}) != 0) AS deleted,"
        f" coalesce(sum(size) FILTER (WHERE (sysflags & {DELETED_BIT}) != 0), 0) AS dsize"
        " FROM messages WHERE mailbox_id = ?", box["recent_floor"], box["id"])
    return MailboxStatus(
        messages=counts["n"], recent=counts["recent"], uidnext=box["uidnext"],
        uidvalidity=box["uidvalidity"], unseen=counts["unseen"],
        highestmodseq=box["highestmodseq"], size=int(counts["size"]),
        deleted=counts["deleted"], deleted_size=int(counts["dsize"]), mailbox_id=box["id"],
    )
