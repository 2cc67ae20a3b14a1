"""The embedded SQLite backend: the async face of :mod:`.mailboxes` and :mod:`.messages`.

How this works: each method sends one synchronous function to :class:`~.db.Database`,
which runs it in a worker thread inside one transaction (writes on the single writer
connection, reads on a pooled reader), and awaits the result. After a write has
committed (and so is durable) the backend notifies the change feed, so sessions watching
the mailbox wake up and :meth:`SqliteSelected.poll` the store for what changed.

\\Recent is claimed in two steps that stay exactly-once without a cache: the candidates
come from a read snapshot, then a short write transaction raises the mailbox's
``recent_floor`` to the highest candidate and returns the floor it found; only
candidates above *that* floor are this session's. A competing session that claimed first
has already raised it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pyimapd.search.ast import SearchKey
from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import (
    AppendItem,
    AppendResult,
    ChangeFeed,
    Changes,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MailboxRecord,
    MailboxStatus,
    MessageRecord,
    NoSuchUser,
    NotAllowed,
    PreparedMessage,
    QuotaLimits,
    QuotaUsage,
    SelectResult,
    UserRecord,
    UserStore,
)
from pyimapd.storage.sqlite import mailboxes as mb
from pyimapd.storage.sqlite import messages as msg
from pyimapd.storage.sqlite import quota
from pyimapd.storage.sqlite.db import Database
from pyimapd.storage.sqlite.flagindex import MIN_SPAN, FlagIndex
from pyimapd.storage.values import merge_ranges, pages, record_uid, row_uid

FETCH_PAGE = 500
"""Messages per FETCH query: bounds memory and lets writers in between pages."""
T = TypeVar("T")

SMALL_FETCH = 64
"""A FETCH of fewer UIDs than this reads on the event loop's thread (see
:meth:`Database.read_small`), as do the user row and the mailbox list: a hop to a
reader thread and back costs more than such a query."""
SMALL_FLAGS = 1024
"""The same for a FETCH of flags only (three small columns a row)."""
SMALL_MAILBOX = 2000
"""SELECT and polls try the loop's thread first, bounded to this many rows; past
that they go to a reader thread."""
SMALL_READ = 256 * 1024
"""Section or body bytes read on the event loop's thread."""
FLAG_PAGE = 5000
"""Rows per :meth:`SqliteSelected.fetch_flags` query: three small columns each, so a
larger page (fewer thread hops) still holds little."""

READ_CHUNKS_PER_CALL = 16
"""64 KiB chunks read per thread hop when streaming a body (1 MiB at most in memory)."""


class SqliteUserStore:
    """Accounts (the :class:`UserStore` Protocol)."""

    def __init__(self, db: Database, changes: ChangeFeed) -> None:
        self._db = db
        self._changes = changes

    async def get_user(self, name: str) -> UserRecord | None:
        return await self._db.read_small(mb.get_user, name)

    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        await self._db.write(
            mb.add_user, name, password_hash, dict(secrets or {}), default_mailboxes)

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        await self._db.write(mb.set_password, name, password_hash, dict(secrets or {}))

    async def delete_user(self, name: str) -> None:
        for mailbox in await self._db.write(mb.delete_user, name):
            self._changes.notify(name, mailbox)

    async def list_users(self) -> list[str]:
        return await self._db.read(mb.list_users)

    async def get_quota(self, name: str) -> QuotaLimits:
        return await self._db.read(quota.get_quota, name)

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        await self._db.write(quota.set_quota, name, limits)


class SqliteBackend:
    """The :class:`Backend` Protocol on ``DATA_DIR/pyimapd.sqlite3``.

    ``changes`` defaults to a :class:`LocalChangeFeed`; worker processes sharing the file
    pass one whose transport reaches the others. ``readers`` sizes the reader pool.
    """

    def __init__(
        self, data_dir: Path, changes: ChangeFeed | None = None, readers: int = 4
    ) -> None:
        self.db = Database(Path(data_dir), readers)
        self.flag_index = FlagIndex(self.db)
        self.changes: ChangeFeed = changes if changes is not None else LocalChangeFeed()
        self.users: UserStore = SqliteUserStore(self.db, self.changes)

    async def start(self) -> None:
        await self.db.start()

    async def open(self, user: str) -> SqliteMailStore:
        record = await self.db.read_small(mb.get_user, user)
        if record is None:
            raise NoSuchUser(f"No user {user}")
        return SqliteMailStore(self.db, user, self.changes, self.flag_index)

    async def close(self) -> None:
        await self.db.close()

    async def check(self) -> list[str]:
        """Problems found by ``PRAGMA integrity_check`` and the invariant checks of
        :mod:`.check`, in words (``pyimapd doctor``); empty when healthy."""
        from pyimapd.storage.sqlite.check import check

        return await self.db.read(check)


