"""The PostgreSQL backend: the async classes of the storage interface on asyncpg.

How this works: each method runs one function of :mod:`.mailboxes` or :mod:`.messages`
in a transaction of :class:`~.db.Database` (a bounded pool shared by every session of
the node). Writes notify other nodes with NOTIFY from inside their transaction and wake
this node's sessions after COMMIT (see :mod:`.db`); :class:`~.listener.ChangeListener`
brings other nodes' notifications in. Nothing mutable is cached: a selected mailbox keeps
only its identity (row id and UIDVALIDITY), so any number of nodes can serve one mailbox.

\\Recent is claimed as on SQLite: candidates from a read snapshot, then a short write
transaction raises the mailbox's ``recent_floor`` under its row lock and returns the
floor it found; only candidates above *that* floor are this session's.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
)
from pyimapd.storage.postgres import mailboxes as mb
from pyimapd.storage.postgres import messages as msg
from pyimapd.storage.postgres import quota, schema
from pyimapd.storage.postgres.db import Database
from pyimapd.storage.postgres.listener import ChangeListener
from pyimapd.storage.values import merge_ranges, pages, record_uid, row_uid

FETCH_PAGE = 500
"""Messages per FETCH query: bounds memory and frees the connection between pages."""
FLAG_PAGE = 5000
"""Rows per :meth:`PostgresSelected.fetch_flags` query (three small columns each)."""

READ_BYTES_PER_CALL = 1024 * 1024
"""Body bytes fetched per query when streaming (16 pieces of 64 KiB)."""

DEFAULT_POOL_SIZE = 10


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://"))


def split_dsn(url: str) -> tuple[str, int | None]:
    """Takes pyimapd's own ``pool_size=N`` out of the URL's query (asyncpg would pass
    it to the server as a setting) and returns ``(dsn, pool size or None)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    sizes = [v for k, v in query if k == "pool_size"]
    rest = urlencode([(k, v) for k, v in query if k != "pool_size"])
    if not sizes:
        return url, None
    try:
        size = int(sizes[-1])
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"pool_size must be a positive integer, not {sizes[-1]!r}")
    return urlunsplit(parts._replace(query=rest)), size


