"""The storage records and errors: the typed values the storage Protocols
(:mod:`pyimapd.storage.interface`, which re-exports them) take and return.

They are kept apart from the Protocols because every backend and the session build and
read them, while only the Protocols say what a backend must do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

# --- errors --------------------------------------------------------------------------------


class StorageError(Exception):
    """A refusal by the store. ``code`` is the IMAP response code the session sends with
    its NO (RFC 5530), or None."""

    code: str | None = None

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NoSuchMailbox(StorageError):
    code = "NONEXISTENT"


class MailboxExists(StorageError):
    code = "ALREADYEXISTS"


class NotAllowed(StorageError):
    """The operation is not possible on this mailbox (deleting INBOX, a bad name...)."""

    code = "CANNOT"


class NoPermission(StorageError):
    """RFC 4314 section 4: the user may look the mailbox up (the ``l`` right) but lacks
    the right the command needs. Without ``l`` the store raises NoSuchMailbox instead,
    exactly as for a mailbox that does not exist."""

    code = "NOPERM"


class OverQuota(StorageError):
    code = "OVERQUOTA"


class NoSuchUser(StorageError):
    code = None


class NoSuchScript(StorageError):
    """RFC 5804 section 1.3's NONEXISTENT."""

    code = "NONEXISTENT"


class ScriptExists(StorageError):
    code = "ALREADYEXISTS"


class ScriptActive(StorageError):
    """DELETESCRIPT of the active script (RFC 5804 section 2.10)."""

    code = "ACTIVE"


class ScriptQuota(StorageError):
    """Too many scripts (``QUOTA/MAXSCRIPTS``) or too large (``QUOTA/MAXSIZE``)."""

    def __init__(self, text: str, code: str = "QUOTA") -> None:
        super().__init__(text)
        self.code = code


class Unavailable(StorageError):
    """The store is down or unreachable for now."""

    code = "UNAVAILABLE"


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRecord:
    """``secrets`` holds what the challenge-response SASL mechanisms need, keyed by
    mechanism name (see pyimapd.auth.stored); never the clear password."""

    name: str
    password_hash: str = field(repr=False)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    """One existing mailbox. ``has_children`` is true when any mailbox lies below it.
    ``special_use`` holds its RFC 6154 attributes (``\\Sent``), space-separated, or None.
    ``noselect`` marks a name kept only because it has inferiors (a deleted mailbox with
    inferiors, RFC 3501 section 6.3.4): LIST shows it with ``\\Noselect``."""

    name: str
    uidvalidity: int
    subscribed: bool
    has_children: bool
    special_use: str | None = None
    noselect: bool = False


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """The STATUS items of RFC 3501 section 6.3.10, plus what extensions will need.

    ``recent`` counts messages not yet claimed as recent by any session.
    """

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int
    highestmodseq: int
    size: int
    deleted: int = 0
    """Messages flagged \\Deleted (RFC 9208 section 4.1.4's DELETED)."""
    deleted_size: int = 0
    """Their octets: what an EXPUNGE would free (RFC 9208's DELETED-STORAGE)."""
    mailbox_id: int = 0
    """The mailbox's row, kept across RENAME: with UIDVALIDITY, OBJECTID's MAILBOXID."""


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """An account's quota (RFC 9208), set by the administrator: ``storage_kib`` limits the
    sum of the RFC822.SIZE of all its messages, in units of 1024 octets (the STORAGE
    resource, section 5.1); ``messages`` their number (MESSAGE, section 5.2). None means
    unlimited."""

    storage_kib: int | None = None
    messages: int | None = None

    def __post_init__(self) -> None:
        for value in (self.storage_kib, self.messages):
            if value is not None and value < 0:
                raise ValueError("a quota limit cannot be negative")


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """What an account uses now (octets and messages, over all its mailboxes), with its
    limits: the data of RFC 9208's QUOTA response."""

    storage: int
    messages: int
    limits: QuotaLimits


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message ready to store, built once by :mod:`pyimapd.delivery` from a spool file.

    ``source`` is a readable binary file positioned anywhere (the store seeks to 0 and
    reads ``size`` bytes in chunks; it never reads it whole). ``structure`` is the MIME
    part tree serialised by :mod:`pyimapd.mime` (opaque to the store). ``sent_date`` is
    from the Date header, for SENTBEFORE/SENTON/SENTSINCE. ``search_headers`` holds the
    decoded, lower-cased values of the header fields SEARCH looks at (field name ->
    value, several values joined by a newline) and ``search_text`` the decoded body text,
    both possibly truncated; they feed the store's SQL search.
    """

    source: BinaryIO
    size: int
    structure: bytes
    sent_date: datetime | None = None
    search_headers: dict[str, str] = field(default_factory=dict)
    search_text: str = ""
    preview: str | None = None
    """RFC 8970's preview (mime/preview.py), stored with the content."""


