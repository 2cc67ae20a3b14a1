"""Commands as the parser emits them: frozen, slotted dataclasses that validate when built.

Every command of RFC 3501 section 6 has a class here. The parser (``parser.py``) builds
them from the wire; the session dispatches on their type. Values are already decoded:
mailbox names are Unicode (modified UTF-7 undone, INBOX normalised), flags keep their
wire spelling, sequence sets keep ``*`` as :data:`STAR` until the session resolves them.
The values inside commands (sequence sets, PARTIAL ranges, FETCH items) are in
:mod:`pyimapd.protocol.arguments`, re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The values inside commands; the noqa names are re-exported (``commands.FetchSection``).
from pyimapd.protocol.arguments import (
    FETCH_ATTRS,  # noqa: F401
    MAX_PARTIAL,  # noqa: F401
    SECTION_TEXTS,  # noqa: F401
    STAR,  # noqa: F401
    CommandError,
    FetchAttr,  # noqa: F401
    FetchBinary,  # noqa: F401
    FetchItem,
    FetchSection,  # noqa: F401
    PartialRange,
    SequenceSet,
)
from pyimapd.search.ast import SearchKey


@dataclass(frozen=True, slots=True)
class Command:
    tag: str


# --- any state (RFC 3501 section 6.1) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability(Command):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Command):
    pass


@dataclass(frozen=True, slots=True)
class Logout(Command):
    pass


# --- not authenticated (section 6.2) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    pass


@dataclass(frozen=True, slots=True)
class Login(Command):
    """``userid`` and ``password`` are astrings, decoded as UTF-8 (surrogateescape)."""

    userid: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """``initial_response`` is the decoded SASL-IR argument (RFC 4959), ``b""`` for ``=``."""

    mechanism: str
    initial_response: bytes | None = field(default=None, repr=False)


# --- authenticated (section 6.3) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Qresync:
    """The QRESYNC select parameter (RFC 7162 section 3.2.5): what the client knew.

    ``known_uids`` is None when omitted (then 1:<UIDNEXT-1>). ``seq_match`` is the
    optional (known sequence set, their UIDs) hint of section 3.2.5.2.
    """

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True)
class Select(Command):
    """``condstore`` and ``qresync`` are RFC 7162's select parameters (sections 3.1.8,
    3.2.5)."""

    mailbox: str
    condstore: bool = False
    qresync: Qresync | None = None


@dataclass(frozen=True, slots=True)
class Examine(Command):
    mailbox: str
    condstore: bool = False
    qresync: Qresync | None = None


@dataclass(frozen=True, slots=True)
class Create(Command):
    """``use`` is RFC 6154's ``USE (...)`` create parameter (section 3): the special-use
    attributes as written, None when the parameter is absent."""

    mailbox: str
    use: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename(Command):
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    mailbox: str


LIST_SELECT_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
"""RFC 5258 section 3.1 and RFC 6154 section 2. SUBSCRIBED and SPECIAL-USE are "base"
options: RECURSIVEMATCH needs one of them."""

LIST_RETURN_OPTIONS = frozenset(
    {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS", "MYRIGHTS"})
"""RFC 5258 section 3.2, RFC 6154 section 2, RFC 5819 (STATUS, with its items) and
RFC 8440 (MYRIGHTS)."""


@dataclass(frozen=True, slots=True)
class List(Command):
    """``reference`` and ``pattern`` are decoded from modified UTF-7 like mailbox names.

    The LIST-EXTENDED form (RFC 5258 section 3) adds ``more_patterns`` (the patterns after
    the first of a parenthesized list), upper-cased ``select`` and ``returns`` options and,
    for RFC 5819's ``RETURN (STATUS (...))``, the ``status`` items in the order given.
    ``extended`` is true for any extended form: then an empty pattern is no longer the
    request for the hierarchy delimiter.
    """

    reference: str
    pattern: str
    more_patterns: tuple[str, ...] = ()
    select: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status: tuple[str, ...] = ()
    extended: bool = False

    def __post_init__(self) -> None:
        unknown = sorted((self.select - LIST_SELECT_OPTIONS) | (self.returns - LIST_RETURN_OPTIONS))
        if unknown:
            raise CommandError(f"unknown LIST option {unknown[0]}")
        if "RECURSIVEMATCH" in self.select and not self.select & {"SUBSCRIBED", "SPECIAL-USE"}:
            raise CommandError("RECURSIVEMATCH needs another selection option")
        if ("STATUS" in self.returns) != bool(self.status):
            raise CommandError("the STATUS return option needs status items")
        if (self.more_patterns or self.select or self.returns) and not self.extended:
            raise CommandError("LIST options need the extended form")

    @property
    def patterns(self) -> tuple[str, ...]:
        return (self.pattern, *self.more_patterns)


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    reference: str
    pattern: str


STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"})


@dataclass(frozen=True, slots=True)
class Status(Command):
    """``items`` are upper-cased status-att names, in the order the client gave them."""

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendStart(Command):
    """Start of a streamed APPEND (RFC 3501 section 6.3.11).

    The parser emits this when it reaches the message literal, then :class:`AppendData`
    events carrying the literal's bytes as they arrive, then :class:`AppendEnd` once the
    command line is complete. ``size`` is the declared literal size, checked against the
    limits before anything is buffered.
    """

    mailbox: str
    flags: tuple[str, ...]
    date_time: datetime | None
    size: int
    binary: bool = False
    """The message came as RFC 3516's ``literal8`` (``~{n}``): it may hold NUL."""
    catenate: bool = False
    """RFC 4469: the message is ``CATENATE (...)``, whose parts follow as events
    (:class:`~pyimapd.protocol.events.CatenateUrl`, ``CatenateText``); ``size`` is 0."""


