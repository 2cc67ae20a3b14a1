"""The storage interface: async Protocols grouped by IMAP state, over the typed records
and errors of :mod:`pyimapd.storage.records` (re-exported here).

How this works: a :class:`Backend` holds accounts (:class:`UserStore`) and opens a
:class:`MailStore` per authenticated user. ``MailStore.select`` returns a
:class:`SelectedMailbox` for the selected state. Sessions learn of changes made by others
through the :class:`ChangeFeed`: it only wakes them up; what changed is then read from the
store with :meth:`SelectedMailbox.poll`, by modification sequence. The store is thus the
single source of truth, which is what lets several processes (and later several nodes on
PostgreSQL) share it.

Invariants every backend keeps (RFC 3501 section 2.3.1.1, RFC 7162):

* UIDs in a mailbox are strictly ascending and never reused; UIDNEXT only grows.
* UIDVALIDITY differs for every mailbox ever created under a name, even after a delete.
* Every change (append, flag change, expunge) takes a new, higher per-mailbox MODSEQ and
  sets the changed message's MODSEQ (or the expunge record's) to it.
* ``\\Recent`` is handed to exactly one session: the first that polls the message with
  ``claim_recent=True``.
* A write has reached stable storage before its coroutine returns (durable before OK).

Backends never format wire bytes. Mailbox names are Unicode with ``/`` as the hierarchy
delimiter and ``INBOX`` normalised (see :mod:`pyimapd.storage.names`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pyimapd.search.ast import SearchKey
from pyimapd.storage.records import (  # noqa: F401 - the interface's own names
    AppendItem,
    AppendResult,
    Changes,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MailboxExists,
    MailboxRecord,
    MailboxStatus,
    MessageRecord,
    NoPermission,
    NoSuchMailbox,
    NoSuchScript,
    NoSuchUser,
    NotAllowed,
    OverQuota,
    PreparedMessage,
    QuotaLimits,
    QuotaUsage,
    ScriptActive,
    ScriptExists,
    ScriptInfo,
    ScriptLimits,
    ScriptQuota,
    SelectResult,
    StorageError,
    Unavailable,
    UserRecord,
)

if TYPE_CHECKING:
    from pyimapd.storage.metadata import MetadataSettings
    from pyimapd.storage.sharing import Namespaces

DELIMITER = "/"

MAILBOX_LIST = "\x01mailboxes"
"""The change-feed key, beside the user's mailbox names, that CREATE, DELETE, RENAME,
SUBSCRIBE and UNSUBSCRIBE signal: NOTIFY's MailboxName and SubscriptionChange events
(RFC 5465 sections 5.4, 5.5) wait on it. No mailbox can have this name: names with a
control character are refused (storage/names.py)."""

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")

DEFAULT_MAILBOXES: tuple[tuple[str, str], ...] = (
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
"""The mailboxes a new account gets besides INBOX, with their RFC 6154 special use, so
clients find Sent and Trash by attribute instead of guessing by name."""

URLAUTH_KEY_BYTES = 32
"""A mailbox access key (RFC 4467 section 2.2: "at least 128 bits", unpredictable):
256 random bits from :mod:`secrets`."""


# --- protocols -----------------------------------------------------------------------------


class UserStore(Protocol):
    async def get_user(self, name: str) -> UserRecord | None: ...
    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        """Creates the account with its INBOX and, unless ``default_mailboxes`` is false
        (a migration copies the source's own), the :data:`DEFAULT_MAILBOXES` with their
        special use. Raises StorageError if it exists."""

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        """Replaces the hash and *all* SASL secrets (None clears them: secrets derived
        from an old password must not keep working). Raises NoSuchUser."""
    async def delete_user(self, name: str) -> None:
        """Removes the account and all its mail. Raises NoSuchUser."""

    async def list_users(self) -> list[str]: ...

    async def get_quota(self, name: str) -> QuotaLimits:
        """Raises NoSuchUser."""

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        """Replaces the account's limits (both resources). Raises NoSuchUser. Mail
        already stored stays even when over the new limits; only additions are refused."""


class SelectedMailbox(Protocol):
    """The selected state (RFC 3501 section 6.4). UIDs given to it may include UIDs that
    were since expunged: those are silently skipped."""

    name: str
    readonly: bool

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        """One consistent snapshot of the changes (see :class:`Changes`). Raises
        NoSuchMailbox when the mailbox was deleted (or deleted and re-created, i.e. its
        UIDVALIDITY changed) since it was selected: the session should end with BYE."""

    def fetch(
        self, uids: Sequence[tuple[int, int]], with_structure: bool
    ) -> AsyncIterator[MessageRecord]:
        """Messages whose UIDs lie in the inclusive ranges, ascending by UID, read in
        pages so a large mailbox is never held in memory."""
        ...

    def fetch_flags(self, uids: Sequence[tuple[int, int]]) -> AsyncIterator[Sequence[FlagRow]]:
        """Pages of ``(uid, flags, modseq)`` for the UIDs in the ranges, ascending. The
        flag resync every client runs at SELECT (``UID FETCH 1:* (UID FLAGS)``) reads only
        these columns, without building a :class:`MessageRecord` per message: on a
        100,000-message mailbox the records and their dates were most of its cost."""
        ...

    def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        """The bytes ``[start, start + length)`` of a message, in chunks of at most 64 KiB.
        Raises StorageError when the content is gone (every copy expunged since FETCH)."""
        ...

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        """The bytes ``[start, end)`` of each ``(content, start, end)``, clipped to the
        message, in one store round trip: the small sections of a page of FETCH
        responses (the header every client fetches for new mail) cost one thread hop or
        query, not one per message. None for a content that is gone. The caller keeps
        the ranges small; large sections stream through :meth:`read`."""
        ...

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        """``mode``: ``""`` replaces, ``"+"`` adds, ``"-"`` removes. Returns the messages
        whose flags actually changed (each with its new MODSEQ). ``\\Recent`` is never
        stored."""

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        """STORE with UNCHANGEDSINCE (RFC 7162 section 3.1.3), atomically: messages whose
        MODSEQ is above ``unchangedsince`` are left alone and returned second (UIDs
        ascending); the others are stored as by :meth:`store`, whose updates come first."""

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        """UIDs in the inclusive ranges that were expunged with a MODSEQ above
        ``since_modseq``, ascending (QRESYNC's VANISHED (EARLIER), RFC 7162 3.2.6)."""

    async def copy(self, uids: Sequence[int], dest: str) -> CopyResult:
        """Raises NoSuchMailbox when ``dest`` does not exist (the session adds TRYCREATE),
        OverQuota when the copies would take the account over a quota limit."""

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        """MOVE (RFC 6851): copies the messages to ``dest`` and removes them from this
        mailbox (recorded as expunged, with one new MODSEQ) in one atomic step, whatever
        their flags; ``dest`` may be this mailbox. Raises NoSuchMailbox like copy and
        NotAllowed on a read-only mailbox."""

    async def replace(self, uid: int, dest: str, item: AppendItem) -> tuple[AppendResult, bool]:
        """REPLACE (RFC 8508 section 3.4): appends ``item`` to ``dest`` (which may be this
        mailbox) and removes ``uid`` from this one, whatever its flags, in one atomic
        step; True second when ``uid`` was removed (it may have been expunged meanwhile,
        then the append stands alone). Raises like append, and NotAllowed when read-only."""

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """Removes the messages flagged ``\\Deleted`` (only among ``uids`` when given).
        Returns the removed UIDs ascending."""

    async def search(self, key: SearchKey) -> list[int]:
        """UIDs matching ``key``, ascending. ``key`` holds no SeqSet, UidSet or Recent."""

    async def search_scored(self, key: SearchKey) -> list[tuple[int, int]]:
        """``(uid, relevancy)`` of the messages matching ``key``, ascending: FUZZY's
        scores (RFC 6203 section 4, :mod:`pyimapd.search.fuzzy`), 100 without it."""

    async def close(self) -> None: ...


class MailStore(Protocol):
    """The authenticated state of one user (RFC 3501 section 6.3)."""

    user: str

    async def list_mailboxes(self) -> list[MailboxRecord]: ...
    async def create_mailbox(
        self, name: str, special_use: str | None = None
    ) -> tuple[int, int]:
        """Creates missing superiors too (RFC 3501 section 6.3.3). ``special_use`` is
        stored as given (RFC 6154 section 3: the session has checked it); a DELETE that
        keeps the name as \\Noselect drops it. Returns the new mailbox's row and
        UIDVALIDITY, which name it (RFC 8474 section 4.1's MAILBOXID in CREATE's OK)."""

    async def delete_mailbox(self, name: str) -> None:
        """RFC 3501 section 6.3.4: a mailbox with inferiors keeps existing as \\Noselect
        (its messages are removed); deleting a \\Noselect with inferiors is NotAllowed."""

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Renames inferiors too; renaming INBOX moves its messages (section 6.3.5)."""

    async def set_subscribed(self, name: str, subscribed: bool) -> None: ...
    async def list_subscriptions(self) -> list[str]: ...
    async def status(self, name: str) -> MailboxStatus: ...
    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        """Raises NoSuchMailbox when ``name`` does not exist (the session adds TRYCREATE),
        OverQuota when the message would take the account over a quota limit (checked
        inside the write transaction)."""

    async def restore_mailbox(
        self, name: str, uidvalidity: int, uidnext: int, highestmodseq: int
    ) -> None:
        """A migration (issue 20): the mailbox, created if missing, takes another
        server's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, so that clients keep their
        caches. Only an empty mailbox can: NotAllowed otherwise."""

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        """MULTIAPPEND (RFC 3502): all the messages, in order, in one transaction (so
        consecutive UIDs and one MODSEQ), or none of them. Refuses like :meth:`append`."""

    async def quota(self) -> QuotaUsage:
        """The account's usage and limits (RFC 9208 GETQUOTA/GETQUOTAROOT)."""

    async def select(self, name: str, readonly: bool) -> tuple[SelectedMailbox, SelectResult]:
        """Opens the mailbox and returns the SELECT data; a writable select claims the
        messages not yet recent to any session as this session's \\Recent."""

    async def urlauth_key(self, name: str, create: bool) -> bytes | None:
        """The mailbox access key of URLAUTH's INTERNAL mechanism (RFC 4467 section 2.2),
        :data:`URLAUTH_KEY_BYTES` random octets; with ``create`` one is made (and kept)
        when the mailbox has none, else None is returned then. A key lives as long as
        its mailbox under one UIDVALIDITY (a re-created mailbox starts without one).
        Raises NoSuchMailbox for a mailbox that does not exist or is \\Noselect."""

    async def reset_urlauth_keys(self, name: str | None) -> None:
        """RESETKEY (RFC 4467 section 7): forgets the key of mailbox ``name``, or of every
        mailbox of the user when None, so every URL made with it stops verifying; the
        next GENURLAUTH makes a new one. Raises NoSuchMailbox like :meth:`urlauth_key`."""

    def scripts(self) -> ScriptStore:
        """The user's Sieve scripts and delivery tracking (issue 19)."""

    async def close(self) -> None: ...




class ScriptStore(Protocol):
    """One user's Sieve scripts (RFC 5804's model: named scripts, at most one active) and
    what delivery remembers between messages."""

    async def list(self) -> list[ScriptInfo]:
        """By name, in code point order."""

    async def get(self, name: str) -> str:
        """Raises NoSuchScript."""

    async def put(self, name: str, text: str, limits: ScriptLimits) -> None:
        """Creates or replaces; raises ScriptQuota (the text says which limit)."""

    async def activate(self, name: str | None) -> None:
        """Makes ``name`` the one active script, or none when None; raises NoSuchScript."""

    async def delete(self, name: str) -> None:
        """Raises NoSuchScript, or ScriptActive for the active one."""

    async def rename(self, old: str, new: str) -> None:
        """Keeps the active mark; raises NoSuchScript or ScriptExists."""

    async def active(self) -> tuple[str, str] | None:
        """``(name, text)`` of the active script, for delivery."""

    async def seen(self, kind: str, key: bytes, now: int) -> bool:
        """Whether ``key`` of ``kind`` (``"vacation"``, ``"duplicate"``) is remembered
        and not expired at epoch second ``now``."""

    async def remember(self, kind: str, key: bytes, expires: int, now: int) -> None:
        """Records ``key`` until ``expires``; expired records of the user go meanwhile."""

    async def claim(self, kind: str, key: bytes, expires: int, now: int) -> bool:
        """Records ``key`` until ``expires`` unless a live record exists; True when this
        call made it. Two deliveries racing for one vacation reply: one wins."""

    async def forget(self, kind: str, key: bytes) -> None:
        """Drops a record (a claimed reply that could not be sent)."""


class Subscription(Protocol):
    """One session's interest in one mailbox's changes, as the session uses it."""

    async def wait(self, timeout: float | None = None) -> bool:
        """Returns True when the mailbox changed since the last wait, False on timeout."""

    def watch(self, future: asyncio.Future[None]) -> None:
        """Resolves ``future`` at the next change (at once if one is pending) without
        consuming it: IDLE waits on a change or the client's line with one future."""

    def unwatch(self, future: asyncio.Future[None]) -> None: ...

    @property
    def identity(self) -> Hashable:
        """Equal for subscriptions to the same mailbox of the same feed: their sessions
        may share one poll of the store (session/view.py, ``SharedPolls``)."""

    def generation(self) -> int:
        """How many changes the mailbox has signalled in this process: a poll started at
        generation g has seen every change signalled up to g (signals follow COMMIT)."""

    def close(self) -> None: ...


class ChangeFeed(Protocol):
    """Wakes sessions watching a mailbox. Keys are ``(user, mailbox name)``; a rename or
    delete also notifies."""

    def subscribe(self, user: str, mailbox: str) -> Subscription: ...
    def notify(self, user: str, mailbox: str) -> None: ...


class Backend(Protocol):
    users: UserStore
    changes: ChangeFeed
    namespaces: Namespaces
    """Where others' and shared mailboxes appear (storage/sharing.py); ``open_backend``
    sets it from ``[namespaces]``."""

    async def start(self) -> None: ...
    async def open(self, user: str) -> MailStore:
        """The user's store with rights enforced: a
        :class:`~pyimapd.storage.sharing.SharingStore` over :meth:`open_owner`."""

    async def open_owner(self, user: str) -> MailStore:
        """The user's own mailboxes with no rights checked: for the administrator,
        delivery, migrations and the sharing store itself. Raises NoSuchUser."""

    async def get_acl(self, owner: str, mailbox: str) -> dict[str, str] | None:
        """The ACL of ``owner``'s ``mailbox`` (identifier -> canonical rights, RFC 4314),
        None when there is no such mailbox (a \\Noselect name is one)."""

    async def set_acl(self, owner: str, mailbox: str, identifier: str, rights: str) -> None:
        """Replaces the entry; empty ``rights`` removes it. Raises NoSuchMailbox."""

    async def acl_entries(self, identifiers: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """``(owner, mailbox, identifier, rights)`` of every entry, in every account,
        naming one of ``identifiers``."""

    metadata: MetadataSettings
    """``[metadata]``: RFC 5464's limits and server entries; set by ``open_backend``."""

    async def get_metadata(
        self, owner: str, mailbox: str | None, user: str
    ) -> dict[str, bytes] | None:
        """The METADATA entries of ``owner``'s ``mailbox`` (None: ``owner``'s own
        ``/private`` server entries) that ``user`` sees, the ``/shared`` ones and
        ``user``'s ``/private`` ones, by lower-case name (storage/metadata.py); None
        when there is no such mailbox (a \\Noselect name is one that exists)."""

    async def set_metadata(
        self, owner: str, mailbox: str | None, user: str,
        changes: Mapping[str, bytes | None], max_entries: int,
    ) -> None:
        """Sets (a None value deletes) every entry of ``changes`` or none (RFC 5464
        section 4.3); raises NoSuchMailbox and MetadataTooMany. No rights checked."""

    async def close(self) -> None: ...


class TextIndexed(Protocol):
    """Optional (issue 17, ``pyimapd index``): a backend whose SEARCH text keys go
    through a full-text index. ``progress(done, total)`` follows a rebuild."""

    async def text_index_status(self) -> tuple[bool, int]:
        """``(usable, contents not indexed yet)``."""

    async def rebuild_text_index(
        self, user: str | None, reset: bool, progress: Callable[[int, int], None]
    ) -> int:
        """Indexes what is missing (``user``'s messages only, or all), after emptying
        the index with ``reset``; returns how many contents (or indexes) it built."""


class CheckableBackend(Protocol):
    """Optional (``pyimapd doctor``): a backend that can check its own consistency."""

    async def check(self) -> list[str]:
        """Problems found, each a sentence an operator can act on; empty when healthy."""

