"""Value rules shared by the backends: flags, dates and UID ranges.

Kept in one place so that the memory reference and the SQL backends cannot disagree on,
say, whether ``\\SEEN`` and ``\\Seen`` are one flag or whether ``+FLAGS (foo)`` changes a
message that already has ``Foo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import TypeVar

from pyimapd.storage.interface import SYSTEM_FLAGS, FlagRow, MessageRecord

RECENT = "\\Recent"

SYSTEM_BITS: dict[str, int] = {flag: 1 << i for i, flag in enumerate(SYSTEM_FLAGS)}
"""Bit of each system flag in the SQL ``sysflags`` column: \\Answered=1, \\Flagged=2,
\\Deleted=4, \\Seen=8, \\Draft=16. The order is SYSTEM_FLAGS' and must never change."""

_CANONICAL = {flag.lower(): flag for flag in SYSTEM_FLAGS}

SEEN_BIT = SYSTEM_BITS["\\Seen"]
DELETED_BIT = SYSTEM_BITS["\\Deleted"]

CHUNK_SIZE = 64 * 1024
"""Largest chunk :meth:`SelectedMailbox.read` yields, and the unit bodies are written in."""


# --- flags ---------------------------------------------------------------------------------


def canonical_flag(flag: str) -> str:
    """System flags in their RFC 3501 spelling (flags are case-insensitive, section 2.3.2);
    keywords as given."""
    return _CANONICAL.get(flag.lower(), flag)


def flag_key(flag: str) -> str:
    """The case-insensitive identity of a flag or keyword."""
    return flag.lower()


def normalize_flags(flags: Iterable[str]) -> frozenset[str]:
    """Canonical system flags plus keywords deduplicated case-insensitively.

    ``\\Recent`` is dropped: it is a session property, never stored (RFC 3501 section
    2.3.2). Among keywords differing only in case the smallest spelling wins, so the
    result does not depend on iteration order.
    """
    chosen: dict[str, str] = {}
    for flag in flags:
        flag = canonical_flag(flag)
        if flag_key(flag) == flag_key(RECENT):
            continue
        key = flag_key(flag)
        if key not in chosen or flag < chosen[key]:
            chosen[key] = flag
    return frozenset(chosen.values())


def apply_store(current: frozenset[str], mode: str, flags: frozenset[str]) -> frozenset[str]:
    """The flags a message has after STORE ``mode`` (RFC 3501 section 6.4.6).

    ``current`` and ``flags`` are normalised. Returns ``current`` itself when nothing
    changes case-insensitively, so the caller can test ``is``/``==`` for "changed" and a
    keyword already present keeps its first spelling.
    """
    have = {flag_key(f): f for f in current}
    given = {flag_key(f): f for f in flags}
    if mode == "+":
        merged = {**given, **have}
    elif mode == "-":
        merged = {k: v for k, v in have.items() if k not in given}
    elif mode == "":
        merged = {k: have.get(k, v) for k, v in given.items()}
    else:
        raise ValueError(f"bad STORE mode {mode!r}")
    if merged.keys() == have.keys():
        return current
    return frozenset(merged.values())


def flags_to_columns(flags: frozenset[str]) -> tuple[int, str]:
    """``(sysflags bits, space-separated sorted keywords)`` for SQL storage. Keywords are
    atoms (RFC 3501 section 9), so they never contain a space."""
    bits = 0
    keywords = []
    for flag in flags:
        bit = SYSTEM_BITS.get(flag)
        if bit is None:
            keywords.append(flag)
        else:
            bits |= bit
    return bits, " ".join(sorted(keywords))


@lru_cache(maxsize=4096)
def flags_from_columns(bits: int, keywords: str) -> frozenset[str]:
    """Inverse of :func:`flags_to_columns`. Cached: a mailbox has few distinct flag sets
    and FETCH 1:* (FLAGS) builds one per message (the result is immutable)."""
    flags = [flag for flag, bit in SYSTEM_BITS.items() if bits & bit]
    if keywords:
        flags.extend(keywords.split(" "))
    return frozenset(flags)


def keywords_of(flags: Iterable[str]) -> list[str]:
    """The flags that are keywords (not system flags)."""
    return [f for f in flags if f not in SYSTEM_BITS]


# --- dates ---------------------------------------------------------------------------------


def to_epoch(moment: datetime) -> tuple[int, int]:
    """``(UTC epoch seconds, UTC offset in minutes)``: the instant plus the zone it was
    given in, so FETCH INTERNALDATE can show the original offset and SEARCH can compare
    by the local calendar day (RFC 3501 section 6.4.4). Naive datetimes count as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    return int(moment.timestamp()), int(offset.total_seconds()) // 60


def from_epoch(seconds: int, offset_minutes: int) -> datetime:
    """Inverse of :func:`to_epoch` (sub-second precision is not kept: IMAP has none)."""
    return datetime.fromtimestamp(seconds, _zone(offset_minutes))


@lru_cache(maxsize=256)
def _zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


def truncate(moment: datetime) -> datetime:
    """``moment`` at whole seconds with a fixed offset: what a round trip through storage
    gives, so the memory backend returns exactly what the SQL one does."""
    return from_epoch(*to_epoch(moment))


# --- UID ranges ----------------------------------------------------------------------------


def merge_ranges(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ranges; reversed ranges are turned round."""
    spans = sorted((min(lo, hi), max(lo, hi)) for lo, hi in ranges)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


Row = TypeVar("Row")


async def pages(
    ranges: Sequence[tuple[int, int]], limit: int,
    read: Callable[[int, int, int], Awaitable[Sequence[Row]]], uid_of: Callable[[Row], int],
) -> AsyncIterator[Sequence[Row]]:
    """The rows of the UID ranges, one ``read(lo, hi, limit)`` (ascending by UID, at
    most ``limit`` rows) per page: a FETCH of 1:* on a large mailbox is never held in
    memory whole, and writers get the database between pages."""
    for lo, hi in merge_ranges(ranges):
        while lo <= hi:
            page = await read(lo, hi, limit)
            if page:
                yield page
            if len(page) < limit:
                break
            lo = uid_of(page[-1]) + 1


def record_uid(record: MessageRecord) -> int:
    return record.uid


def row_uid(row: FlagRow) -> int:
    return row[0]


def batches(items: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """``items`` cut into slices of at most ``size`` (SQL ``IN`` lists stay small)."""
    return [items[i:i + size] for i in range(0, len(items), size)]