@dataclass(frozen=True, slots=True)
class ReplaceStart(AppendStart):
    """REPLACE and UID REPLACE (RFC 8508 section 3): an APPEND of one message, streamed
    the same way, that also removes ``number`` (a UID with ``uid``; None is ``*``) from
    the selected mailbox."""

    uid: bool = False
    number: int | None = None


# --- selected (section 6.4) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check(Command):
    pass


@dataclass(frozen=True, slots=True)
class Close(Command):
    pass


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UIDPLUS's ``UID EXPUNGE sequence-set`` (RFC 4315 section 2.1) when
    ``uid`` is true: then only the \\Deleted messages among those UIDs go."""

    sequence: SequenceSet | None = None
    uid: bool = False

    def __post_init__(self) -> None:
        if self.uid != (self.sequence is not None):
            raise CommandError("UID EXPUNGE takes a UID set, EXPUNGE none")


SEARCH_RETURN_OPTIONS = frozenset(
    {"MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL", "CONTEXT", "UPDATE", "RELEVANCY"})
"""ESEARCH's result options (RFC 4731 section 3.1), SEARCHRES's SAVE (RFC 5182),
PARTIAL (RFC 9394 section 3.1), CONTEXT and UPDATE (RFC 5267 sections 4.2, 4.3) and
FUZZY's RELEVANCY (RFC 6203 section 4)."""

def check_returns(returns: frozenset[str] | None, partial: PartialRange | None,
                  command: str) -> None:
    """The result options of SEARCH and ESORT's SORT: known names, a range exactly when
    PARTIAL is given, and never PARTIAL with ALL (RFC 9394 section 3.1: "either one
    PARTIAL, one ALL, or neither")."""
    names = returns or frozenset()
    unknown = sorted(names - SEARCH_RETURN_OPTIONS)
    if unknown:
        raise CommandError(f"unknown {command} result option {unknown[0]}")
    if ("PARTIAL" in names) != (partial is not None):
        raise CommandError("PARTIAL needs a range")
    if {"PARTIAL", "ALL"} <= names:
        raise CommandError("PARTIAL and ALL cannot be combined")


@dataclass(frozen=True, slots=True)
class Search(Command):
    """``charset`` is None when the client gave no CHARSET; ``key`` is the AND of all keys.
    ``returns`` is None for a plain SEARCH, else the upper-cased result options of
    ``RETURN (...)`` (RFC 4466 section 2.6), possibly empty, which means ALL."""

    key: SearchKey
    charset: str | None = None
    uid: bool = False
    returns: frozenset[str] | None = None
    partial: PartialRange | None = None
    """The range of RFC 9394's ``PARTIAL`` result option (which ``returns`` names)."""
    update_fetch: tuple[FetchItem, ...] = ()
    """``UPDATE (fetch-att ...)`` (RFC 5465 section 7): what to FETCH of new mail that
    joins the update context."""

    def __post_init__(self) -> None:
        check_returns(self.returns, self.partial, "SEARCH")


SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
                       "DISPLAYFROM", "DISPLAYTO", "RELEVANCY"})
"""``sort-key`` of RFC 5256 section 5, with RFC 5957 section 5's DISPLAYFROM and
DISPLAYTO and RFC 6203 section 4's RELEVANCY."""

THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})
"""``thread-alg`` of RFC 5256 section 5 that pyimapd implements."""


@dataclass(frozen=True, slots=True)
class Sort(Command):
    """SORT and UID SORT (RFC 5256): ``criteria`` are ``(sort-key, reverse)`` pairs in
    priority order; the charset is mandatory, unlike SEARCH's. ``returns`` is None for
    the plain form, whose answer is ``* SORT``; ESORT's ``SORT RETURN (...)`` answers
    ``* ESEARCH``."""

    criteria: tuple[tuple[str, bool], ...]
    key: SearchKey
    charset: str
    uid: bool = False
    returns: frozenset[str] | None = None
    """ESORT's result options (RFC 5267 section 3), as for :class:`Search`."""
    partial: PartialRange | None = None
    update_fetch: tuple[FetchItem, ...] = ()

    def __post_init__(self) -> None:
        check_returns(self.returns, self.partial, "SORT")
        if not self.criteria:
            raise CommandError("SORT needs at least one sort criterion")
        for name, _ in self.criteria:
            if name not in SORT_KEYS:
                raise CommandError(f"unknown sort criterion {name}")


@dataclass(frozen=True, slots=True)
class CancelUpdate(Command):
    """``CANCELUPDATE 1*(SP quoted)`` (RFC 5267 section 4.3.5): the tags of the
    searching commands whose updates are to stop."""

    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.tags:
            raise CommandError("CANCELUPDATE needs at least one tag")


@dataclass(frozen=True, slots=True)
class Thread(Command):
    """THREAD and UID THREAD (RFC 5256) with one of :data:`THREAD_ALGORITHMS`."""

    algorithm: str
    key: SearchKey
    charset: str
    uid: bool = False

    def __post_init__(self) -> None:
        if self.algorithm not in THREAD_ALGORITHMS:
            raise CommandError(f"unknown threading algorithm {self.algorithm}")


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    """``changedsince`` and ``vanished`` are RFC 7162's fetch modifiers (sections
    3.1.4.1 and 3.2.6); VANISHED needs UID FETCH and CHANGEDSINCE. ``partial`` is RFC
    9394's."""

    sequence: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    changedsince: int | None = None
    vanished: bool = False
    partial: PartialRange | None = None
    """RFC 9394 section 3.3's PARTIAL fetch modifier, for UID FETCH only."""

    def __post_init__(self) -> None:
        if self.partial is not None and not self.uid:
            raise CommandError("PARTIAL is only allowed with UID FETCH")
        if self.vanished and not self.uid:
            raise CommandError("VANISHED is only allowed with UID FETCH")
        if self.vanished and self.changedsince is None:
            raise CommandError("VANISHED needs CHANGEDSINCE")


@dataclass(frozen=True, slots=True)
class Store(Command):
    """``mode`` is ``""`` (replace), ``"+"`` (add) or ``"-"`` (remove).
    ``unchangedsince`` is RFC 7162's store modifier (section 3.1.3)."""

    sequence: SequenceSet
    mode: str
    silent: bool
    flags: tuple[str, ...]
    uid: bool = False
    unchangedsince: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("", "+", "-"):
            raise CommandError("STORE mode must be FLAGS, +FLAGS or -FLAGS")


@dataclass(frozen=True, slots=True)
class Copy(Command):
    sequence: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move(Command):
    """MOVE and UID MOVE (RFC 6851 section 3): COPY, then expunge the originals, atomically."""

    sequence: SequenceSet
    mailbox: str
    uid: bool = False


# --- extensions built on the same machinery ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Idle(Command):
    """RFC 2177. The session then asks the protocol for a raw ``DONE`` line."""


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    """RFC 3691: leave the selected state without expunging."""


@dataclass(frozen=True, slots=True)
class Unauthenticate(Command):
    """RFC 8437: back to the not-authenticated state on the same connection."""


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    """RFC 2342."""


