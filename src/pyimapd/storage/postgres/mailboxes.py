"""Accounts, mailboxes and subscriptions on PostgreSQL: the functions behind UserStore
and MailStore, minus APPEND and SELECT (see :mod:`.messages`).

How this works: each function takes a :class:`~.db.Tx` and runs inside the transaction
:class:`~.db.Database` opened for it. Hierarchy changes (CREATE, DELETE, RENAME,
SUBSCRIBE) first lock the user's row (``FOR UPDATE``), then decide with
:mod:`pyimapd.storage.plans` on the mailbox list read under that lock: two nodes
creating or renaming into one name take turns, and the second sees the first's result.
A mailbox whose messages change is locked by its row (lock order: user, then mailboxes
by id), which serialises it against APPEND, STORE and EXPUNGE on any node.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import asyncpg

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
from pyimapd.storage.postgres.db import Tx
from pyimapd.storage.values import DELETED_BIT, SEEN_BIT

# --- users ---------------------------------------------------------------------------------


async def user_id(tx: Tx, user: str, lock: bool = False) -> int:
    """The user's row id; ``lock`` takes the row lock that serialises hierarchy changes."""
    suffix = " FOR UPDATE" if lock else ""
    value = await tx.fetchval(f"SELECT id FROM users WHERE name = $1{suffix}", user)
    if value is None:
        raise NoSuchUser(f"No user {user}")
    return int(value)


async def get_user(tx: Tx, name: str) -> UserRecord | None:
    row = await tx.fetchrow(
        "SELECT name, password_hash, secrets::text AS secrets FROM users WHERE name = $1", name
    )
    if row is None:
        return None
    return UserRecord(row["name"], row["password_hash"], _secrets(row["secrets"]))


def _secrets(text: str) -> dict[str, str]:
    """``users.secrets``: a JSON object of SASL mechanism name to secret."""
    value = json.loads(text or "{}")
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


async def add_user(
    tx: Tx, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
    default_mailboxes: bool = True,
) -> None:
    """Creates the account, its INBOX and (unless told not to) the special-use
    :data:`DEFAULT_MAILBOXES` in one transaction."""
    if not name:
        raise StorageError("User name is empty")
    uid = await tx.fetchval(
        "INSERT INTO users (name, password_hash, secrets, created)"
        " VALUES ($1, $2, $3::text::jsonb, $4) ON CONFLICT (name) DO NOTHING RETURNING id",
        name, password_hash, json.dumps(dict(secrets or {})), int(time.time()),
    )
    if uid is None:
        raise StorageError(f"User {name} already exists")
    await insert_mailbox(tx, int(uid), names.INBOX)
    for box, use in DEFAULT_MAILBOXES if default_mailboxes else ():
        await insert_mailbox(tx, int(uid), box, use)


async def set_password(
    tx: Tx, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
) -> None:
    """Replaces the hash and all SASL secrets (see the UserStore Protocol)."""
    status = await tx.execute(
        "UPDATE users SET password_hash = $1, secrets = $2::text::jsonb WHERE name = $3",
        password_hash, json.dumps(dict(secrets or {})), name,
    )
    if status.endswith(" 0"):
        raise NoSuchUser(f"No user {name}")


async def delete_user(tx: Tx, name: str) -> None:
    """Removes the account and everything in it. Its mailboxes are locked first (so no
    APPEND is half-way into them) and their messages deleted, which frees contents."""
    uid = await user_id(tx, name, lock=True)
    rows = await tx.fetch(
        "SELECT id, name FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE", uid
    )
    await tx.execute(
        "DELETE FROM messages WHERE mailbox_id = ANY($1::bigint[])", [r["id"] for r in rows]
    )
    await tx.execute("DELETE FROM users WHERE id = $1", uid)
    tx.changed(name, [r["name"] for r in rows])


async def list_users(tx: Tx) -> list[str]:
    return [r["name"] for r in await tx.fetch("SELECT name FROM users ORDER BY name")]


# --- mailbox rows --------------------------------------------------------------------------


async def next_uidvalidity(tx: Tx) -> int:
    return int(await tx.fetchval("SELECT nextval('uidvalidity_seq')"))


