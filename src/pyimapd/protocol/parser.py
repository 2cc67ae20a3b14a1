"""Commands of RFC 3501 section 6 from a framed command line.

How this works: the connection hands :func:`parse_command` one whole command as text
segments and the literals between them. A :class:`~pyimapd.protocol.grammar.Reader`
reads ``tag SP command-name`` and the table :data:`_COMMANDS` picks the function that
reads that command's arguments (``command = tag SP (command-any / command-auth /
command-nonauth / command-select) CRLF``). Errors come back as :class:`ParseError` with
the tag when one was read, so the session answers ``tag BAD text``.

APPEND is special: its message literal is streamed, so the connection calls
:func:`append_head` at each literal of an APPEND to learn whether that literal is the
message (then it gets the mailbox, flags and date) or the mailbox name.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyimapd.protocol import commands as c
from pyimapd.protocol.events import ParseError
from pyimapd.protocol.fetch_parser import parse_fetch_items
from pyimapd.protocol.grammar import (
    ATOM_PATTERN,
    TAG_PATTERN,
    ParseFailure,
    Reader,
    decode_mailbox,
)
from pyimapd.protocol.search_parser import parse_search

STATUS_ATTS = c.STATUS_ITEMS | {"HIGHESTMODSEQ", "SIZE", "DELETED"}
"""``status-att`` of RFC 3501 plus CONDSTORE (RFC 7162) and STATUS=SIZE / IMAP4rev2 ones;
the session decides which it supports."""

_APPEND_START = re.compile(TAG_PATTERN + b" APPEND ", re.IGNORECASE)

_EMPTY_RESPONSE = re.compile(rb"=(?![^ ])")
"""RFC 4959: ``"="`` alone is an empty initial response."""

_Handler = Callable[[Reader, str, bool], c.Command]


@dataclass(frozen=True, slots=True)
class AppendHead:
    """What precedes the message literal: ``APPEND SP mailbox [SP flag-list]
    [SP date-time] SP literal``."""

    tag: str
    mailbox: str
    flags: tuple[str, ...]
    date_time: datetime | None


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


def append_head(segments: Sequence[bytes], literals: Sequence[bytes]) -> AppendHead | None:
    """Called at a literal marker: the APPEND head if the literal about to come is an
    APPEND message, None if it is not (another command, or APPEND's mailbox name).

    ``segments[-1]`` is the text just before the marker. Raises :class:`ParseFailure`
    (with :attr:`ParseFailure.tag` set) when an APPEND head is already invalid.
    """
    if _APPEND_START.match(segments[0]) is None:
        return None
    r = Reader(segments, literals)
    tag = r.tag()
    r.pos += len(b" APPEND ")
    if r.at_end():
        return None  # the literal is the mailbox name
    try:
        head = _append_head(r, tag)
        if not r.at_end():
            raise ParseFailure("Invalid APPEND arguments")
    except ParseFailure as exc:
        raise AppendHeadError(tag, str(exc)) from exc
    return head


class AppendHeadError(ParseFailure):
    """An APPEND whose arguments before the message literal are invalid."""

    def __init__(self, tag: str, text: str) -> None:
        super().__init__(text)
        self.tag = tag


def _append_head(r: Reader, tag: str) -> AppendHead:
    """``mailbox [SP flag-list] [SP date-time] SP`` up to the message literal."""
    mailbox = r.mailbox()
    r.sp("message literal")
    flags: tuple[str, ...] = ()
    date_time = None
    if r.peek() == 0x28:
        flags = r.flag_list()
        r.sp("message literal")
    if r.peek() == 0x22:
        date_time = r.date_time()
        r.sp("message literal")
    return AppendHead(tag, mailbox, flags, date_time)


def _append(r: Reader, tag: str, uid: bool) -> c.Command:
    """A complete APPEND line always lacks its message literal: the connection turns one
    that has it into AppendStart before the literal arrives."""
    r.sp("mailbox name")
    _append_head(r, tag)
    if r.at_end():
        raise ParseFailure("Missing message literal")
    raise ParseFailure("Invalid APPEND arguments")


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


def _one_mailbox(cls: type[c.Select | c.Examine | c.Create | c.Delete | c.Subscribe
                           | c.Unsubscribe], name: str) -> _Handler:
    """``select = "SELECT" SP mailbox`` and the other one-mailbox commands."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp("mailbox name")
        mailbox = r.mailbox()
        r.end(name)
        return cls(tag, mailbox)

    return handler


def _rename(r: Reader, tag: str, uid: bool) -> c.Command:
    """``rename = "RENAME" SP mailbox SP mailbox``."""
    r.sp("mailbox name")
    old = r.mailbox()
    r.sp("new mailbox name")
    new = r.mailbox("new mailbox name")
    r.end("RENAME")
    return c.Rename(tag, old, new)


def _list_like(cls: type[c.List | c.Lsub], name: str) -> _Handler:
    """``list = "LIST" SP mailbox SP list-mailbox`` (and LSUB alike)."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp("reference name")
        reference = r.mailbox("reference name")
        r.sp("mailbox pattern")
        pattern = _decode_pattern(r.list_mailbox("mailbox pattern"))
        r.end(name)
        return cls(tag, reference, pattern)

    return handler


def _decode_pattern(raw: bytes) -> str:
    """A list-mailbox pattern is decoded like a name; ``*`` and ``%`` pass through."""
    return decode_mailbox(raw, "mailbox pattern")


def _status(r: Reader, tag: str, uid: bool) -> c.Command:
    """``status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"``."""
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.sp("status items")
    r.char(b"(", "status items")
    if r.peek() == 0x29:
        raise ParseFailure("Empty STATUS item list")
    items = [_status_att(r)]
    while r.peek() == 0x20:
        r.pos += 1
        items.append(_status_att(r))
    r.char(b")", "status items")
    r.end("STATUS")
    return c.Status(tag, mailbox, tuple(items))


def _status_att(r: Reader) -> str:
    name = r.atom("status item").decode("ascii").upper()
    if name not in STATUS_ATTS:
        raise ParseFailure(f"Unknown status item {name}")
    return name


# --- selected --------------------------------------------------------------------------


def _search(r: Reader, tag: str, uid: bool) -> c.Command:
    key, charset = parse_search(r)
    return c.Search(tag, key, charset, uid)


def _fetch(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp("sequence set")
    sequence = r.sequence_set()
    r.sp("FETCH attributes")
    items = parse_fetch_items(r)
    r.end("FETCH")
    return c.Fetch(tag, sequence, items, uid)


_STORE_ATT = re.compile(rb"([+-]?)FLAGS(\.SILENT)?(?![^ ])", re.IGNORECASE)


def _store(r: Reader, tag: str, uid: bool) -> c.Command:
    """``store = "STORE" SP sequence-set SP store-att-flags``;
    ``store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))``.
    """
    r.sp("sequence set")
    sequence = r.sequence_set()
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
    return c.Store(tag, sequence, mode, m.group(2) is not None, flags, uid)


def _copy(r: Reader, tag: str, uid: bool) -> c.Command:
    """``copy = "COPY" SP sequence-set SP mailbox``."""
    r.sp("sequence set")
    sequence = r.sequence_set()
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.end("COPY")
    return c.Copy(tag, sequence, mailbox, uid)


_UID_COMMANDS: dict[str, _Handler] = {
    "COPY": _copy,
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": _search,
}


def _uid(r: Reader, tag: str, uid: bool) -> c.Command:
    """``uid = "UID" SP (copy / fetch / search / store)``."""
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
    "SELECT": _one_mailbox(c.Select, "SELECT"),
    "EXAMINE": _one_mailbox(c.Examine, "EXAMINE"),
    "CREATE": _one_mailbox(c.Create, "CREATE"),
    "DELETE": _one_mailbox(c.Delete, "DELETE"),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(c.Subscribe, "SUBSCRIBE"),
    "UNSUBSCRIBE": _one_mailbox(c.Unsubscribe, "UNSUBSCRIBE"),
    "LIST": _list_like(c.List, "LIST"),
    "LSUB": _list_like(c.Lsub, "LSUB"),
    "STATUS": _status,
    "APPEND": _append,
    "CHECK": _no_args(c.Check, "CHECK"),
    "CLOSE": _no_args(c.Close, "CLOSE"),
    "EXPUNGE": _no_args(c.Expunge, "EXPUNGE"),
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "UID": _uid,
    "IDLE": _no_args(c.Idle, "IDLE"),
}
"""Command name (upper-cased) to the function reading its arguments."""
