"""Commands of RFC 3501 section 6 from a framed command line.

How this works: the connection hands :func:`parse_command` one whole command as text
segments and the literals between them. A :class:`~pyimapd.protocol.grammar.Reader`
reads ``tag SP command-name`` and the table :data:`_COMMANDS` picks the function that
reads that command's arguments (``command = tag SP (command-any / command-auth /
command-nonauth / command-select) CRLF``). Errors come back as :class:`ParseError` with
the tag when one was read, so the session answers ``tag BAD text``.

APPEND is special: its message literals are streamed, so the connection reads its
arguments itself with :mod:`pyimapd.protocol.append_parser`.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Callable, Iterator, Sequence

from pyimapd.protocol import acl_parser as acl
from pyimapd.protocol import commands as c
from pyimapd.protocol import ext_parser as ext
from pyimapd.protocol import metadata_parser as metadata
from pyimapd.protocol import multisearch, notify_parser
from pyimapd.protocol import urlauth_parser as urlauth
from pyimapd.protocol.events import ParseError
from pyimapd.protocol.fetch_parser import parse_fetch_items
from pyimapd.protocol.grammar import (
    ATOM_PATTERN,
    TAG_PATTERN,
    InvalidMailboxName,
    ParseFailure,
    Reader,
)
from pyimapd.protocol.mailbox_parser import (
    create,
    list_,
    list_like,
    one_mailbox,
    rename,
    status,
)
from pyimapd.protocol.search_parser import (
    parse_partial_range,
    parse_search,
    parse_search_return,
    parse_sort,
    parse_thread,
)

_EMPTY_RESPONSE = re.compile(rb"=(?![^ ])")
"""RFC 4959: ``"="`` alone is an empty initial response."""

_Handler = Callable[[Reader, str, bool], c.Command]


def parse_command(segments: Sequence[bytes], literals: Sequence[bytes]) -> c.Command | ParseError:
    """Parse one complete command; never raises for bad input."""
    r = Reader(segments, literals)
    try:
        tag = r.tag()
    except ParseFailure as exc:
        return ParseError(None, str(exc))
    try:
        r.sp("command name")
        name = r.atom("command name").upper().decode("ascii")
        handler = _COMMANDS.get(name)
        if handler is None:
            raise ParseFailure(f"Unknown command {name}")
        return handler(r, tag, False)
    except InvalidMailboxName as exc:
        return invalid_name(tag, name, exc)
    except ParseFailure as exc:
        return ParseError(tag, str(exc))
    except c.CommandError as exc:
        return ParseError(tag, f"Invalid arguments: {exc}")


_COMMAND_START = re.compile(TAG_PATTERN + b" (" + ATOM_PATTERN + b")")


def early_error(first_segment: bytes) -> str | None:
    """Why a command is bad already at its first literal, before ``+`` invites the client
    to send it: a missing tag or an unknown command name. None when it may be fine."""
    m = _COMMAND_START.match(first_segment)
    if m is None:
        return "Missing or invalid tag" if _TAG_ONLY.match(first_segment) is None else (
            "Missing command name")
    name = m.group(1).upper().decode("ascii")
    return None if name in _COMMANDS else f"Unknown command {name}"


_TAG_ONLY = re.compile(TAG_PATTERN + b" ")


def invalid_name(tag: str, command: str, exc: InvalidMailboxName) -> ParseError:
    """``NO``: a CREATE or RENAME to such a name can never succeed (CANNOT, RFC 5530),
    and no other command can find a mailbox by it (NONEXISTENT)."""
    code = "CANNOT" if command in ("CREATE", "RENAME") else "NONEXISTENT"
    return ParseError(tag, str(exc), code=code, status="NO")


def _append(r: Reader, tag: str, uid: bool) -> c.Command:
    """The connection scans every APPEND (``protocol/append_parser.py``), streaming its
    literals; what reaches this point lacks its mailbox, or names one that cannot exist
    (the mailbox read raises InvalidMailboxName, answered like other commands')."""
    r.sp("mailbox name")
    r.mailbox()
    raise ParseFailure("Invalid APPEND arguments")


def _replace(r: Reader, tag: str, uid: bool) -> c.Command:
    """REPLACE is scanned like APPEND (RFC 8508 section 6); this sees only what the
    scan sent back: a mailbox name that cannot exist, or no message."""
    r.sp("message number")
    r.number("UID" if uid else "message number", nonzero=True)
    r.sp("mailbox name")
    r.mailbox()
    raise ParseFailure("Invalid REPLACE arguments")


# --- commands without arguments --------------------------------------------------------


def _no_args(cls: type[c.Command], name: str) -> _Handler:
    """``"CAPABILITY" / "LOGOUT" / "NOOP" / "STARTTLS" / "CHECK" / "CLOSE" / "EXPUNGE"``."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.end(name)
        return cls(tag)

    return handler


# --- not authenticated -----------------------------------------------------------------


def _login(r: Reader, tag: str, uid: bool) -> c.Command:
    """``login = "LOGIN" SP userid SP password``; both astrings."""
    r.sp("user name")
    user = r.astring("user name")
    r.sp("password")
    password = r.astring("password")
    r.end("LOGIN")
    return c.Login(tag, user.decode("utf-8", "surrogateescape"),
                   password.decode("utf-8", "surrogateescape"))


def _authenticate(r: Reader, tag: str, uid: bool) -> c.Command:
    """``authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]`` (RFC 4959)."""
    r.sp("authentication mechanism")
    mechanism = r.atom("authentication mechanism").decode("ascii").upper()
    initial: bytes | None = None
    if not r.at_end():
        r.sp("initial response")
        if r.match(_EMPTY_RESPONSE):
            initial = b""
        else:
            token = r.base64("initial response")
            try:
                initial = b64decode(token, validate=True)
            except binascii.Error as exc:
                raise ParseFailure("Invalid base64 in initial response") from exc
    r.end("AUTHENTICATE")
    return c.Authenticate(tag, mechanism, initial)


# --- authenticated ---------------------------------------------------------------------


def _select(cls: type[c.Select | c.Examine], name: str) -> _Handler:
    """``select = "SELECT" SP mailbox [select-params]`` (RFC 4466 section 2.1) with the
    CONDSTORE and QRESYNC parameters of RFC 7162 section 7."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp("mailbox name")
        mailbox = r.mailbox()
        condstore, qresync = False, None
        if r.match(_PARAMS_START) is not None:
            while True:
                param = r.atom("select parameter").decode("ascii").upper()
                if param == "CONDSTORE" and not condstore:
                    condstore = True
                elif param == "QRESYNC" and qresync is None:
                    r.sp("QRESYNC parameters")
                    qresync = _qresync(r)
                else:
                    raise ParseFailure(f"Unknown or repeated select parameter {param}")
                if r.peek() != 0x20:
                    break
                r.pos += 1
            r.char(b")", "select parameters")
        r.end(name)
        return cls(tag, mailbox, condstore, qresync)

    return handler


