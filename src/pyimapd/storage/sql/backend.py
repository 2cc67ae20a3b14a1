"""The storage interface on a SQL database, written once for SQLite and PostgreSQL.

How this works: each method runs one routine of :mod:`.mailboxes`, :mod:`.messages` or
:mod:`.quota` through the backend's :class:`Engine`, which opens the transaction, drives
the routine on its connection and, once the transaction has committed (and so is
durable), wakes the sessions watching what it changed (the routine's ``Changed``
announcements; on PostgreSQL also NOTIFY to other nodes). Nothing mutable is cached: a
selected mailbox keeps only its identity (row id and UIDVALIDITY), so any number of
processes or nodes can serve one mailbox.

\\Recent is claimed in two steps that stay exactly-once without a cache: the candidates
come from a read snapshot, then a short write transaction raises the mailbox's
``recent_floor`` to the highest candidate under its row lock and returns the floor it
found; only candidates above *that* floor are this session's. A competing session that
claimed first has already raised it.
"""

from __future__ import annotations

import secrets
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pyimapd.search.ast import SearchKey
from pyimapd.storage.interface import (
    URLAUTH_KEY_BYTES,
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
    ScriptInfo,
    ScriptLimits,
    SelectResult,
    UserRecord,
    UserStore,
)
from pyimapd.storage.metadata import MetadataSettings
from pyimapd.storage.sharing import Namespaces, SharingStore, open_sharing
from pyimapd.storage.sql import acl, metadata, quota, textindex
from pyimapd.storage.sql import mailboxes as mb
from pyimapd.storage.sql import messages as msg
from pyimapd.storage.sql import sieve as sv
from pyimapd.storage.sql import urlauth as ua
from pyimapd.storage.values import merge_ranges, pages, record_uid, row_uid

T = TypeVar("T")

FETCH_PAGE = 500
"""Messages per FETCH query: bounds memory and lets writers in between pages."""
FLAG_PAGE = 5000
"""Rows per flag query (three small columns each), so fewer round trips."""
SMALL_FETCH = 64
"""A FETCH of fewer UIDs than this is a small read (see :meth:`Engine.read_small`)."""
SMALL_FLAGS = 1024
"""The same for a FETCH of flags only."""


class FlagCopies(Protocol):
    """A process's copies of the flags of large mailboxes (storage/sql/flagindex.py)."""

    min_span: int
    """FETCH FLAGS of at least this many UIDs is served from the copy."""

    def uids_at(self, mailbox_id: int, uidvalidity: int, modseq: int) -> list[int] | None: ...

    async def current(self, mailbox_id: int, uidvalidity: int) -> Any: ...


