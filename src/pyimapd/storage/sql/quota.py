"""Quota (RFC 9208): the limits are two nullable columns of ``users`` (NULL =
unlimited), the usage is summed over the account's messages when needed.

How this works: the routines run inside the caller's transaction. An addition that may
meet a limit first takes the account's row lock (:func:`lock`), before any mailbox row:
the same order as the hierarchy changes (``user_id(lock=True)``), so no deadlock, and
two additions to one limited account on two PostgreSQL nodes cannot both see the same
usage. On SQLite the single writer gives the same guarantee without a lock. An account
without limits costs one indexed row read and takes no lock.
"""

from __future__ import annotations

from pyimapd.storage.interface import NoSuchUser, QuotaLimits, QuotaUsage
from pyimapd.storage.quota import check_addition
from pyimapd.storage.sql.core import Dialect, Routine, count, row, value


def limits(d: Dialect, user_id: int, lock: bool = False) -> Routine[QuotaLimits]:
    found = yield row(
        "SELECT quota_storage_kib, quota_messages FROM users WHERE id = ?"
        + (d.lock if lock else ""), user_id)
    if found is None:
        raise NoSuchUser("No such user")
    return QuotaLimits(found[0], found[1])


def lock(d: Dialect, user_id: int) -> Routine[QuotaLimits]:
    """The account's limits; when it has any, its row is locked until COMMIT."""
    found = yield from limits(d, user_id)
    if found == QuotaLimits() or not d.lock:
        return found
    return (yield from limits(d, user_id, lock=True))


def usage(d: Dialect, user_id: int) -> Routine[tuple[int, int]]:
    """(octets, messages) over all the account's mailboxes."""
    found = yield row(
        "SELECT coalesce(sum(m.size), 0), count(*) FROM messages AS m"
        " JOIN mailboxes AS b ON b.id = m.mailbox_id WHERE b.user_id = ?", user_id)
    return int(found[0]), int(found[1])


def check(
    d: Dialect, user_id: int, found: QuotaLimits, octets: int, messages: int
) -> Routine[None]:
    """Raises OverQuota when the addition would exceed ``found`` (from :func:`lock`)."""
    if found == QuotaLimits() or messages <= 0:
        return
    check_addition(found, *(yield from usage(d, user_id)), octets, messages)


def _id(d: Dialect, name: str) -> Routine[int]:
    found = yield value("SELECT id FROM users WHERE name = ?", name)
    if found is None:
        raise NoSuchUser(f"No user {name}")
    return int(found)


def get_quota(d: Dialect, name: str) -> Routine[QuotaLimits]:
    return (yield from limits(d, (yield from _id(d, name))))


def set_quota(d: Dialect, name: str, new: QuotaLimits) -> Routine[None]:
    changed = yield count(
        "UPDATE users SET quota_storage_kib = ?, quota_messages = ? WHERE name = ?",
        new.storage_kib, new.messages, name)
    if not changed:
        raise NoSuchUser(f"No user {name}")


def quota(d: Dialect, name: str) -> Routine[QuotaUsage]:
    owner = yield from _id(d, name)
    octets, messages = yield from usage(d, owner)
    return QuotaUsage(octets, messages, (yield from limits(d, owner)))