class PostgresUserStore:
    """Accounts (the :class:`UserStore` Protocol)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_user(self, name: str) -> UserRecord | None:
        return await self._db.read(mb.get_user, name)

    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        await self._db.write(mb.add_user, name, password_hash, secrets, default_mailboxes)

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        await self._db.write(mb.set_password, name, password_hash, secrets)

    async def delete_user(self, name: str) -> None:
        await self._db.write(mb.delete_user, name)

    async def list_users(self) -> list[str]:
        return await self._db.read(mb.list_users)

    async def get_quota(self, name: str) -> QuotaLimits:
        return await self._db.read(quota.get_quota, name)

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        await self._db.write(quota.set_quota, name, limits)


class PostgresBackend:
    """The :class:`Backend` Protocol on a PostgreSQL database.

    ``dsn`` is a ``postgresql://`` URL (libpq syntax, as asyncpg reads it: several hosts
    and ``target_session_attrs=read-write`` are allowed). ``pool_size`` (or
    ``?pool_size=N`` in the URL; default 10) bounds this node's connections, plus one
    for LISTEN. :meth:`start` refuses an out-of-date
    schema; :meth:`migrate` (``pyimapd db migrate``) brings it up to date.
    """

    def __init__(
        self, dsn: str, changes: ChangeFeed | None = None,
        pool_size: int | None = None, listen: bool = True,
    ) -> None:
        dsn, from_url = split_dsn(dsn)
        pool_size = pool_size or from_url or DEFAULT_POOL_SIZE
        self.node = uuid.uuid4().hex
        self.changes: ChangeFeed = changes if changes is not None else LocalChangeFeed()
        self.db = Database(dsn, self.changes, self.node, pool_size)
        self.listener = ChangeListener(dsn, self.changes, self.node) if listen else None
        self.users = PostgresUserStore(self.db)

    async def start(self) -> None:
        await self.db.start()
        try:
            conn = await self.db.connection()
            try:
                await schema.check(conn)
            finally:
                await self.db.release(conn)
            if self.listener is not None:
                await self.listener.start()
        except BaseException:
            await self.db.close()
            raise

    async def migrate(self) -> tuple[int, int]:
        """Applies pending migrations (the backend need not be started); returns
        ``(version before, version after)``."""
        started = self.db._pool is not None
        if not started:
            await self.db.start()
        try:
            conn = await self.db.connection()
            try:
                return await schema.migrate(conn)
            finally:
                await self.db.release(conn)
        finally:
            if not started:
                await self.db.close()

    async def check(self) -> list[str]:
        """The invariant checks of :mod:`.check`, in words, from one snapshot
        (``pyimapd doctor``; the :class:`CheckableBackend` Protocol); empty when healthy."""
        from pyimapd.storage.postgres.check import check

        return await self.db.read(check)

    async def open(self, user: str) -> PostgresMailStore:
        if await self.db.read(mb.get_user, user) is None:
            raise NoSuchUser(f"No user {user}")
        return PostgresMailStore(self.db, user)

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        await self.db.close()


class PostgresMailStore:
    """One user's authenticated state (the :class:`MailStore` Protocol)."""

    def __init__(self, db: Database, user: str) -> None:
        self._db = db
        self.user = user

    async def list_mailboxes(self) -> list[MailboxRecord]:
        return await self._db.read(mb.list_mailboxes, self.user)

    async def create_mailbox(self, name: str, special_use: str | None = None) -> None:
        await self._db.write(mb.create_mailbox, self.user, name, special_use)

    async def delete_mailbox(self, name: str) -> None:
        await self._db.write(mb.delete_mailbox, self.user, name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        await self._db.write(mb.rename_mailbox, self.user, old, new)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        await self._db.write(mb.set_subscribed, self.user, name, subscribed)

    async def list_subscriptions(self) -> list[str]:
        return await self._db.read(mb.list_subscriptions, self.user)

    async def status(self, name: str) -> MailboxStatus:
        return await self._db.read(mb.status, self.user, name)

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        return await self._db.write(msg.append, self.user, name, message, flags, internaldate)

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        return await self._db.write(msg.append_many, self.user, name, list(items))

    async def quota(self) -> QuotaUsage:
        return await self._db.read(quota.quota, self.user)

    async def select(self, name: str, readonly: bool) -> tuple[PostgresSelected, SelectResult]:
        snap, uids, unseen = await self._db.read(msg.select_snapshot, self.user, name)
        selected = PostgresSelected(self, snap.mailbox_id, snap.uidvalidity, snap.name, readonly)
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


class PostgresSelected:
    """The selected state (the :class:`SelectedMailbox` Protocol). Holds only the
    mailbox's identity (row id and UIDVALIDITY), never its counters."""

    def __init__(
        self, store: PostgresMailStore, mailbox_id: int, uidvalidity: int, name: str,
        readonly: bool,
    ) -> None:
        self._user = store.user
        self._db = store._db
        self._id = mailbox_id
        self._uidvalidity = uidvalidity
        self.name = name
        self.readonly = readonly

    async def _claim(self, candidates: list[int], claim: bool) -> frozenset[int]:
        if not candidates or not claim:
            return frozenset(candidates)
        floor = await self._db.write(msg.claim_recent, self._id, self._uidvalidity,
                                     candidates[-1])
        return frozenset(u for u in candidates if u > floor)

    def _check_writable(self) -> None:
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        snap, new, changed, expunged = await self._db.read(
            msg.poll_snapshot, self._id, self._uidvalidity, since_modseq, known_max_uid
        )
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
            return await self._db.read(msg.fetch_page, self._id, lo, hi, limit, with_structure)

        async for page in pages(uids, FETCH_PAGE, read, record_uid):
            for record in page:
                yield record

    async def fetch_flags(
        self, uids: Sequence[tuple[int, int]]
    ) -> AsyncIterator[Sequence[FlagRow]]:
        async def read(lo: int, hi: int, limit: int) -> list[FlagRow]:
            return await self._db.read(msg.flag_page, self._id, lo, hi, limit)

        async for page in pages(uids, FLAG_PAGE, read, row_uid):
            yield page

    async def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        pos, end = max(start, 0), max(start, 0) + max(length, 0)
        while pos < end:
            pieces = await self._db.read(
                msg.read_range, content, pos, min(end, pos + READ_BYTES_PER_CALL)
            )
            if not pieces:
                return
            for piece in pieces:
                yield piece
                pos += len(piece)

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        return await self._db.read(msg.read_ranges, list(ranges))

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        self._check_writable()
        return await self._db.write(
            msg.store, self._user, self._id, self._uidvalidity, list(uids), mode, flags
        )

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        self._check_writable()
        return await self._db.write(
            msg.store_unchanged_since, self._user, self._id, self._uidvalidity, list(uids),
            mode, flags, unchangedsince,
        )

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        return await self._db.read(
            msg.vanished, self._id, self._uidvalidity, since_modseq, merge_ranges(uids)
        )

    async def copy(self, uids: Sequence[int], dest: str) -> CopyResult:
        return await self._db.write(
            msg.copy, self._user, self._id, self._uidvalidity, list(uids), dest
        )

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        self._check_writable()
        return await self._db.write(
            msg.move, self._user, self._id, self._uidvalidity, list(uids), dest
        )

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        self._check_writable()
        return await self._db.write(
            msg.expunge, self._user, self._id, self._uidvalidity,
            None if uids is None else list(uids),
        )

    async def search(self, key: SearchKey) -> list[int]:
        return await self._db.read(msg.search, self._id, self._uidvalidity, key)

    async def close(self) -> None:
        pass