class SqliteMailStore:
    """One user's authenticated state (the :class:`MailStore` Protocol)."""

    def __init__(
        self, db: Database, user: str, changes: ChangeFeed, flag_index: FlagIndex | None = None
    ) -> None:
        self._db = db
        self.user = user
        self.changes = changes
        self.flag_index = flag_index

    def _notify(self, names: Sequence[str]) -> None:
        for name in dict.fromkeys(names):
            self.changes.notify(self.user, name)

    async def list_mailboxes(self) -> list[MailboxRecord]:
        return await self._db.read_small(mb.list_mailboxes, self.user)

    async def create_mailbox(self, name: str, special_use: str | None = None) -> None:
        self._notify(await self._db.write(mb.create_mailbox, self.user, name, special_use))

    async def delete_mailbox(self, name: str) -> None:
        self._notify(await self._db.write(mb.delete_mailbox, self.user, name))

    async def rename_mailbox(self, old: str, new: str) -> None:
        self._notify(await self._db.write(mb.rename_mailbox, self.user, old, new))

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        await self._db.write(mb.set_subscribed, self.user, name, subscribed)

    async def list_subscriptions(self) -> list[str]:
        return await self._db.read_small(mb.list_subscriptions, self.user)

    async def status(self, name: str) -> MailboxStatus:
        return await self._db.read(mb.status, self.user, name)

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        result, mailbox = await self._db.write(
            msg.append, self.user, name, message, flags, internaldate
        )
        self._notify([mailbox])
        return result

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        results, mailbox = await self._db.write(msg.append_many, self.user, name, list(items))
        self._notify([mailbox])
        return results

    async def quota(self) -> QuotaUsage:
        return await self._db.read(quota.quota, self.user)

    async def select(self, name: str, readonly: bool) -> tuple[SqliteSelected, SelectResult]:
        cached = None if self.flag_index is None else self.flag_index.uids_at
        snap, uids, unseen = await _bounded(
            self._db, msg.select_snapshot, self.user, name, cached)
        selected = SqliteSelected(self, snap.mailbox_id, snap.uidvalidity, snap.name, readonly)
        candidates = uids[bisect_right(uids, snap.recent_floor):]  # uids ascend
        recent = await selected._claim(candidates, claim=not readonly)
        result = SelectResult(
            name=snap.name, uidvalidity=snap.uidvalidity, uidnext=snap.uidnext,
            highestmodseq=snap.highestmodseq, uids=uids, recent=recent,
            unseen_uids_first=unseen, keywords=snap.keywords, readonly=readonly,
        )
        return selected, result

    async def close(self) -> None:
        pass