class Engine(Protocol):
    """What a database backend provides the SQL core: transactions that run routines
    (``fn(dialect, *args)``) and what the core cannot say in SQL, reading bodies."""

    changes: ChangeFeed

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One read snapshot."""

    async def read_small(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A read known to touch few rows (SQLite runs it on the loop's thread)."""

    async def read_bounded(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(..., limit)`` as a small read, or, when it returns None (more rows than
        ``limit``), ``fn(...)`` as a read (SELECT and polls of large mailboxes)."""

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One write transaction, returned from once committed and durable."""

    async def write_unsynced(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A write whose loss in a power cut is harmless (the \\Recent floor)."""

    async def body_pieces(self, content: int, start: int, end: int) -> list[bytes]:
        """Some of the bytes ``[start, end)`` of a body, in order (empty past its end)."""

    async def read_ranges(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        """``[start, end)`` of each ``(content, start, end)``; None for a missing body."""


class SqlUserStore:
    """Accounts (the :class:`UserStore` Protocol)."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    async def get_user(self, name: str) -> UserRecord | None:
        found: UserRecord | None = await self._db.read_small(mb.get_user, name)
        return found

    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        await self._db.write(mb.add_user, name, password_hash, dict(secrets or {}),
                             default_mailboxes)

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        await self._db.write(mb.set_password, name, password_hash, dict(secrets or {}))

    async def delete_user(self, name: str) -> None:
        await self._db.write(mb.delete_user, name)

    async def list_users(self) -> list[str]:
        found: list[str] = await self._db.read(mb.list_users)
        return found

    async def get_quota(self, name: str) -> QuotaLimits:
        found: QuotaLimits = await self._db.read(quota.get_quota, name)
        return found

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        await self._db.write(quota.set_quota, name, limits)


class SqlBackend:
    """The :class:`Backend` Protocol over an :class:`Engine`; the database packages
    build the engine and add what only they have (migrations, LISTEN, checks)."""

    def __init__(self, db: Engine, flag_copies: FlagCopies | None = None) -> None:
        self.engine = db
        self.flag_copies = flag_copies
        self.changes: ChangeFeed = db.changes
        self.users: UserStore = SqlUserStore(db)
        self.namespaces = Namespaces()
        self.metadata = MetadataSettings()

    async def open(self, user: str) -> SharingStore:
        return await open_sharing(self, user)

    async def open_owner(self, user: str) -> SqlMailStore:
        if await self.engine.read_small(mb.get_user, user) is None:
            raise NoSuchUser(f"No user {user}")
        return SqlMailStore(self.engine, user, self.flag_copies)

    async def get_acl(self, owner: str, mailbox: str) -> dict[str, str] | None:
        found: dict[str, str] | None = await self.engine.read_small(
            acl.get_acl, owner, mailbox)
        return found

    async def set_acl(self, owner: str, mailbox: str, identifier: str, rights: str) -> None:
        await self.engine.write(acl.set_acl, owner, mailbox, identifier, rights)

    async def acl_entries(self, identifiers: Sequence[str]) -> list[tuple[str, str, str, str]]:
        found: list[tuple[str, str, str, str]] = await self.engine.read_small(
            acl.acl_entries, list(identifiers))
        return found

    async def get_metadata(
        self, owner: str, mailbox: str | None, user: str
    ) -> dict[str, bytes] | None:
        found: dict[str, bytes] | None = await self.engine.read_small(
            metadata.get_metadata, owner, mailbox, user)
        return found

    async def set_metadata(
        self, owner: str, mailbox: str | None, user: str,
        changes: Mapping[str, bytes | None], max_entries: int,
    ) -> None:
        await self.engine.write(
            metadata.set_metadata, owner, mailbox, user, dict(changes), max_entries)

    async def text_index_status(self) -> tuple[bool, int]:
        """``(usable, contents not indexed yet)`` of the full-text index (issue 17)."""
        found: tuple[bool, int] = await self.engine.read(textindex.status)
        return found


class SqlScriptStore:
    """One user's Sieve scripts (the :class:`ScriptStore` Protocol)."""

    def __init__(self, db: Engine, user: str) -> None:
        self._db = db
        self.user = user

    async def list(self) -> list[ScriptInfo]:
        found: list[ScriptInfo] = await self._db.read_small(sv.list_scripts, self.user)
        return found

    async def get(self, name: str) -> str:
        found: str = await self._db.read_small(sv.get_script, self.user, name)
        return found

    async def put(self, name: str, text: str, limits: ScriptLimits) -> None:
        await self._db.write(sv.put_script, self.user, name, text, limits)

    async def activate(self, name: str | None) -> None:
        await self._db.write(sv.activate, self.user, name)

    async def delete(self, name: str) -> None:
        await self._db.write(sv.delete_script, self.user, name)

    async def rename(self, old: str, new: str) -> None:
        await self._db.write(sv.rename_script, self.user, old, new)

    async def active(self) -> tuple[str, str] | None:
        found: tuple[str, str] | None = await self._db.read_small(sv.active_script, self.user)
        return found

    async def seen(self, kind: str, key: bytes, now: int) -> bool:
        found: bool = await self._db.read_small(sv.seen, self.user, kind, key, now)
        return found

    async def remember(self, kind: str, key: bytes, expires: int, now: int) -> None:
        await self._db.write(sv.remember, self.user, kind, key, expires, now)

    async def claim(self, kind: str, key: bytes, expires: int, now: int) -> bool:
        made: bool = await self._db.write(sv.claim, self.user, kind, key, expires, now)
        return made

    async def forget(self, kind: str, key: bytes) -> None:
        await self._db.write(sv.forget, self.user, kind, key)


class SqlMailStore:
    """One user's authenticated state (the :class:`MailStore` Protocol)."""

    def __init__(self, db: Engine, user: str, flag_copies: FlagCopies | None = None) -> None:
        self._db = db
        self.user = user
        self.flag_copies = flag_copies

    async def list_mailboxes(self) -> list[MailboxRecord]:
        found: list[MailboxRecord] = await self._db.read_small(mb.list_mailboxes, self.user)
        return found

    async def create_mailbox(
        self, name: str, special_use: str | None = None
    ) -> tuple[int, int]:
        created: tuple[int, int] = await self._db.write(
            mb.create_mailbox, self.user, name, special_use)
        return created

    async def delete_mailbox(self, name: str) -> None:
        await self._db.write(mb.delete_mailbox, self.user, name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        await self._db.write(mb.rename_mailbox, self.user, old, new)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        await self._db.write(mb.set_subscribed, self.user, name, subscribed)

    async def list_subscriptions(self) -> list[str]:
        found: list[str] = await self._db.read_small(mb.list_subscriptions, self.user)
        return found

    async def status(self, name: str) -> MailboxStatus:
        found: MailboxStatus = await self._db.read(mb.status, self.user, name)
        return found

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        found: AppendResult = await self._db.write(
            msg.append, self.user, name, message, flags, internaldate)
        return found

    async def restore_mailbox(
        self, name: str, uidvalidity: int, uidnext: int, highestmodseq: int
    ) -> None:
        await self._db.write(mb.restore_mailbox, self.user, name, uidvalidity, uidnext,
                             highestmodseq)

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        found: list[AppendResult] = await self._db.write(
            msg.append_many, self.user, name, list(items))
        return found

    async def quota(self) -> QuotaUsage:
        found: QuotaUsage = await self._db.read(quota.quota, self.user)
        return found

    async def urlauth_key(self, name: str, create: bool) -> bytes | None:
        if not create:
            found: bytes | None = await self._db.read_small(ua.get_key, self.user, name)
            return found
        made: bytes = await self._db.write(
            ua.create_key, self.user, name, secrets.token_bytes(URLAUTH_KEY_BYTES))
        return made

    async def reset_urlauth_keys(self, name: str | None) -> None:
        await self._db.write(ua.reset_keys, self.user, name)

    def scripts(self) -> SqlScriptStore:
        return SqlScriptStore(self._db, self.user)

    async def select(self, name: str, readonly: bool) -> tuple[SqlSelected, SelectResult]:
        cached = None if self.flag_copies is None else self.flag_copies.uids_at
        snap, uids, unseen = await self._db.read_bounded(
            msg.select_snapshot, self.user, name, cached)
        selected = SqlSelected(self, snap.mailbox_id, snap.uidvalidity, snap.name, readonly)
        candidates = uids[bisect_right(uids, snap.recent_floor):]  # uids ascend
        recent = await selected._claim(candidates, claim=not readonly)
        result = SelectResult(
            name=snap.name, uidvalidity=snap.uidvalidity, uidnext=snap.uidnext,
            highestmodseq=snap.highestmodseq, uids=uids, recent=recent,
            unseen_uids_first=unseen, keywords=snap.keywords, readonly=readonly,
            mailbox_id=snap.mailbox_id,
        )
        return selected, result

    async def close(self) -> None:
        pass


class SqlSelected:
    """The selected state (the :class:`SelectedMailbox` Protocol). Holds only the
    mailbox's identity (row id and UIDVALIDITY), never its counters."""

    def __init__(
        self, store: SqlMailStore, mailbox_id: int, uidvalidity: int, name: str,
        readonly: bool,
    ) -> None:
        self._store = store
        self._user = store.user
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
        floor = await self._db.write_unsynced(
            msg.claim_recent, self._id, self._uidvalidity, candidates[-1])
        return frozenset(u for u in candidates if u > floor)

    def _check_writable(self) -> None:
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        snap, new, changed, expunged = await self._db.read_bounded(
            msg.poll_snapshot, self._id, self._uidvalidity, since_modseq, known_max_uid)
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
            found: list[MessageRecord] = await run(
                msg.fetch_page, self._id, lo, hi, limit, with_structure)
            return found

        async for page in pages(uids, FETCH_PAGE, read, record_uid):
            for record in page:
                yield record

    async def fetch_flags(
        self, uids: Sequence[tuple[int, int]]
    ) -> AsyncIterator[Sequence[FlagRow]]:
        ranges = merge_ranges(uids)
        copies = self._store.flag_copies
        if copies is not None and sum(hi - lo + 1 for lo, hi in ranges) >= copies.min_span:
            # Most of a large mailbox: from the process's copy (see storage/sql/flagindex.py).
            copy = await copies.current(self._id, self._uidvalidity)
            for page in copy.pages(ranges):
                yield page
            return

        async def read(lo: int, hi: int, limit: int) -> list[FlagRow]:
            run = self._db.read_small if hi - lo < SMALL_FLAGS else self._db.read
            found: list[FlagRow] = await run(msg.flag_page, self._id, lo, hi, limit)
            return found

        async for page in pages(ranges, FLAG_PAGE, read, row_uid):
            yield page

    async def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        pos, end = max(start, 0), max(start, 0) + max(length, 0)
        while pos < end:
            pieces = await self._db.body_pieces(content, pos, end)
            if not pieces:
                return
            for piece in pieces:
                yield piece
                pos += len(piece)

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        return await self._db.read_ranges(list(ranges))

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        self._check_writable()
        found: list[FlagUpdate] = await self._db.write(
            msg.store, self._user, self._id, self._uidvalidity, list(uids), mode, flags)
        return found

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        self._check_writable()
        found: tuple[list[FlagUpdate], list[int]] = await self._db.write(
            msg.store_unchanged_since, self._user, self._id, self._uidvalidity, list(uids),
            mode, flags, unchangedsince)
        return found

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        found: list[int] = await self._db.read(
            msg.vanished, self._id, self._uidvalidity, since_modseq, merge_ranges(uids))
        return found

    async def copy(self, uids: Sequence[int], dest: str) -> CopyResult:
        found: CopyResult = await self._db.write(
            msg.copy, self._user, self._id, self._uidvalidity, list(uids), dest)
        return found

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        self._check_writable()
        found: CopyResult = await self._db.write(
            msg.move, self._user, self._id, self._uidvalidity, list(uids), dest)
        return found

    async def replace(self, uid: int, dest: str, item: AppendItem) -> tuple[AppendResult, bool]:
        self._check_writable()
        found: tuple[AppendResult, bool] = await self._db.write(
            msg.replace, self._user, self._id, self._uidvalidity, uid, dest, item)
        return found

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        self._check_writable()
        found: list[int] = await self._db.write(
            msg.expunge, self._user, self._id, self._uidvalidity,
            None if uids is None else list(uids))
        return found

    async def search(self, key: SearchKey) -> list[int]:
        found: list[int] = await self._db.read(msg.search, self._id, self._uidvalidity, key)
        return found

    async def search_scored(self, key: SearchKey) -> list[tuple[int, int]]:
        scored: list[tuple[int, int]] = await self._db.read(
            msg.search_scored, self._id, self._uidvalidity, key)
        return scored

    async def close(self) -> None:
        pass