def _qresync(r: Reader) -> c.Qresync:
    """``"(" uidvalidity SP mod-sequence-value [SP known-uids]
    [SP seq-match-data] ")"``; ``seq-match-data = "(" known-sequence-set SP
    known-uid-set ")"`` (RFC 7162 section 7)."""
    r.char(b"(", "QRESYNC parameters")
    uidvalidity = r.number("UIDVALIDITY", nonzero=True)
    r.sp("mod-sequence")
    modseq = r.mod_sequence("mod-sequence")
    known: c.SequenceSet | None = None
    match: tuple[c.SequenceSet, c.SequenceSet] | None = None
    if r.peek() == 0x20:
        r.pos += 1
        if r.peek() != 0x28:
            known = _uid_set(r)
            if r.peek() == 0x20:
                r.pos += 1
                match = _seq_match(r)
        else:
            match = _seq_match(r)
    r.char(b")", "QRESYNC parameters")
    return c.Qresync(uidvalidity, modseq, known, match)


def _uid_set(r: Reader) -> c.SequenceSet:
    """``known-uids = sequence-set`` with no ``*`` and no ``$``: UIDs the client holds."""
    sequence = r.sequence_set()
    if sequence.saved or any(c.STAR in pair for pair in sequence.ranges):
        raise ParseFailure("Invalid UID set")
    return sequence


def _seq_match(r: Reader) -> tuple[c.SequenceSet, c.SequenceSet]:
    r.char(b"(", "sequence match data")
    seqs = _uid_set(r)
    r.sp("sequence match data")
    uids = _uid_set(r)
    r.char(b")", "sequence match data")
    if sum(hi - lo + 1 for lo, hi in seqs.resolve(0)) != sum(
            hi - lo + 1 for lo, hi in uids.resolve(0)):
        raise ParseFailure("Sequence match data sets differ in size")
    return seqs, uids


# --- selected --------------------------------------------------------------------------


def _search(r: Reader, tag: str, uid: bool) -> c.Command:
    """``search = "SEARCH" [search-return-opts] SP search-program`` (RFC 4466 2.6)."""
    returns, partial, update = parse_search_return(r) or (None, None, ())
    key, charset = parse_search(r)
    return c.Search(tag, key, charset, uid, returns, partial, update)


def _sort(r: Reader, tag: str, uid: bool) -> c.Command:
    """``sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria`` (RFC 5256), or
    ESORT's ``extended-sort = ["UID" SP] "SORT" search-return-opts SP sort-criteria SP
    search-criteria`` (RFC 5267 section 5)."""
    returns, partial, update = parse_search_return(r) or (None, None, ())
    criteria, key, charset = parse_sort(r)
    return c.Sort(tag, criteria, key, charset, uid, returns, partial, update)


