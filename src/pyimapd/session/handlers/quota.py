"""QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA.

Each account has at most one quota root, named ``""``, covering all its mailboxes; it
exists while the administrator has set a limit (``pyimapd user quota``), since a QUOTA
response needs at least one resource (section 7, ``quota-list``). The resources are
STORAGE, in units of 1024 octets, and MESSAGE. Limits are the administrator's, so
SETQUOTA is refused and QUOTASET is not advertised (section 4.1.3). The limits are
enforced by the store (OVERQUOTA on APPEND and COPY, :mod:`pyimapd.storage.quota`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, Mailbox, ResponseCode, Value, untagged
from pyimapd.session.state import Result, no, ok
from pyimapd.storage.interface import QuotaUsage
from pyimapd.storage.quota import KIB

if TYPE_CHECKING:
    from pyimapd.session.session import Session

ROOT = ""
RESOURCES = ("STORAGE", "MESSAGE")
"""Advertised as QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE (section 3.1)."""


def _resources(usage: QuotaUsage) -> list[Value]:
    """``quota-resource *(SP quota-resource)``: only the limited resources (section
    4.2.1: "Resources not named in the list are not limited"). STORAGE is rounded up,
    so a usage at or under its limit never reads as over it."""
    out: list[Value] = []
    if usage.limits.storage_kib is not None:
        out += [Atom("STORAGE"), -(-usage.storage // KIB), usage.limits.storage_kib]
    if usage.limits.messages is not None:
        out += [Atom("MESSAGE"), usage.messages, usage.limits.messages]
    return out


def _quota_line(usage: QuotaUsage) -> bytes:
    return untagged(Atom("QUOTA"), ROOT, _resources(usage))


async def getquota(session: Session, command: c.GetQuota) -> Result:
    """Section 4.1.1: NO for a root that does not exist."""
    usage = await session.require_store().quota()
    if command.root != ROOT or not _resources(usage):
        return no(f"No quota root {command.root!r}", ResponseCode("NONEXISTENT"))
    session.write(_quota_line(usage))
    return ok("GETQUOTA completed")


async def getquotaroot(session: Session, command: c.GetQuotaRoot) -> Result:
    """Section 4.1.2: the mailbox need not exist; every name of the account shares the
    one root, and a QUOTA response follows for it."""
    usage = await session.require_store().quota()
    limited = bool(_resources(usage))
    roots: list[Value] = [ROOT] if limited else []
    session.write(untagged(Atom("QUOTAROOT"), Mailbox(command.mailbox, session.utf8), *roots))
    if limited:
        session.write(_quota_line(usage))
    return ok("GETQUOTAROOT completed")


async def setquota(session: Session, command: c.SetQuota) -> Result:
    """Section 4.1.3 lets the server refuse: limits are the administrator's."""
    session.require_store()
    return no("Quotas are set by the administrator", ResponseCode("NOPERM"))