ID_MAX_PAIRS = 30
ID_MAX_FIELD = 30
ID_MAX_VALUE = 1024


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971 section 3.3: ``params`` is None for NIL, else (field, value-or-None) pairs.

    The limits of section 3.3 (30 pairs, fields of 30 octets, values of 1024) are checked
    here, so a client breaking them gets BAD.
    """

    params: tuple[tuple[str, str | None], ...] | None

    def __post_init__(self) -> None:
        if self.params is None:
            return
        if len(self.params) > ID_MAX_PAIRS:
            raise CommandError(f"more than {ID_MAX_PAIRS} ID field-value pairs")
        for name, value in self.params:
            if len(name.encode()) > ID_MAX_FIELD:
                raise CommandError(f"ID field longer than {ID_MAX_FIELD} octets")
            if value is not None and len(value.encode()) > ID_MAX_VALUE:
                raise CommandError(f"ID value longer than {ID_MAX_VALUE} octets")


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """RFC 5161: ``capabilities`` are upper-cased, in the order given."""

    capabilities: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.capabilities:
            raise CommandError("ENABLE needs at least one capability")


# --- QUOTA (RFC 9208) and COMPRESS (RFC 4978) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    """``getquota = "GETQUOTA" SP quota-root-name`` (RFC 9208 section 4.1.1)."""

    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    """``getquotaroot = "GETQUOTAROOT" SP mailbox`` (RFC 9208 section 4.1.2)."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """``setquota = "SETQUOTA" SP quota-root-name SP setquota-list`` (section 4.1.3):
    ``limits`` are (upper-cased resource name, limit) pairs, in the order given."""

    root: str
    limits: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        names = [name for name, _ in self.limits]
        if len(set(names)) != len(names):
            raise CommandError("a resource is named twice")


@dataclass(frozen=True, slots=True)
class Compress(Command):
    """``compress = "COMPRESS" SP algorithm`` (RFC 4978 section 3), upper-cased."""

    algorithm: str


@dataclass(frozen=True, slots=True)
class GenUrlAuth(Command):
    """RFC 4467 section 7: ``pairs`` are (URL rump, upper-cased mechanism), in order."""

    pairs: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.pairs:
            raise CommandError("GENURLAUTH needs at least one URL")


@dataclass(frozen=True, slots=True)
class ResetKey(Command):
    """RFC 4467 section 7: ``mailbox`` None resets every key of the user; mechanisms
    (upper-cased) need a mailbox (``"RESETKEY" [SP mailbox *(SP mechanism)]``)."""

    mailbox: str | None
    mechanisms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mechanisms and self.mailbox is None:
            raise CommandError("RESETKEY mechanisms need a mailbox")


@dataclass(frozen=True, slots=True)
class UrlFetch(Command):
    """RFC 4467 section 7: the URLs, in order."""

    urls: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.urls:
            raise CommandError("URLFETCH needs at least one URL")


NOTIFY_FILTERS = ("SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED",
                  "SUBTREE", "MAILBOXES")
"""RFC 5465 section 6's mailbox filters; the first two are the selected mailbox's."""
MESSAGE_EVENTS = ("MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange")
MAILBOX_EVENTS = ("MailboxName", "SubscriptionChange", "MailboxMetadataChange")
USER_EVENTS = ("ServerMetadataChange",)


@dataclass(frozen=True, slots=True)
class NotifyGroup:
    """One ``event-group``: a mailbox filter (upper case, one of
    :data:`NOTIFY_FILTERS`), the mailboxes SUBTREE and MAILBOXES name, the events in
    their RFC spelling (empty for ``NONE``; an unknown name is kept as sent, for the
    handler's BADEVENT), and the fetch attributes of ``MessageNew``."""

    filter: str
    mailboxes: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    fetch: tuple[FetchItem, ...] = ()

    @property
    def selected(self) -> bool:
        return self.filter in ("SELECTED", "SELECTED-DELAYED")


@dataclass(frozen=True, slots=True)
class Notify(Command):
    """RFC 5465 section 3.1: ``NOTIFY NONE`` (``groups`` None) or ``NOTIFY SET
    [STATUS] event-groups``."""

    groups: tuple[NotifyGroup, ...] | None
    status: bool = False

