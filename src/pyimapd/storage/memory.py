"""The in-memory reference backend: every rule of the storage contract, nothing durable.

How this works: one :class:`_State` holds accounts, mailboxes and message contents in
plain dicts. Every operation runs synchronously between two awaits, so on one event loop
each is atomic, which is what the SQL backends get from transactions. The hierarchy
rules come from :mod:`pyimapd.storage.plans`, flag rules from
:mod:`pyimapd.storage.values` and SEARCH from the reference evaluator, so this backend is
the oracle the contract suite holds the others to. It keeps message bytes in memory: it
is meant for fast tests, not for mail.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyimapd.search.ast import SearchKey
from pyimapd.search.evaluate import SearchableMessage, fold, matches
from pyimapd.storage import names, plans
from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import (
    DEFAULT_MAILBOXES,
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
    NoSuchMailbox,
    NoSuchUser,
    NotAllowed,
    PreparedMessage,
    QuotaLimits,
    QuotaUsage,
    SelectResult,
    StorageError,
    UserRecord,
    UserStore,
)
from pyimapd.storage.quota import check_addition
from pyimapd.storage.values import (
    CHUNK_SIZE,
    apply_store,
    flag_key,
    keywords_of,
    merge_ranges,
    normalize_flags,
    truncate,
)


@dataclass(slots=True)
class _Content:
    data: bytes
    structure: bytes
    headers: dict[str, str]
    text: str
    refs: int = 0


@dataclass(slots=True)
class _Message:
    uid: int
    content: int
    flags: frozenset[str]
    internaldate: datetime
    size: int
    modseq: int
    sent_date: datetime | None


@dataclass(slots=True)
class _Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    highestmodseq: int = 1
    recent_floor: int = 0
    noselect: bool = False
    special_use: str | None = None
    messages: dict[int, _Message] = field(default_factory=dict)
    """By UID; insertion order is ascending UID order, since UIDs only grow."""
    expunged: dict[int, int] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Account:
    password_hash: str
    secrets: dict[str, str] = field(default_factory=dict)
    mailboxes: dict[str, _Mailbox] = field(default_factory=dict)
    subscriptions: set[str] = field(default_factory=set)
    quota: QuotaLimits = field(default_factory=QuotaLimits)

    def check_addition(self, octets: int, messages: int) -> None:
        """RFC 9208 over the account's current usage (see :mod:`pyimapd.storage.quota`)."""
        if self.quota == QuotaLimits():
            return
        used = [m.size for box in self.mailboxes.values() for m in box.messages.values()]
        check_addition(self.quota, sum(used), len(used), octets, messages)


class _State:
    """Everything the backend knows; shared by all stores opened on it."""

    def __init__(self) -> None:
        self.accounts: dict[str, _Account] = {}
        self.contents: dict[int, _Content] = {}
        self._next_content = 1
        self._uidvalidity = int(time.time())

    def new_uidvalidity(self) -> int:
        """A fresh UIDVALIDITY: a counter seeded from the clock, as in SQLite."""
        self._uidvalidity += 1
        return self._uidvalidity

    def add_content(self, content: _Content) -> int:
        cid = self._next_content
        self._next_content += 1
        self.contents[cid] = content
        return cid

    def add_ref(self, cid: int) -> None:
        self.contents[cid].refs += 1

    def release(self, cid: int) -> None:
        """Drops one reference; the content goes with its last message."""
        content = self.contents[cid]
        content.refs -= 1
        if content.refs <= 0:
            del self.contents[cid]


def _read_source(message: PreparedMessage) -> bytes:
    """Reads exactly ``size`` bytes in chunks, as the contract asks of every store."""
    message.source.seek(0)
    parts: list[bytes] = []
    remaining = message.size
    while remaining > 0:
        chunk = message.source.read(min(CHUNK_SIZE, remaining))
        if not chunk:
            raise StorageError("Message source is shorter than its declared size")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _note_keywords(mailbox: _Mailbox, flags: frozenset[str]) -> None:
    for keyword in keywords_of(flags):
        mailbox.keywords.setdefault(flag_key(keyword), keyword)


def _add_message(
    state: _State, mailbox: _Mailbox, cid: int, flags: frozenset[str], internaldate: datetime,
    sent_date: datetime | None, modseq: int,
) -> int:
    """Appends one message at UIDNEXT (the caller has set ``highestmodseq``)."""
    uid = mailbox.uidnext
    mailbox.uidnext += 1
    size = len(state.contents[cid].data)
    mailbox.messages[uid] = _Message(uid, cid, flags, internaldate, size, modseq, sent_date)
    state.add_ref(cid)
    _note_keywords(mailbox, flags)
    return uid