def _thread(r: Reader, tag: str, uid: bool) -> c.Command:
    """``thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria`` (RFC 5256)."""
    algorithm, key, charset = parse_thread(r)
    return c.Thread(tag, algorithm, key, charset, uid)


def _fetch(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp("sequence set")
    sequence = r.sequence_set()
    r.sp("FETCH attributes")
    items = parse_fetch_items(r)
    changedsince, vanished, partial = None, False, None
    has_modifiers = r.match(_MODIFIERS_START) is not None
    if has_modifiers:
        r.pos -= 1  # give the SP back to _modifiers
    for name in _modifiers(r, "FETCH") if has_modifiers else ():
        if name == "CHANGEDSINCE" and changedsince is None:
            r.sp("mod-sequence")
            changedsince = r.mod_sequence("mod-sequence")
        elif name == "VANISHED" and not vanished:
            vanished = True
        elif name == "PARTIAL" and partial is None:  # RFC 9394 section 3.3
            r.sp("partial range")
            partial = parse_partial_range(r)
        else:
            raise ParseFailure(f"Unknown or repeated FETCH modifier {name}")
    r.end("FETCH")
    return c.Fetch(tag, sequence, items, uid, changedsince, vanished, partial)


def _modifiers(r: Reader, command: str) -> Iterator[str]:
    """``SP "(" modifier *(SP modifier) ")"`` of RFC 4466 sections 2.4 and 2.5: yields
    each upper-cased modifier name, the caller reading its value."""
    r.sp(f"{command} modifiers")
    r.char(b"(", f"{command} modifiers")
    while True:
        yield r.atom(f"{command} modifier").decode("ascii").upper()
        if r.peek() != 0x20:
            break
        r.pos += 1
    r.char(b")", f"{command} modifiers")


_MODIFIERS_START = re.compile(rb" (?=\()")
_PARAMS_START = re.compile(rb" \(")
_STORE_ATT = re.compile(rb"([+-]?)FLAGS(\.SILENT)?(?![^ ])", re.IGNORECASE)


def _store(r: Reader, tag: str, uid: bool) -> c.Command:
    """``store = "STORE" SP sequence-set SP store-att-flags``;
    ``store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))``.
    """
    r.sp("sequence set")
    sequence = r.sequence_set()
    unchangedsince = None
    if r.match(_MODIFIERS_START) is not None:
        r.pos -= 1  # give the SP back to _modifiers
        for name in _modifiers(r, "STORE"):
            if name != "UNCHANGEDSINCE" or unchangedsince is not None:
                raise ParseFailure(f"Unknown or repeated STORE modifier {name}")
            r.sp("mod-sequence")
            unchangedsince = r.mod_sequence("mod-sequence", zero=True)
    r.sp("STORE item")
    m = r.match(_STORE_ATT)
    if m is None:
        raise ParseFailure("Invalid STORE item: expected FLAGS, +FLAGS or -FLAGS")
    r.sp("flags")
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        names = [r.flag()]
        while r.peek() == 0x20:
            r.pos += 1
            names.append(r.flag())
        flags = tuple(names)
    r.end("STORE")
    mode = m.group(1).decode("ascii")
    return c.Store(tag, sequence, mode, m.group(2) is not None, flags, uid, unchangedsince)


def _copy(r: Reader, tag: str, uid: bool) -> c.Command:
    """``copy = "COPY" SP sequence-set SP mailbox``."""
    r.sp("sequence set")
    sequence = r.sequence_set()
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.end("COPY")
    return c.Copy(tag, sequence, mailbox, uid)


def _move(r: Reader, tag: str, uid: bool) -> c.Command:
    """``move = "MOVE" SP sequence-set SP mailbox`` (RFC 6851 section 5)."""
    r.sp("sequence set")
    sequence = r.sequence_set()
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.end("MOVE")
    return c.Move(tag, sequence, mailbox, uid)


def _uid_expunge(r: Reader, tag: str, uid: bool) -> c.Command:
    """``uid-expunge = "UID" SP "EXPUNGE" SP sequence-set`` (RFC 4315 section 4)."""
    r.sp("UID set")
    sequence = r.sequence_set()
    r.end("UID EXPUNGE")
    return c.Expunge(tag, sequence, uid=True)


def _cancelupdate(r: Reader, tag: str, uid: bool) -> c.Command:
    """``command-select =/ "CANCELUPDATE" 1*(SP quoted)`` (RFC 5267 section 5)."""
    tags: list[str] = []
    while not r.at_end() or not tags:
        r.sp("tag")
        tags.append(r.quoted("tag").decode("utf-8", "replace"))
    return c.CancelUpdate(tag, tuple(tags))


_UID_COMMANDS: dict[str, _Handler] = {
    "COPY": _copy,
    "REPLACE": _replace,
    "MOVE": _move,
    "EXPUNGE": _uid_expunge,
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": _search,
    "SORT": _sort,
    "THREAD": _thread,
}


def _id(r: Reader, tag: str, uid: bool) -> c.Command:
    """``id = "ID" SP id-params-list``;
    ``id-params-list = "(" *(string SP nstring) ")" / nil`` (RFC 2971 section 4).
    The grammar's ``*`` lets pairs follow each other with SP between them."""
    r.sp("ID parameters")
    if r.match(_NIL) is not None:
        r.end("ID")
        return c.Id(tag, None)
    r.char(b"(", "ID parameters")
    pairs: list[tuple[str, str | None]] = []
    while r.peek() != 0x29:
        if pairs:
            r.sp("ID field")
        name = r.string("ID field").decode("utf-8", "replace")
        r.sp("ID value")
        value = None if r.match(_NIL) is not None else r.string("ID value").decode(
            "utf-8", "replace")
        pairs.append((name, value))
    r.char(b")", "ID parameters")
    r.end("ID")
    return c.Id(tag, tuple(pairs))


_NIL = re.compile(rb"NIL(?![^ )])", re.IGNORECASE)


def _enable(r: Reader, tag: str, uid: bool) -> c.Command:
    """``enable = "ENABLE" 1*(SP capability)`` (RFC 5161 section 4)."""
    names: list[str] = []
    while not r.at_end():
        r.sp("capability")
        names.append(r.atom("capability").decode("ascii").upper())
    if not names:
        raise ParseFailure("Missing capability")
    return c.Enable(tag, tuple(names))


def _uid(r: Reader, tag: str, uid: bool) -> c.Command:
    """``uid = "UID" SP (copy / fetch / search / store)``, plus UIDPLUS's EXPUNGE
    (RFC 4315) and MOVE (RFC 6851)."""
    r.sp("UID command")
    name = r.atom("UID command").upper().decode("ascii")
    handler = _UID_COMMANDS.get(name)
    if handler is None:
        raise ParseFailure(f"Unknown UID command {name}")
    return handler(r, tag, True)


_COMMANDS: dict[str, _Handler] = {
    "CAPABILITY": _no_args(c.Capability, "CAPABILITY"),
    "NOOP": _no_args(c.Noop, "NOOP"),
    "LOGOUT": _no_args(c.Logout, "LOGOUT"),
    "STARTTLS": _no_args(c.StartTLS, "STARTTLS"),
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "SELECT": _select(c.Select, "SELECT"),
    "EXAMINE": _select(c.Examine, "EXAMINE"),
    "CREATE": create,
    "DELETE": one_mailbox(c.Delete, "DELETE"),
    "RENAME": rename,
    "SUBSCRIBE": one_mailbox(c.Subscribe, "SUBSCRIBE"),
    "UNSUBSCRIBE": one_mailbox(c.Unsubscribe, "UNSUBSCRIBE"),
    "LIST": list_,
    "LSUB": list_like(c.Lsub, "LSUB"),
    "STATUS": status,
    "APPEND": _append,
    "REPLACE": _replace,
    "CHECK": _no_args(c.Check, "CHECK"),
    "CLOSE": _no_args(c.Close, "CLOSE"),
    "EXPUNGE": _no_args(c.Expunge, "EXPUNGE"),
    "SEARCH": _search,
    "SORT": _sort,
    "THREAD": _thread,
    "CANCELUPDATE": _cancelupdate,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "UID": _uid,
    "IDLE": _no_args(c.Idle, "IDLE"),
    "MOVE": _move,
    "UNSELECT": _no_args(c.Unselect, "UNSELECT"),
    "NAMESPACE": _no_args(c.Namespace, "NAMESPACE"),
    "UNAUTHENTICATE": _no_args(c.Unauthenticate, "UNAUTHENTICATE"),
    "ID": _id,
    "ENABLE": _enable,
    "NOTIFY": notify_parser.notify,
    "ESEARCH": multisearch.esearch,
    "GETQUOTA": ext.getquota,
    "GETQUOTAROOT": ext.getquotaroot,
    "SETQUOTA": ext.setquota,
    "COMPRESS": ext.compress,
    "GENURLAUTH": urlauth.genurlauth,
    "RESETKEY": urlauth.resetkey,
    "URLFETCH": urlauth.urlfetch,
    "SETACL": acl.setacl,
    "DELETEACL": acl.deleteacl,
    "GETACL": acl.getacl,
    "LISTRIGHTS": acl.listrights,
    "MYRIGHTS": acl.myrights,
    "GETMETADATA": metadata.getmetadata,
    "SETMETADATA": metadata.setmetadata,
}
"""Command name (upper-cased) to the function reading its arguments."""
