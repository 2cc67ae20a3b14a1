"""The SEARCH key tree (RFC 3501 section 6.4.4), shared by the parser, the session, the
reference evaluator and the SQL compilers.

The parser produces keys that may refer to the session's view (:class:`SeqSet`,
:class:`Recent`); the session rewrites those into :class:`UidIn` / :class:`UidIn`-based
keys before the tree reaches storage, so storage only ever sees keys it can answer alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyimapd.protocol.commands import SequenceSet


@dataclass(frozen=True, slots=True)
class All:
    pass


@dataclass(frozen=True, slots=True)
class Flag:
    """A system flag or keyword is set (``present``) or not. Covers ANSWERED, UNSEEN,
    KEYWORD, UNKEYWORD and friends. ``flag`` keeps its wire spelling (``\\Seen``)."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Recent:
    """``\\Recent`` is per session: the session replaces it by a :class:`UidIn`."""


@dataclass(frozen=True, slots=True)
class SeqSet:
    """Message sequence numbers: the session replaces it by a :class:`UidIn`."""

    sequence: SequenceSet


@dataclass(frozen=True, slots=True)
class UidSet:
    """``UID sequence-set`` as written, ``*`` unresolved: the session resolves it."""

    sequence: SequenceSet


@dataclass(frozen=True, slots=True)
class UidIn:
    """Concrete, sorted, merged inclusive UID ranges. The only UID key storage sees."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Size:
    """LARGER (``larger=True``) or SMALLER, against RFC822.SIZE."""

    larger: bool
    octets: int


@dataclass(frozen=True, slots=True)
class InternalDate:
    """BEFORE/ON/SINCE: ``op`` is ``"before"``, ``"on"`` or ``"since"``. Dates compare
    by the internal date's own calendar day (RFC 3501 ignores time and timezone)."""

    op: str
    day: date


@dataclass(frozen=True, slots=True)
class SaveDate:
    """SAVEDBEFORE/SAVEDON/SAVEDSINCE (RFC 8514 section 4.3), by the UTC day of the
    save date (a message stored before save dates were kept counts its internal date)."""

    op: str
    day: date


@dataclass(frozen=True, slots=True)
class SentDate:
    """SENTBEFORE/SENTON/SENTSINCE, against the Date header."""

    op: str
    day: date


@dataclass(frozen=True, slots=True)
class Header:
    """HEADER name value, and SUBJECT/FROM/TO/CC/BCC as ``Header("SUBJECT", ...)``.
    ``name`` is upper-cased. An empty ``value`` matches every message that has the field."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Body:
    """BODY string: substring of the decoded body text."""

    value: str


@dataclass(frozen=True, slots=True)
class Text:
    """TEXT string: substring of the header or the decoded body text."""

    value: str


@dataclass(frozen=True, slots=True)
class ObjectId:
    """RFC 8474 section 6: ``EMAILID objectid`` or ``THREADID objectid``, as written;
    the session resolves it (EMAILID to :class:`Content`, THREADID to nothing)."""

    kind: str  # "EMAILID" or "THREADID"
    value: str


@dataclass(frozen=True, slots=True)
class Content:
    """The message's stored content is this one (what EMAILID names)."""

    content: int


@dataclass(frozen=True, slots=True)
class Modseq:
    """MODSEQ (RFC 7162 section 3.1.5): the message's mod-sequence is at least ``value``.
    The optional entry name and type are dropped by the parser: the store keeps one
    mod-sequence per message, so section 3.1.5 says to ignore them."""

    value: int


@dataclass(frozen=True, slots=True)
class Within:
    """OLDER / YOUNGER ``seconds`` (RFC 5032 section 2), relative to the time of the
    search: the session replaces it by :class:`InternalTime`, so that one search uses
    one "now" and storage compares against a fixed moment."""

    older: bool
    seconds: int


@dataclass(frozen=True, slots=True)
class InternalTime:
    """The INTERNALDATE is at or before (``older``) or at or after ``epoch`` (UTC
    seconds): RFC 5032's "less recent than or equal to" / "more recent than or equal
    to" the target time, to the second."""

    older: bool
    epoch: int


@dataclass(frozen=True, slots=True)
class Fuzzy:
    """FUZZY (RFC 6203) around a string key: an inexact match with a score, as
    :mod:`pyimapd.search.fuzzy` defines them; the parser builds it there only."""

    key: Header | Body | Text


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple[SearchKey, ...]


SearchKey = (
    All | Flag | Recent | SeqSet | UidSet | UidIn | Size | InternalDate | SaveDate | SentDate
    | Header
    | Body | Text | Modseq | Within | InternalTime | ObjectId | Content | Fuzzy | Not | Or
    | And
)


def holds(key: SearchKey, kind: type) -> bool:
    """Whether the key tree holds a key of ``kind`` anywhere: the session asks this of
    keys that change what a command does (MODSEQ, RFC 7162 3.1.5) or that a mode
    refuses (RECENT in IMAP4rev2)."""
    return holds_where(key, lambda k: isinstance(k, kind))


def holds_where(key: SearchKey, test: Callable[[SearchKey], bool]) -> bool:
    """Whether a key of the tree passes ``test``: sequence numbers under UIDONLY, ``$``
    outside the selected mailbox."""
    if test(key):
        return True
    if isinstance(key, Not):
        return holds_where(key.key, test)
    if isinstance(key, Or):
        return holds_where(key.left, test) or holds_where(key.right, test)
    if isinstance(key, And):
        return any(holds_where(k, test) for k in key.keys)
    return False


def names_saved(key: SearchKey) -> bool:
    """A ``$`` key (RFC 5182 section 2.1), alone or as ``UID $``."""
    return isinstance(key, SeqSet | UidSet) and key.sequence.saved