def _status(mailbox: _Mailbox) -> MailboxStatus:
    msgs = mailbox.messages.values()
    return MailboxStatus(
        messages=len(mailbox.messages),
        recent=sum(1 for uid in mailbox.messages if uid > mailbox.recent_floor),
        uidnext=mailbox.uidnext,
        uidvalidity=mailbox.uidvalidity,
        unseen=sum(1 for m in msgs if "\\Seen" not in m.flags),
        highestmodseq=mailbox.highestmodseq,
        size=sum(m.size for m in msgs),
        deleted=sum(1 for m in msgs if "\\Deleted" in m.flags),
        deleted_size=sum(m.size for m in msgs if "\\Deleted" in m.flags),
    )


class MemoryUserStore:
    """Accounts (the :class:`UserStore` Protocol)."""

    def __init__(self, state: _State, backend: MemoryBackend) -> None:
        self._state = state
        self._backend = backend

    async def get_user(self, name: str) -> UserRecord | None:
        account = self._state.accounts.get(name)
        if account is None:
            return None
        return UserRecord(name, account.password_hash, dict(account.secrets))

    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        if not name:
            raise StorageError("User name is empty")
        if name in self._state.accounts:
            raise StorageError(f"User {name} already exists")
        account = _Account(password_hash, dict(secrets or {}))
        account.mailboxes[names.INBOX] = _Mailbox(names.INBOX, self._state.new_uidvalidity())
        for box, use in DEFAULT_MAILBOXES if default_mailboxes else ():
            account.mailboxes[box] = _Mailbox(
                box, self._state.new_uidvalidity(), special_use=use)
        self._state.accounts[name] = account

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        self._state.accounts[name].password_hash = password_hash
        self._state.accounts[name].secrets = dict(secrets or {})

    async def delete_user(self, name: str) -> None:
        account = self._state.accounts.pop(name, None)
        if account is None:
            raise NoSuchUser(f"No user {name}")
        for mailbox in account.mailboxes.values():
            for msg in mailbox.messages.values():
                self._state.release(msg.content)
            self._backend.changes.notify(name, mailbox.name)

    async def list_users(self) -> list[str]:
        return sorted(self._state.accounts)

    async def get_quota(self, name: str) -> QuotaLimits:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        return self._state.accounts[name].quota

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        self._state.accounts[name].quota = limits


class MemoryBackend:
    """The :class:`Backend` Protocol in memory. ``changes`` defaults to a fresh
    :class:`LocalChangeFeed`."""

    def __init__(self, changes: ChangeFeed | None = None) -> None:
        self._state = _State()
        self.changes: ChangeFeed = changes if changes is not None else LocalChangeFeed()
        self.users: UserStore = MemoryUserStore(self._state, self)

    async def start(self) -> None:
        pass

    async def open(self, user: str) -> MemoryMailStore:
        if user not in self._state.accounts:
            raise NoSuchUser(f"No user {user}")
        return MemoryMailStore(self._state, user, self.changes)

    async def close(self) -> None:
        pass

    async def check(self) -> list[str]:
        """The invariants of docs/storage.md, in words (``pyimapd doctor``)."""
        problems = []
        refs: dict[int, int] = {}
        for user, account in self._state.accounts.items():
            if names.INBOX not in account.mailboxes:
                problems.append(f"account {user} has no INBOX")
            for box in account.mailboxes.values():
                for msg in box.messages.values():
                    refs[msg.content] = refs.get(msg.content, 0) + 1
                    if msg.uid >= box.uidnext or msg.modseq > box.highestmodseq:
                        problems.append(f"{user}/{box.name}: UID {msg.uid} breaks the "
                                        "UIDNEXT or HIGHESTMODSEQ invariant")
                    if msg.content not in self._state.contents:
                        problems.append(f"{user}/{box.name}: UID {msg.uid} lost its body")
        orphans = [cid for cid in self._state.contents if cid not in refs]
        if orphans:
            problems.append(f"{len(orphans)} stored message bodies belong to no message")
        return problems