class SqliteSelected:
    """The selected state (the :class:`SelectedMailbox` Protocol). Holds only the
    mailbox's identity (row id and UIDVALIDITY), never its counters."""

    def __init__(
        self, store: SqliteMailStore, mailbox_id: int, uidvalidity: int, name: str,
        readonly: bool,
    ) -> None:
        self._store = store
        self._db = store._db
        self._id = mailbox_id
        self._uidvalidity = uidvalidity
        self.name = name
        self.readonly = readonly

    async def _claim(self, candidates: list[int], claim: bool) -> frozenset[int]:
        """The candidates that are this session's \\Recent (see the module docstring);
        without ``claim`` they are reported but left for a writable session."""
        if not candidates or not claim:
            return frozenset(candidates)
        # Unsynced: a claim lost in a power cut only shows \Recent to a session again.
        floor = await self._db.write_unsynced(msg.claim_recent, self._id, self._uidvalidity,
                                              candidates[-1])
        return frozenset(u for u in candidates if u > floor)

    def _changed(self, name: str) -> None:
        self.name = name
        self._store._notify([name])

    def _check_writable(self) -> None:
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        snap, new, changed, expunged = await _bounded(
            self._db, msg.poll_snapshot, self._id, self._uidvalidity, since_modseq,
            known_max_uid)
        self.name = snap.name
        candidates = [u.uid for u in new if u.uid > snap.recent_floor]
        recent = await self._claim(candidates, claim_recent and not self.readonly)
        return Changes(
            highestmodseq=snap.highestmodseq, new=tuple(new), flags=tuple(changed),
            expunged=tuple(expunged), recent=recent, keywords=snap.keywords,
            uidnext=snap.uidnext,
        )

    async def fetch(
        self, uids: Sequence[tuple[int, int]], with_structure: bool
    ) -> AsyncIterator[MessageRecord]:
        async def read(lo: int, hi: int, limit: int) -> list[MessageRecord]:
            run = self._db.read_small if hi - lo < SMALL_FETCH else self._db.read
            return await run(msg.fetch_page, self._id, lo, hi, limit, with_structure)

        async for page in pages(uids, FETCH_PAGE, read, record_uid):
            for record in page:
                yield record

    async def fetch_flags(
        self, uids: Sequence[tuple[int, int]]
    ) -> AsyncIterator[Sequence[FlagRow]]:
        ranges = merge_ranges(uids)
        index = self._store.flag_index
        if index is not None and sum(hi - lo + 1 for lo, hi in ranges) >= MIN_SPAN:
            # Most of a large mailbox: from the process's copy (see .flagindex).
            copy = await index.current(self._id, self._uidvalidity)
            for page in copy.pages(ranges):
                yield page
            return

        async def read(lo: int, hi: int, limit: int) -> list[FlagRow]:
            run = self._db.read_small if hi - lo < SMALL_FLAGS else self._db.read
            return await run(msg.flag_page, self._id, lo, hi, limit)

        async for page in pages(ranges, FLAG_PAGE, read, row_uid):
            yield page

    async def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        pos, end = max(start, 0), max(start, 0) + max(length, 0)
        while pos < end:
            run = self._db.read_small if end - pos <= SMALL_READ else self._db.read
            chunks = await run(msg.read_chunks, content, pos, end, READ_CHUNKS_PER_CALL)
            if not chunks:
                return
            for chunk in chunks:
                yield chunk
                pos += len(chunk)

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        small = sum(end - start for _, start, end in ranges) <= SMALL_READ
        run = self._db.read_small if small else self._db.read
        return await run(msg.read_ranges, list(ranges))

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        self._check_writable()
        updates, name = await self._db.write(
            msg.store, self._id, self._uidvalidity, list(uids), mode, flags
        )
        if updates:
            self._changed(name)
        return updates

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        self._check_writable()
        updates, modified, name = await self._db.write(
            msg.store_unchanged_since, self._id, self._uidvalidity, list(uids), mode, flags,
            unchangedsince,
        )
        if updates:
            self._changed(name)
        return updates, modified

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        return await self._db.read(
            msg.vanished, self._id, self._uidvalidity, since_modseq, merge_ranges(uids)
        )

    async def copy(self, uids: Sequence[int], dest: str) -> CopyResult:
        result, name = await self._db.write(
            msg.copy, self._store.user, self._id, self._uidvalidity, list(uids), dest
        )
        if result.dest_uids:
            self._store._notify([name])
        return result

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        self._check_writable()
        result, target, name = await self._db.write(
            msg.move, self._store.user, self._id, self._uidvalidity, list(uids), dest
        )
        if result.source_uids:
            self._store._notify([target])
            self._changed(name)
        return result

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        self._check_writable()
        gone, name = await self._db.write(
            msg.expunge, self._id, self._uidvalidity, None if uids is None else list(uids)
        )
        if gone:
            self._changed(name)
        return gone

    async def search(self, key: SearchKey) -> list[int]:
        return await self._db.read(msg.search, self._id, self._uidvalidity, key)

    async def close(self) -> None:
        pass


async def _bounded(db: Database, fn: Callable[..., T | None], *args: object) -> T:
    """``fn(conn, *args, limit)`` on the loop's thread, bounded to :data:`SMALL_MAILBOX`
    rows; past that (``fn`` returns None) ``fn(conn, *args)`` on a reader thread."""
    found = await db.read_small(fn, *args, SMALL_MAILBOX)
    if found is None:
        found = await db.read(fn, *args)
    assert found is not None  # no limit, no None
    return found
