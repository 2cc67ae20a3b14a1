"""The in-memory backend's data: plain dicts, and the helpers both halves use."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyimapd.storage.interface import (
    MailboxStatus,
    PreparedMessage,
    QuotaLimits,
    StorageError,
)
from pyimapd.storage.quota import check_addition
from pyimapd.storage.values import (
    CHUNK_SIZE,
    flag_key,
    keywords_of,
)


@dataclass(slots=True)
class _Content:
    data: bytes
    structure: bytes
    headers: dict[str, str]
    text: str
    refs: int = 0
    preview: str | None = None


@dataclass(slots=True)
class _Message:
    uid: int
    content: int
    flags: frozenset[str]
    internaldate: datetime
    size: int
    modseq: int
    sent_date: datetime | None
    savedate: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    """RFC 8514: set when the message is added to a mailbox, copies included."""


_MAILBOX_IDS = itertools.count(1)


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
    access_key: bytes | None = None
    """RFC 4467's mailbox access key; a re-created mailbox is a new object without one."""
    acl: dict[str, str] = field(default_factory=dict)
    """RFC 4314 entries (identifier -> rights); a RENAME keeps the object and so them."""
    metadata: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """RFC 5464 entries by ``(private user or "", entry)``; kept and dropped as ``acl``."""
    ident: int = field(default_factory=lambda: next(_MAILBOX_IDS))
    """What a row id is in SQL: kept across RENAME (the object is renamed in place)."""


@dataclass(slots=True)
class _Account:
    password_hash: str
    secrets: dict[str, str] = field(default_factory=dict)
    mailboxes: dict[str, _Mailbox] = field(default_factory=dict)
    subscriptions: set[str] = field(default_factory=set)
    quota: QuotaLimits = field(default_factory=QuotaLimits)
    scripts: dict[str, str] = field(default_factory=dict)
    """Sieve scripts by name; ``active`` names the active one."""
    active: str | None = None
    tracking: dict[tuple[str, bytes], int] = field(default_factory=dict)
    """Sieve delivery tracking: ``(kind, key)`` -> expiry epoch second."""
    metadata: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """The user's ``/private`` server entries (RFC 5464), keyed as a mailbox's."""

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
    sent_date: datetime | None, modseq: int, uid: int | None = None,
) -> int:
    """Appends one message at UIDNEXT, or at a kept ``uid`` (the caller has checked
    it and set ``highestmodseq``)."""
    if uid is None:
        uid = mailbox.uidnext
    mailbox.uidnext = max(mailbox.uidnext, uid + 1)
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
        mailbox_id=mailbox.ident,
    )

