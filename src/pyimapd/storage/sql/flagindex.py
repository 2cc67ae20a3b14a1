"""A per-process copy of large mailboxes' ``(uid, flags, modseq)``, kept current by MODSEQ.

How this works: the flag resync every client runs after SELECT (``UID FETCH 1:* (UID
FLAGS)``) reads these three columns of every message, and on a 100,000-message mailbox
turning SQLite rows into Python objects was most of its cost (only the SQLite backend
uses it so far; PostgreSQL's case is not measured). So the first such FETCH of a large
mailbox loads them into compact arrays (a :class:`FlagCopy`, about 24 bytes
a message), and later ones read only what changed since the MODSEQ the copy is at:
every change bumps the mailbox's HIGHESTMODSEQ and stamps the changed message, or its
expunge record, with the new value (docs/storage.md), so ``modseq > M`` on ``messages``
and ``expunged`` is exactly the difference. This is what Dovecot's index files do.

A copy is never changed in place: a refresh builds a new one, so a FETCH paging through
the old copy is not disturbed. The copy holds nothing the database does not, so writes
by other worker processes are picked up like this process's own. Memory is bounded:
at most :data:`MAX_ROWS` messages are kept, least recently used mailboxes go first.
"""

from __future__ import annotations

import asyncio
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pyimapd.storage.interface import FlagRow
from pyimapd.storage.sql import messages as msg
from pyimapd.storage.sql.backend import Engine

MIN_SPAN = 5000
"""A flag FETCH over fewer UIDs than this reads the database directly (no copy)."""
MAX_ROWS = 1_000_000
"""Messages kept in all copies of a process together (about 24 MB)."""
PAGE = 5000
"""Rows per page handed to FETCH."""


@dataclass(frozen=True, slots=True)
class FlagCopy:
    uidvalidity: int
    modseq: int
    """The mailbox's HIGHESTMODSEQ this copy is exact at."""
    uids: array[int]
    flags: list[frozenset[str]]
    modseqs: array[int]

    def pages(self, ranges: Sequence[tuple[int, int]]) -> Iterator[list[FlagRow]]:
        """The rows within the (merged, ascending) UID ranges, a page at a time."""
        for lo, hi in ranges:
            start, end = bisect_left(self.uids, lo), bisect_right(self.uids, hi)
            for at in range(start, end, PAGE):
                stop = min(at + PAGE, end)
                yield list(zip(self.uids[at:stop], self.flags[at:stop],
                               self.modseqs[at:stop], strict=True))

    def updated(self, delta: msg.FlagDelta) -> FlagCopy:
        """A new copy with the changes since :attr:`modseq` applied."""
        uids, flags, modseqs = array("q", self.uids), list(self.flags), array("q", self.modseqs)
        for uid, new_flags, modseq in delta.changed:  # ascending UIDs
            i = bisect_left(uids, uid)
            if i < len(uids) and uids[i] == uid:
                flags[i], modseqs[i] = new_flags, modseq
            else:  # new: appended, as UIDs only grow
                uids.insert(i, uid)
                flags.insert(i, new_flags)
                modseqs.insert(i, modseq)
        gone: list[int] = []
        for uid in delta.expunged:  # ascending
            i = bisect_left(uids, uid)
            if i < len(uids) and uids[i] == uid:
                gone.append(i)
        if len(gone) > 64:  # many: filter once instead of shifting the arrays each time
            drop = set(gone)
            keep = [i for i in range(len(uids)) if i not in drop]
            uids = array("q", (uids[i] for i in keep))
            flags = [flags[i] for i in keep]
            modseqs = array("q", (modseqs[i] for i in keep))
        else:
            for i in reversed(gone):
                del uids[i], flags[i], modseqs[i]
        return FlagCopy(self.uidvalidity, delta.highestmodseq, uids, flags, modseqs)


class FlagIndex:
    """The copies of one process, by mailbox row id."""

    def __init__(self, db: Engine, max_rows: int = MAX_ROWS) -> None:
        self._db = db
        self.min_span = MIN_SPAN
        self._max_rows = max_rows
        self._copies: OrderedDict[int, FlagCopy] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    async def current(self, mailbox_id: int, uidvalidity: int) -> FlagCopy:
        """The mailbox's copy, brought up to date. Raises NoSuchMailbox when the
        mailbox is gone or was re-created (a new UIDVALIDITY)."""
        modseq = await self._db.read_small(msg.live_modseq, mailbox_id, uidvalidity)
        copy = self._copies.get(mailbox_id)
        if copy is not None and copy.uidvalidity == uidvalidity and copy.modseq == modseq:
            self._copies.move_to_end(mailbox_id)
            return copy
        async with self._locks.setdefault(mailbox_id, asyncio.Lock()):
            copy = self._copies.get(mailbox_id)  # another session may have refreshed it
            if copy is None or copy.uidvalidity != uidvalidity:
                copy = FlagCopy(uidvalidity, *await self._db.read(
                    msg.flag_rows, mailbox_id, uidvalidity))
            elif copy.modseq < modseq:
                delta = await self._db.read(msg.flag_delta, mailbox_id, uidvalidity,
                                            copy.modseq, len(copy.uids) // 4)
                if delta is None:  # a large share changed: reading all is cheaper
                    copy = FlagCopy(uidvalidity, *await self._db.read(
                        msg.flag_rows, mailbox_id, uidvalidity))
                else:
                    copy = copy.updated(delta)
            self._keep(mailbox_id, copy)
        return copy

    def uids_at(self, mailbox_id: int, uidvalidity: int, modseq: int) -> list[int] | None:
        """The mailbox's UIDs if a copy is exact at ``modseq`` (SELECT's UID list,
        checked inside its read transaction); called from a reader thread, it only
        reads: copies are immutable and replaced whole."""
        copy = self._copies.get(mailbox_id)
        if copy is None or copy.uidvalidity != uidvalidity or copy.modseq != modseq:
            return None
        return copy.uids.tolist()

    def _keep(self, mailbox_id: int, copy: FlagCopy) -> None:
        if len(copy.uids) > self._max_rows:  # serves this FETCH, but is not kept
            self._copies.pop(mailbox_id, None)
            return
        self._copies[mailbox_id] = copy
        self._copies.move_to_end(mailbox_id)
        total = sum(len(c.uids) for c in self._copies.values())
        while total > self._max_rows and len(self._copies) > 1:
            _, dropped = self._copies.popitem(last=False)
            total -= len(dropped.uids)