async def insert_mailbox(tx: Tx, uid: int, name: str, special_use: str | None = None) -> int:
    return int(await tx.fetchval(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, special_use)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        uid, name, await next_uidvalidity(tx), special_use,
    ))


async def existing(tx: Tx, uid: int) -> dict[str, bool]:
    """The user's mailboxes: name -> is \\Noselect (the input of the plans)."""
    rows = await tx.fetch("SELECT name, noselect FROM mailboxes WHERE user_id = $1", uid)
    return {r["name"]: bool(r["noselect"]) for r in rows}


async def mailbox_row(
    tx: Tx, uid: int, name: str, noselect_error: type[StorageError] = NotAllowed,
    lock: bool = False,
) -> asyncpg.Record:
    """The row of a selectable mailbox (locked with ``lock``). APPEND and COPY pass
    ``NoSuchMailbox`` as ``noselect_error`` so a \\Noselect target earns TRYCREATE."""
    name = names.normalize(name)
    suffix = " FOR UPDATE" if lock else ""
    row = await tx.fetchrow(
        f"SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2{suffix}", uid, name
    )
    if row is None:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    if row["noselect"]:
        raise noselect_error(f"Mailbox {name} is \\Noselect")
    return row


async def bump_modseq(tx: Tx, mailbox_id: int) -> int:
    """Takes the mailbox's next MODSEQ; the caller holds the mailbox's row lock."""
    return int(await tx.fetchval(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1"
        " RETURNING highestmodseq", mailbox_id,
    ))


# --- MailStore operations ------------------------------------------------------------------


async def list_mailboxes(tx: Tx, user: str) -> list[MailboxRecord]:
    uid = await user_id(tx, user)
    subscribed = set(await list_subscriptions(tx, user))
    rows = await tx.fetch(
        "SELECT name, uidvalidity, special_use, noselect FROM mailboxes"
        " WHERE user_id = $1 ORDER BY name COLLATE \"C\"", uid,
    )
    parents = names.with_children(r["name"] for r in rows)
    return [
        MailboxRecord(
            name=r["name"], uidvalidity=r["uidvalidity"], subscribed=r["name"] in subscribed,
            has_children=r["name"] in parents,
            special_use=r["special_use"], noselect=bool(r["noselect"]),
        )
        for r in rows
    ]


async def create_mailbox(tx: Tx, user: str, name: str, special_use: str | None = None) -> None:
    uid = await user_id(tx, user, lock=True)
    plan = plans.plan_create(name, await existing(tx, uid))
    for superior in plan.superiors:
        await insert_mailbox(tx, uid, superior)
    if plan.revive:
        # A revived \Noselect name is a new mailbox: fresh UIDVALIDITY and counters.
        await tx.execute(
            "UPDATE mailboxes SET uidvalidity = $1, uidnext = 1, highestmodseq = 1,"
            " recent_floor = 0, noselect = FALSE, special_use = $4"
            " WHERE user_id = $2 AND name = $3",
            await next_uidvalidity(tx), uid, plan.name, special_use,
        )
    else:
        await insert_mailbox(tx, uid, plan.name, special_use)
    tx.changed(user, [*plan.superiors, plan.name])


async def delete_mailbox(tx: Tx, user: str, name: str) -> None:
    uid = await user_id(tx, user, lock=True)
    name, keep = plans.plan_delete(name, await existing(tx, uid))
    mailbox_id = await tx.fetchval(
        "SELECT id FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE", uid, name
    )
    await tx.execute("DELETE FROM messages WHERE mailbox_id = $1", mailbox_id)
    if keep:
        await tx.execute("DELETE FROM expunged WHERE mailbox_id = $1", mailbox_id)
        await tx.execute("DELETE FROM mailbox_keywords WHERE mailbox_id = $1", mailbox_id)
        await tx.execute(
            "UPDATE mailboxes SET noselect = TRUE, special_use = NULL WHERE id = $1", mailbox_id)
    else:
        await tx.execute("DELETE FROM mailboxes WHERE id = $1", mailbox_id)
    tx.changed(user, [name])


