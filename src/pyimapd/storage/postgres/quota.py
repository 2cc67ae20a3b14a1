"""Quota on PostgreSQL (RFC 9208): as on SQLite, two nullable columns of ``users`` and a
usage summed over the account's messages.

How this works: several nodes write at once, so an addition that may meet a limit first
locks the account's ``users`` row (:func:`lock`), before any mailbox row: the same order
as the hierarchy changes (``user_id(lock=True)``), so no deadlock, and two additions to
one limited account cannot both see the same usage. An account without limits takes no
lock at all.
"""

from __future__ import annotations

from pyimapd.storage.interface import NoSuchUser, QuotaLimits, QuotaUsage
from pyimapd.storage.postgres.db import Tx
from pyimapd.storage.quota import check_addition


async def limits(tx: Tx, user_id: int, lock: bool = False) -> QuotaLimits:
    suffix = " FOR UPDATE" if lock else ""
    row = await tx.fetchrow(
        f"SELECT quota_storage_kib, quota_messages FROM users WHERE id = $1{suffix}", user_id
    )
    if row is None:
        raise NoSuchUser("No such user")
    return QuotaLimits(row["quota_storage_kib"], row["quota_messages"])


async def lock(tx: Tx, user_id: int) -> QuotaLimits:
    """The account's limits; when it has any, its row is locked until COMMIT."""
    found = await limits(tx, user_id)
    if found == QuotaLimits():
        return found
    return await limits(tx, user_id, lock=True)


async def usage(tx: Tx, user_id: int) -> tuple[int, int]:
    """(octets, messages) over all the account's mailboxes."""
    row = await tx.fetchrow(
        "SELECT coalesce(sum(m.size), 0) AS octets, count(*) AS n FROM messages AS m"
        " JOIN mailboxes AS b ON b.id = m.mailbox_id WHERE b.user_id = $1", user_id,
    )
    assert row is not None
    return int(row["octets"]), int(row["n"])


async def check(tx: Tx, user_id: int, found: QuotaLimits, octets: int, messages: int) -> None:
    """Raises OverQuota when the addition would exceed ``found`` (from :func:`lock`)."""
    if found == QuotaLimits() or messages <= 0:
        return
    check_addition(found, *await usage(tx, user_id), octets, messages)


async def _id(tx: Tx, name: str) -> int:
    value = await tx.fetchval("SELECT id FROM users WHERE name = $1", name)
    if value is None:
        raise NoSuchUser(f"No user {name}")
    return int(value)


async def get_quota(tx: Tx, name: str) -> QuotaLimits:
    return await limits(tx, await _id(tx, name))


async def set_quota(tx: Tx, name: str, new: QuotaLimits) -> None:
    await tx.execute(
        "UPDATE users SET quota_storage_kib = $1, quota_messages = $2 WHERE id = $3",
        new.storage_kib, new.messages, await _id(tx, name),
    )


async def quota(tx: Tx, name: str) -> QuotaUsage:
    owner = await _id(tx, name)
    octets, messages = await usage(tx, owner)
    return QuotaUsage(octets, messages, await limits(tx, owner))
