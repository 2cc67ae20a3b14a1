"""The arguments of a streamed APPEND: RFC 3501 section 6.3.11, MULTIAPPEND (RFC 3502),
CATENATE (RFC 4469) and RFC 3516's ``literal8``.

How this works: APPEND's message literals and CATENATE's TEXT literals are streamed, so
the connection never holds a whole APPEND command. It calls :func:`scan` with the text
(and the small argument literals) read since the last streamed literal, at each literal
marker and at the end of the line, together with where in the grammar the last
streamed literal left it (:class:`Where`). :func:`scan` reads that text once and says
what it held (:class:`MessageStart` and :class:`UrlPart` items) and what the literal
about to come is: a message, a TEXT part, or a small argument (the mailbox name or an
URL sent as a literal, collected like any other literal and the text scanned again at
the next marker). The grammar, RFC 4466 section 2.3 with RFC 4469 section 5:

    append          = "APPEND" SP mailbox 1*append-message
    append-message  = append-opts SP append-data      ; RFC 3502: several
    append-opts     = [SP flag-list] [SP date-time]
    append-data     = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"
                      / utf8-literal
    cat-part        = text-literal / url / utf8-literal
    text-literal    = "TEXT" SP literal               ; literal8 too, as APPEND's own
    url             = "URL" SP astring
    utf8-literal    = "UTF8" SP "(" literal8 ")"      ; RFC 6855 section 4

(the first append-message follows the mailbox directly; RFC 3502 writes the later ones
as ``SP append-opts SP append-data`` the same way). REPLACE (RFC 8508 section 6) has the
same tail after its message number, and one message only:

    replace         = "REPLACE" SP seq-number SP mailbox append-message
    uid-replace     = "UID" SP "REPLACE" SP uniqueid SP mailbox append-message
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyimapd.protocol.events import ParseError
from pyimapd.protocol.grammar import InvalidMailboxName, ParseFailure, Reader


class Where(enum.Enum):
    """Where the text being scanned starts."""

    HEAD = "head"
    """At the command's start: ``tag SP "APPEND" SP mailbox ...``."""
    MESSAGE = "message"
    """After a complete message: the next ``SP append-message`` or the end."""
    PARTS = "parts"
    """Inside ``CATENATE (...)`` after a TEXT part: ``SP cat-part`` or ``)``."""
    UTF8_MESSAGE = "utf8-message"
    """After the literal of ``UTF8 (literal8)`` as a message: its ``)``, then as MESSAGE."""
    UTF8_PART = "utf8-part"
    """After the literal of ``UTF8 (literal8)`` as a part: its ``)``, then as PARTS."""


class Next(enum.Enum):
    """What follows the scanned text."""

    MESSAGE = "message"
    TEXT = "text"
    ARGUMENT = "argument"
    END = "end"


@dataclass(frozen=True, slots=True)
class MessageStart:
    """A message's ``append-opts`` were read. ``mailbox`` is set for the first one only;
    ``catenate`` tells that its parts follow as :class:`UrlPart` and TEXT literals."""

    mailbox: str | None
    flags: tuple[str, ...]
    date_time: datetime | None
    catenate: bool
    replace: Replaces | None = None


@dataclass(frozen=True, slots=True)
class Replaces:
    """REPLACE's message: a UID (``UID REPLACE``) or a sequence number; ``number`` None
    is ``*``, the last message (RFC 3501's ``seq-number``)."""

    uid: bool
    number: int | None


@dataclass(frozen=True, slots=True)
class UrlPart:
    """``"URL" SP astring`` of a CATENATE message (the URL is checked by the session)."""

    url: str


@dataclass(slots=True)
class Scan:
    items: list[MessageStart | UrlPart] = field(default_factory=list)
    where: Where = Where.MESSAGE
    next: Next = Next.END
    utf8: bool = False
    """The literal that follows is wrapped in ``UTF8 (...)``: its ``)`` comes after it."""

    def after_literal(self) -> Where:
        """Where the scan of the text after the coming message or TEXT literal starts."""
        if self.next is Next.TEXT:
            return Where.UTF8_PART if self.utf8 else Where.PARTS
        return Where.UTF8_MESSAGE if self.utf8 else Where.MESSAGE


class AppendHeadError(ParseFailure):
    """An APPEND whose arguments are invalid. ``status`` NO is for a mailbox name that
    can never exist (see :class:`InvalidMailboxName`)."""

    def __init__(self, tag: str, text: str, status: str = "BAD") -> None:
        super().__init__(text)
        self.tag = tag
        self.status = status

    def error(self) -> ParseError:
        if self.status == "NO":
            return ParseError(self.tag, str(self), code="CANNOT", status="NO")
        return ParseError(self.tag, str(self))