async def rename_mailbox(tx: Tx, user: str, old: str, new: str) -> None:
    uid = await user_id(tx, user, lock=True)
    plan = plans.plan_rename(old, new, await existing(tx, uid))
    for superior in plan.superiors:
        await insert_mailbox(tx, uid, superior)
    if plan.inbox:
        await _rename_inbox(tx, uid, plan.moves[0][1])
    else:
        for src, dst in plan.moves:
            await tx.execute(
                "UPDATE mailboxes SET name = $1 WHERE user_id = $2 AND name = $3", dst, uid, src
            )
            moved = await tx.execute(
                "DELETE FROM subscriptions WHERE user_id = $1 AND name = $2", uid, src
            )
            if not moved.endswith(" 0"):
                await tx.execute(
                    "INSERT INTO subscriptions (user_id, name) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING", uid, dst,
                )
    tx.changed(user, [n for move in plan.moves for n in move])


async def _rename_inbox(tx: Tx, uid: int, new: str) -> None:
    """RFC 3501 section 6.3.5: INBOX's messages move to a new mailbox (new UIDVALIDITY,
    so they keep UIDs, flags and MODSEQs) and are recorded as expunged from INBOX."""
    inbox = await tx.fetchrow(
        "SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE", uid, names.INBOX
    )
    assert inbox is not None
    target = await tx.fetchval(
        "INSERT INTO mailboxes (user_id, name, uidvalidity, uidnext, highestmodseq,"
        " recent_floor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        uid, new, await next_uidvalidity(tx), inbox["uidnext"], inbox["highestmodseq"],
        inbox["recent_floor"],
    )
    moved = [r["uid"] for r in await tx.fetch(
        "UPDATE messages SET mailbox_id = $1 WHERE mailbox_id = $2 RETURNING uid",
        target, inbox["id"])]
    await tx.execute(
        "INSERT INTO mailbox_keywords (mailbox_id, folded, keyword)"
        " SELECT $1, folded, keyword FROM mailbox_keywords WHERE mailbox_id = $2",
        target, inbox["id"],
    )
    if moved:
        modseq = await bump_modseq(tx, inbox["id"])
        await tx.execute(
            "INSERT INTO expunged (mailbox_id, uid, modseq)"
            " SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u"
            " ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
            inbox["id"], sorted(moved), modseq,
        )


async def set_subscribed(tx: Tx, user: str, name: str, subscribed: bool) -> None:
    """Subscriptions are names (RFC 3501 section 6.3.6)."""
    uid = await user_id(tx, user)
    if subscribed:
        await tx.execute(
            "INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            uid, names.validate(name),
        )
    else:
        await tx.execute(
            "DELETE FROM subscriptions WHERE user_id = $1 AND name = $2",
            uid, names.normalize(name),
        )


async def list_subscriptions(tx: Tx, user: str) -> list[str]:
    uid = await user_id(tx, user)
    rows = await tx.fetch(
        "SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE \"C\"", uid
    )
    return [r["name"] for r in rows]


async def status(tx: Tx, user: str, name: str) -> MailboxStatus:
    """STATUS in one scan of the mailbox's messages (RFC 3501 section 6.3.10)."""
    row = await mailbox_row(tx, await user_id(tx, user), name)
    counts = await tx.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(size), 0) AS size,"
        " count(*) FILTER (WHERE uid > $1) AS recent,"
        f" count(*) FILTER (WHERE (sysflags & {SEEN_BIT}) = 0) AS unseen,"
        f" count(*) FILTER (WHERE (sysflags & {DELETED_BIT}) != 0) AS deleted,"
        f" coalesce(sum(size) FILTER (WHERE (sysflags & {DELETED_BIT}) != 0), 0) AS dsize"
        " FROM messages WHERE mailbox_id = $2",
        row["recent_floor"], row["id"],
    )
    assert counts is not None
    return MailboxStatus(
        messages=counts["n"], recent=counts["recent"], uidnext=row["uidnext"],
        uidvalidity=row["uidvalidity"], unseen=counts["unseen"],
        highestmodseq=row["highestmodseq"], size=int(counts["size"]),
        deleted=counts["deleted"], deleted_size=int(counts["dsize"]),
    )