class MemoryMailStore:
    """One user's authenticated state (the :class:`MailStore` Protocol)."""

    def __init__(self, state: _State, user: str, changes: ChangeFeed) -> None:
        self._state = state
        self.user = user
        self._changes = changes

    @property
    def _account(self) -> _Account:
        account = self._state.accounts.get(self.user)
        if account is None:
            raise NoSuchUser(f"No user {self.user}")
        return account

    def _existing(self) -> dict[str, bool]:
        return {n: mb.noselect for n, mb in self._account.mailboxes.items()}

    def _selectable(
        self, name: str, noselect_error: type[StorageError] = NotAllowed
    ) -> _Mailbox:
        """The mailbox if it exists and is selectable. APPEND and COPY pass
        ``NoSuchMailbox`` as ``noselect_error`` so that a \\Noselect target earns a
        TRYCREATE, whose CREATE revives the name."""
        name = names.normalize(name)
        mailbox = self._account.mailboxes.get(name)
        if mailbox is None:
            raise NoSuchMailbox(f"Mailbox {name} does not exist")
        if mailbox.noselect:
            raise noselect_error(f"Mailbox {name} is \\Noselect")
        return mailbox

    async def list_mailboxes(self) -> list[MailboxRecord]:
        account = self._account
        all_names = sorted(account.mailboxes)
        return [
            MailboxRecord(
                name=name,
                uidvalidity=mb.uidvalidity,
                subscribed=name in account.subscriptions,
                has_children=any(names.is_inferior(n, name) for n in all_names),
                special_use=mb.special_use,
                noselect=mb.noselect,
            )
            for name, mb in sorted(account.mailboxes.items())
        ]

    async def create_mailbox(self, name: str, special_use: str | None = None) -> None:
        plan = plans.plan_create(name, self._existing())
        account = self._account
        for superior in plan.superiors:
            account.mailboxes[superior] = _Mailbox(superior, self._state.new_uidvalidity())
        # A revived \Noselect name is a new mailbox: fresh UIDVALIDITY and counters.
        account.mailboxes[plan.name] = _Mailbox(
            plan.name, self._state.new_uidvalidity(), special_use=special_use)
        for created in (*plan.superiors, plan.name):
            self._changes.notify(self.user, created)

    async def delete_mailbox(self, name: str) -> None:
        name, keep = plans.plan_delete(name, self._existing())
        account = self._account
        mailbox = account.mailboxes[name]
        for msg in mailbox.messages.values():
            self._state.release(msg.content)
        if keep:
            account.mailboxes[name] = _Mailbox(name, mailbox.uidvalidity, noselect=True)
        else:
            del account.mailboxes[name]
        mailbox.messages = {}
        mailbox.noselect = True  # sessions holding the old object see it gone
        self._changes.notify(self.user, name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        plan = plans.plan_rename(old, new, self._existing())
        account = self._account
        for superior in plan.superiors:
            account.mailboxes[superior] = _Mailbox(superior, self._state.new_uidvalidity())
        if plan.inbox:
            self._rename_inbox(account, plan.moves[0][1])
        else:
            moved = [(account.mailboxes.pop(src), dst) for src, dst in plan.moves]
            for mailbox, dst in moved:
                mailbox.name = dst
                account.mailboxes[dst] = mailbox
            for src, dst in plan.moves:
                if src in account.subscriptions:
                    account.subscriptions.discard(src)
                    account.subscriptions.add(dst)
        for src, dst in plan.moves:
            self._changes.notify(self.user, src)
            self._changes.notify(self.user, dst)

    def _rename_inbox(self, account: _Account, new: str) -> None:
        """Moves INBOX's messages into a new mailbox (keeping UIDs, flags and MODSEQs:
        the new mailbox has its own UIDVALIDITY) and records them as expunged from
        INBOX, so sessions with INBOX selected see them go."""
        inbox = account.mailboxes[names.INBOX]
        target = _Mailbox(
            new, self._state.new_uidvalidity(), uidnext=inbox.uidnext,
            highestmodseq=inbox.highestmodseq, recent_floor=inbox.recent_floor,
            messages=inbox.messages, keywords=dict(inbox.keywords),
        )
        account.mailboxes[new] = target
        inbox.messages = {}
        if target.messages:
            inbox.highestmodseq += 1
            for uid in target.messages:
                inbox.expunged[uid] = inbox.highestmodseq

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Subscriptions are names, not mailboxes: they may name a mailbox that does not
        exist, and deleting a mailbox keeps them (RFC 3501 section 6.3.6)."""
        if subscribed:
            self._account.subscriptions.add(names.validate(name))
        else:
            self._account.subscriptions.discard(names.normalize(name))

    async def list_subscriptions(self) -> list[str]:
        return sorted(self._account.subscriptions)

    async def status(self, name: str) -> MailboxStatus:
        return _status(self._selectable(name))

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        return (await self.append_many(name, [AppendItem(message, flags, internaldate)]))[0]

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        """Everything is checked and read before the mailbox changes: all or nothing."""
        mailbox = self._selectable(name, NoSuchMailbox)
        self._account.check_addition(sum(i.message.size for i in items), len(items))
        datas = [_read_source(item.message) for item in items]
        if not items:
            return []
        mailbox.highestmodseq += 1
        results = []
        for item, data in zip(items, datas, strict=True):
            message = item.message
            headers = {fold(k): fold(v) for k, v in message.search_headers.items()}
            content = _Content(data, bytes(message.structure), headers, fold(message.search_text))
            cid = self._state.add_content(content)
            sent = truncate(message.sent_date) if message.sent_date is not None else None
            uid = _add_message(
                self._state, mailbox, cid, normalize_flags(item.flags),
                truncate(item.internaldate), sent, mailbox.highestmodseq,
            )
            results.append(AppendResult(mailbox.uidvalidity, uid))
        self._changes.notify(self.user, mailbox.name)
        return results

    async def quota(self) -> QuotaUsage:
        account = self._account
        used = [m.size for box in account.mailboxes.values() for m in box.messages.values()]
        return QuotaUsage(sum(used), len(used), account.quota)

    async def select(self, name: str, readonly: bool) -> tuple[MemorySelected, SelectResult]:
        mailbox = self._selectable(name)
        uids = list(mailbox.messages)
        recent = frozenset(uid for uid in uids if uid > mailbox.recent_floor)
        if not readonly:
            mailbox.recent_floor = max(mailbox.recent_floor, mailbox.uidnext - 1)
        unseen = next((m.uid for m in mailbox.messages.values() if "\\Seen" not in m.flags), None)
        result = SelectResult(
            name=mailbox.name, uidvalidity=mailbox.uidvalidity, uidnext=mailbox.uidnext,
            highestmodseq=mailbox.highestmodseq, uids=uids, recent=recent,
            unseen_uids_first=unseen, keywords=frozenset(mailbox.keywords.values()),
            readonly=readonly,
        )
        return MemorySelected(self, mailbox, readonly), result

    async def close(self) -> None:
        pass


class MemorySelected:
    """The selected state (the :class:`SelectedMailbox` Protocol)."""

    def __init__(self, store: MemoryMailStore, mailbox: _Mailbox, readonly: bool) -> None:
        self._store = store
        self._state = store._state
        self._mailbox = mailbox
        self._uidvalidity = mailbox.uidvalidity
        self.readonly = readonly
        self.name = mailbox.name

    def _live(self) -> _Mailbox:
        """The mailbox, unless it was deleted or re-created since SELECT."""
        mailbox = self._mailbox
        account = self._state.accounts.get(self._store.user)
        if (
            account is None
            or account.mailboxes.get(mailbox.name) is not mailbox
            or mailbox.noselect
            or mailbox.uidvalidity != self._uidvalidity
        ):
            raise NoSuchMailbox(f"Mailbox {mailbox.name} was deleted")
        self.name = mailbox.name  # follows a RENAME
        return mailbox

    def _writable(self) -> _Mailbox:
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")
        return self._live()

    def _notify(self) -> None:
        self._store._changes.notify(self._store.user, self._mailbox.name)

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        mailbox = self._live()
        new, flags = [], []
        for msg in mailbox.messages.values():
            update = FlagUpdate(msg.uid, msg.flags, msg.modseq)
            if msg.uid > known_max_uid:
                new.append(update)
            elif msg.modseq > since_modseq:
                flags.append(update)
        expunged = sorted(
            uid for uid, modseq in mailbox.expunged.items()
            if uid <= known_max_uid and modseq > since_modseq
        )
        recent = frozenset(u.uid for u in new if u.uid > mailbox.recent_floor)
        if claim_recent and not self.readonly and new:
            mailbox.recent_floor = max(mailbox.recent_floor, new[-1].uid)
        return Changes(
            highestmodseq=mailbox.highestmodseq, new=tuple(new), flags=tuple(flags),
            expunged=tuple(expunged), recent=recent,
            keywords=frozenset(mailbox.keywords.values()), uidnext=mailbox.uidnext,
        )

    async def fetch(
        self, uids: Sequence[tuple[int, int]], with_structure: bool
    ) -> AsyncIterator[MessageRecord]:
        mailbox = self._mailbox
        for lo, hi in merge_ranges(uids):
            wanted = [uid for uid in mailbox.messages if lo <= uid <= hi]
            for uid in wanted:
                msg = mailbox.messages.get(uid)
                if msg is None:
                    continue
                structure = self._state.contents[msg.content].structure
                yield MessageRecord(
                    uid=msg.uid, flags=msg.flags, internaldate=msg.internaldate,
                    size=msg.size, modseq=msg.modseq, content=msg.content,
                    structure=structure if with_structure else None,
                )

    async def fetch_flags(
        self, uids: Sequence[tuple[int, int]]
    ) -> AsyncIterator[Sequence[FlagRow]]:
        # One page: everything is in memory here anyway.
        page = [(r.uid, r.flags, r.modseq) async for r in self.fetch(uids, False)]
        if page:
            yield page

    async def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        stored = self._state.contents.get(content)
        if stored is None:
            raise StorageError("Message no longer exists")
        data = stored.data
        end = min(len(data), start + max(length, 0))
        for pos in range(max(start, 0), end, CHUNK_SIZE):
            yield data[pos:min(pos + CHUNK_SIZE, end)]

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        found = [(self._state.contents.get(c), s, e) for c, s, e in ranges]
        return [None if got is None else got.data[max(s, 0):max(e, 0)] for got, s, e in found]

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        """All messages changed by one STORE share one new MODSEQ (RFC 7162 section 3.1
        allows it, and it is what the SQL backends do)."""
        mailbox = self._writable()
        flags = normalize_flags(flags)
        changed: list[tuple[_Message, frozenset[str]]] = []
        for uid in sorted(set(uids)):
            msg = mailbox.messages.get(uid)
            if msg is not None:
                after = apply_store(msg.flags, mode, flags)
                if after is not msg.flags:
                    changed.append((msg, after))
        if not changed:
            return []
        mailbox.highestmodseq += 1
        for msg, after in changed:
            msg.flags, msg.modseq = after, mailbox.highestmodseq
            _note_keywords(mailbox, after)
        self._notify()
        return [FlagUpdate(m.uid, m.flags, m.modseq) for m, _ in changed]

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        """No await between the test and the store, so the pair is atomic."""
        mailbox = self._writable()
        wanted = sorted(set(uids))
        modified = [u for u in wanted if u in mailbox.messages
                    and mailbox.messages[u].modseq > unchangedsince]
        failed = set(modified)
        passed = [u for u in wanted if u not in failed]
        return await self.store(passed, mode, flags), modified

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        mailbox = self._live()
        ranges = merge_ranges(uids)
        return sorted(
            uid for uid, modseq in mailbox.expunged.items()
            if modseq > since_modseq and any(lo <= uid <= hi for lo, hi in ranges)
        )

    async def copy(self, uids: Sequence[int], dest: str, moving: bool = False) -> CopyResult:
        """``moving``: the copies replace the originals, so the usage does not grow."""
        source = self._live()
        target = self._store._selectable(dest, NoSuchMailbox)
        msgs = [source.messages[u] for u in sorted(set(uids)) if u in source.messages]
        if not msgs:
            return CopyResult(target.uidvalidity, (), ())
        if not moving:
            self._store._account.check_addition(sum(m.size for m in msgs), len(msgs))
        target.highestmodseq += 1
        new_uids = [
            _add_message(
                self._state, target, m.content, m.flags, m.internaldate, m.sent_date,
                target.highestmodseq,
            )
            for m in msgs
        ]
        self._store._changes.notify(self._store.user, target.name)
        return CopyResult(target.uidvalidity, tuple(m.uid for m in msgs), tuple(new_uids))

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        """Copy and removal happen between two awaits, so atomically."""
        source = self._writable()
        copied = await self.copy(uids, dest, moving=True)
        if not copied.source_uids:
            return copied
        source.highestmodseq += 1
        for uid in copied.source_uids:
            msg = source.messages.pop(uid)
            source.expunged[uid] = source.highestmodseq
            self._state.release(msg.content)
        self._notify()
        return CopyResult(copied.uidvalidity, copied.source_uids, copied.dest_uids,
                          source.highestmodseq)

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        mailbox = self._writable()
        candidates = mailbox.messages.keys() if uids is None else set(uids)
        gone = sorted(
            uid for uid in candidates
            if uid in mailbox.messages and "\\Deleted" in mailbox.messages[uid].flags
        )
        if not gone:
            return []
        mailbox.highestmodseq += 1
        for uid in gone:
            msg = mailbox.messages.pop(uid)
            mailbox.expunged[uid] = mailbox.highestmodseq
            self._state.release(msg.content)
        self._notify()
        return gone

    async def search(self, key: SearchKey) -> list[int]:
        mailbox = self._live()
        result = []
        for msg in mailbox.messages.values():
            content = self._state.contents[msg.content]
            searchable = SearchableMessage(
                uid=msg.uid, flags=msg.flags, size=msg.size, internaldate=msg.internaldate,
                sent_date=msg.sent_date, headers=content.headers, text=content.text,
                modseq=msg.modseq,
            )
            if matches(key, searchable):
                result.append(msg.uid)
        return result

    async def close(self) -> None:
        pass