@dataclass(frozen=True, slots=True)
class AppendItem:
    """One message of :meth:`MailStore.append_many`."""

    message: PreparedMessage
    flags: frozenset[str]
    internaldate: datetime
    uid: int | None = None
    """A migration's UID to keep (issue 20), above every UID in the mailbox and
    ascending within the call; None: the next free one (UIDNEXT)."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class CopyResult:
    """COPYUID data (RFC 4315): source UIDs and the new UIDs, pairwise in order."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    dest_uids: tuple[int, ...]
    source_modseq: int = 0
    """For :meth:`SelectedMailbox.move`: the MODSEQ the source mailbox took when the
    originals were removed (RFC 6851 section 4.4), 0 when nothing moved or for COPY."""


@dataclass(frozen=True, slots=True)
class FlagUpdate:
    """A message's flags after a change, with the MODSEQ the change took."""

    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True, slots=True)
class SelectResult:
    """What SELECT and EXAMINE report, and the starting point of the session's view.

    ``uids`` lists every message's UID ascending: message sequence number ``n`` is
    ``uids[n - 1]``. ``recent`` are the UIDs this session sees as ``\\Recent``: on a
    writable select the ones it claimed; on a read-only select the ones no session has
    claimed yet, reported without claiming them (EXAMINE changes no state, RFC 3501
    section 6.3.2), so ``len(recent)`` is the RECENT count either way. ``keywords`` are
    the keywords in use (ever defined) in the mailbox.
    """

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    uids: Sequence[int]
    recent: frozenset[int]
    unseen_uids_first: int | None
    keywords: frozenset[str]
    readonly: bool
    mailbox_id: int = 0
    """As in :class:`MailboxStatus`."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened in a mailbox since ``since_modseq``, as :meth:`SelectedMailbox.poll`
    reports it.

    ``new`` are messages with a UID above the session's highest known UID, ascending,
    with their current flags. ``flags`` are messages the session already knew whose
    flags changed. ``expunged`` are UIDs removed (only those the session could know:
    at most its highest known UID). ``recent`` are the new UIDs this poll claimed; with
    ``claim_recent=False`` (or a read-only mailbox) the new UIDs that are still unclaimed,
    without claiming them.
    """

    highestmodseq: int
    new: tuple[FlagUpdate, ...]
    flags: tuple[FlagUpdate, ...]
    expunged: tuple[int, ...]
    recent: frozenset[int]
    keywords: frozenset[str]
    uidnext: int


FlagRow = tuple[int, frozenset[str], int]
"""``(uid, flags, modseq)`` of one message (:meth:`SelectedMailbox.fetch_flags`)."""


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message of a FETCH. ``content`` is an opaque handle for :meth:`read`.
    ``structure`` is the serialised MIME tree, present only when asked for."""

    uid: int
    flags: frozenset[str]
    internaldate: datetime
    size: int
    modseq: int
    content: int
    structure: bytes | None = None
    savedate: datetime | None = None
    """RFC 8514: when it was saved into this mailbox (UTC)."""
    preview: str | None = None
    """RFC 8970: the stored preview, with ``structure`` only; None when not stored."""


@dataclass(frozen=True, slots=True)
class ScriptInfo:
    name: str
    active: bool
    size: int
    """Octets of the script in UTF-8."""


@dataclass(frozen=True, slots=True)
class ScriptLimits:
    """What PUTSCRIPT may store (RFC 5804 section 2.6's quotas), checked in the write's
    own transaction so two sessions cannot pass them together."""

    max_scripts: int
    max_size: int