def scan(
    tag: str, segments: Sequence[bytes], literals: Sequence[bytes], where: Where,
    at_marker: bool,
) -> Scan:
    """Reads the text since the last streamed literal; raises :class:`AppendHeadError`.

    ``at_marker``: a literal follows the text (else the line ended there).
    """
    r = Reader(segments, literals)
    out = Scan(where=where)
    try:
        if where is Where.HEAD:
            r.tag()
            replaces = _command(r)
            if r.at_end():
                return _argument_or_missing(out, at_marker, "mailbox name")
            mailbox = r.mailbox()
            r.sp("message literal")
            if _message(r, out, mailbox, at_marker, replaces):
                return out
        while True:
            if out.where in (Where.UTF8_MESSAGE, Where.UTF8_PART):
                r.char(b")", "UTF8 data")
                out.where = Where.MESSAGE if out.where is Where.UTF8_MESSAGE else Where.PARTS
            elif out.where is Where.MESSAGE:
                if r.at_end():
                    if at_marker:
                        raise ParseFailure("Invalid APPEND arguments")
                    out.next = Next.END
                    return out
                r.sp("message literal")
                if _message(r, out, None, at_marker):
                    return out
            elif r.peek() == 0x29:
                r.pos += 1
                out.where = Where.MESSAGE
            else:
                if r.at_end():
                    raise ParseFailure("Unterminated CATENATE list")
                r.sp("CATENATE part")
                if _part(r, out, at_marker):
                    return out
    except InvalidMailboxName as exc:
        raise AppendHeadError(tag, str(exc), "NO") from exc
    except ParseFailure as exc:
        raise AppendHeadError(tag, str(exc)) from exc


def _command(r: Reader) -> Replaces | None:
    """``SP "APPEND" SP`` or ``SP ["UID" SP] "REPLACE" SP number SP``, read up to the
    mailbox (the connection only sends such lines here)."""
    r.sp("command")
    word = r.atom("command").upper()
    uid = word == b"UID"
    if uid:
        r.sp("command")
        word = r.atom("command").upper()
    r.sp("mailbox name" if word == b"APPEND" else "message number")
    if word == b"APPEND":
        return None
    if r.peek() == 0x2A and not uid:
        r.pos += 1
        number = None
    else:
        number = r.number("UID" if uid else "message number", nonzero=True)
    r.sp("mailbox name")
    return Replaces(uid, number)


def _argument_or_missing(out: Scan, at_marker: bool, what: str) -> Scan:
    if not at_marker:
        raise ParseFailure(f"Missing {what}")
    out.items.clear()
    out.next = Next.ARGUMENT
    return out


def _message(
    r: Reader, out: Scan, mailbox: str | None, at_marker: bool,
    replaces: Replaces | None = None,
) -> bool:
    """``[flag-list SP] [date-time SP] append-data`` (the SP before was read); True when
    the scan ends here (a message literal follows, or a TEXT or argument literal)."""
    flags: tuple[str, ...] = ()
    date_time = None
    if r.peek() == 0x28:
        flags = r.flag_list()
        r.sp("message literal")
    if r.peek() == 0x22:
        date_time = r.date_time()
        r.sp("message literal")
    if r.at_end():
        if not at_marker:
            raise ParseFailure("Missing message literal")
        out.items.append(MessageStart(mailbox, flags, date_time, False, replaces))
        out.next = Next.MESSAGE
        return True
    word = r.atom("message literal").upper()
    if word == b"UTF8":
        out.items.append(MessageStart(mailbox, flags, date_time, False, replaces))
        return _utf8_literal(r, out, at_marker, Next.MESSAGE)
    if word != b"CATENATE":
        raise ParseFailure("Invalid APPEND arguments")
    r.sp("CATENATE list")
    r.char(b"(", "CATENATE list")
    out.items.append(MessageStart(mailbox, flags, date_time, True, replaces))
    out.where = Where.PARTS
    return _part(r, out, at_marker)


def _part(r: Reader, out: Scan, at_marker: bool) -> bool:
    """``cat-part = "TEXT" SP literal / "URL" SP astring``; True when the scan ends."""
    name = r.atom("CATENATE part").upper()
    if name not in (b"TEXT", b"URL", b"UTF8"):
        raise ParseFailure(f"Unknown CATENATE part {name.decode('ascii')}")
    if name == b"UTF8":
        return _utf8_literal(r, out, at_marker, Next.TEXT)
    r.sp(f"{name.decode('ascii')} argument")
    if name == b"TEXT":
        if not (r.at_end() and at_marker):
            raise ParseFailure("TEXT needs a literal")
        out.next = Next.TEXT
        return True
    if r.at_end():
        _argument_or_missing(out, at_marker, "URL")
        return True
    url = r.astring("URL")
    try:
        out.items.append(UrlPart(url.decode("ascii")))
    except UnicodeDecodeError as exc:
        raise ParseFailure("An URL is ASCII") from exc
    return False


def _utf8_literal(r: Reader, out: Scan, at_marker: bool, what: Next) -> bool:
    """``SP "(" literal8`` of ``utf8-literal`` (RFC 6855 section 4), "UTF8" read: the
    literal follows, and the ``)`` after it is read by the next scan."""
    r.sp("UTF8 data")
    r.char(b"(", "UTF8 data")
    if not (r.at_end() and at_marker):
        raise ParseFailure("UTF8 needs a literal8")
    out.next = what
    out.utf8 = True
    return True
