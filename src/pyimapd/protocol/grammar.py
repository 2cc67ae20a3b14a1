"""Lexical rules of RFC 3501 section 9, over a command already split at its literals.

How this works: :class:`~pyimapd.protocol.connection.ServerConnection` frames one command
as text segments with the literals between them (``segments[i]`` is followed by
``literals[i]``; the ``{n}`` markers are already removed). :class:`Reader` is a cursor over
that shape: each rule matches a compiled regex at the cursor inside the current segment,
and a string rule standing at the end of a segment that a literal follows takes that
literal and moves on to the next segment. The command is thus read once, left to right,
however many literals it has. A rule that fails raises :class:`ParseFailure`, whose text
becomes the ``BAD`` response.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

from pyimapd.protocol.arguments import STAR, SequenceSet
from pyimapd.protocol.utf7 import decode_mailbox_name

MAX_NUMBER = 2**32 - 1
MAX_MODSEQ = 2**63 - 1
"""RFC 7162 section 3.1: mod-sequences are unsigned 63-bit values."""
"""``number = 1*DIGIT ; Unsigned 32-bit integer (0 <= n < 4,294,967,296)``."""

HIERARCHY_DELIMITER = "/"
"""The delimiter the INBOX normalisation of mailbox names splits on."""

SYSTEM_FLAGS = {
    f.lower(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
}
"""``flag = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" / ...``: case-
insensitive, so they are given their RFC spelling; keywords keep the client's spelling."""

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT",
         b"NOV", b"DEC")
    )
}

# ATOM-CHAR = <any CHAR except atom-specials>
# atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
ATOM_PATTERN = rb'[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+'
# tag = 1*<any ASTRING-CHAR except "+">
TAG_PATTERN = rb'[^(){ %*"\\+\x00-\x1f\x7f-\xff]+'
_ATOM = re.compile(ATOM_PATTERN)
# ASTRING-CHAR = ATOM-CHAR / resp-specials; 8-bit octets are tolerated for UTF-8 names.
_ASTRING_ATOM = re.compile(rb'[^(){ %*"\\\x00-\x1f\x7f]+')
# list-char = ATOM-CHAR / list-wildcards / resp-specials (8-bit tolerated as above)
_LIST_ATOM = re.compile(rb'[^(){ "\\\x00-\x1f\x7f]+')
_TAG = re.compile(TAG_PATTERN)
# quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR = <TEXT-CHAR except quoted-specials> /
#          "\" quoted-specials   (8-bit octets tolerated: clients send UTF-8)
_QUOTED = re.compile(rb'"([^"\\\r\n\x00]*(?:\\["\\][^"\\\r\n\x00]*)*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_NUMBER = re.compile(rb"[0-9]+")
_SEQ_TOKEN = re.compile(rb"[^ ()]*")
# sequence-set = (seq-number / seq-range) *("," sequence-set); seq-number = nz-number / "*"
_SEQ_SET = re.compile(rb"(?:[0-9]+|\*)(?::(?:[0-9]+|\*))?(?:,(?:[0-9]+|\*)(?::(?:[0-9]+|\*))?)*")
# flag = "\" atom / atom  (system flags, flag-extension, flag-keyword)
_FLAG = re.compile(rb'\\?[^(){ %*"\\\]\x00-\x1f\x7f-\xff]+')
# date-text = date-day "-" date-month "-" date-year
_DATE_TEXT = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
# date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
_DATE_TIME = re.compile(
    rb'"( ?[0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) '
    rb'([+-])([0-9]{2})([0-9]{2})"'
)
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


class ParseFailure(Exception):
    """A syntax error; ``str(exc)`` is the text of the ``BAD`` response."""


class InvalidMailboxName(ParseFailure):
    """A mailbox name that is a valid astring but not valid modified UTF-7 (RFC 3501
    section 5.1.3). The syntax is right, so the answer is ``NO`` (no such mailbox can
    exist), not ``BAD``: clients drop connections that answer BAD to what they sent."""


class Reader:
    """Cursor over one framed command: text segments with literals between them."""

    __slots__ = ("_segs", "_lits", "_i", "_seg", "pos")

    def __init__(self, segments: Sequence[bytes], literals: Sequence[bytes]) -> None:
        if len(segments) != len(literals) + 1:
            raise ValueError("a command has one more text segment than literals")
        self._segs = segments
        self._lits = literals
        self._i = 0
        self._seg = segments[0]
        self.pos = 0

    # --- position -----------------------------------------------------------------------

    def at_end(self) -> bool:
        """True at the CRLF that ends the command."""
        return self.pos >= len(self._seg) and self._i == len(self._lits)

    def at_literal(self) -> bool:
        """True where a ``{n}`` marker stood: the next token is that literal."""
        return self.pos >= len(self._seg) and self._i < len(self._lits)

    def peek(self) -> int:
        """The next octet, or -1 at the end of a segment."""
        return self._seg[self.pos] if self.pos < len(self._seg) else -1

    def match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        """Match ``pattern`` at the cursor and advance past it."""
        m = pattern.match(self._seg, self.pos)
        if m is not None:
            self.pos = m.end()
        return m

    def _missing(self, what: str) -> ParseFailure:
        if self.at_end():
            return ParseFailure(f"Missing {what}")
        return ParseFailure(f"Invalid {what}")

    def sp(self, what: str) -> None:
        """``SP``: exactly one space (RFC 3501 section 9, note 2) before ``what``."""
        if self.peek() != 0x20:
            raise self._missing(what)
        self.pos += 1

    def char(self, octet: bytes, what: str) -> None:
        """One fixed octet such as ``(`` or ``]``."""
        if self.peek() != octet[0]:
            raise ParseFailure(f"Expected {octet.decode()} in {what}")
        self.pos += 1

    def end(self, command: str) -> None:
        """The command must end here (``... CRLF``)."""
        if not self.at_end():
            raise ParseFailure(f"Unexpected extra arguments to {command}")

    # --- tokens -------------------------------------------------------------------------

    def tag(self) -> str:
        """``tag = 1*<any ASTRING-CHAR except "+">``."""
        m = self.match(_TAG)
        if m is None:
            raise ParseFailure("Missing or invalid tag")
        return m.group().decode("ascii")

    def atom(self, what: str) -> bytes:
        """``atom = 1*ATOM-CHAR``."""
        m = self.match(_ATOM)
        if m is None:
            raise self._missing(what)
        return m.group()

    def literal(self) -> bytes:
        """``literal = "{" number "}" CRLF *CHAR8``: the connection already collected it."""
        data = self._lits[self._i]
        self._i += 1
        self._seg = self._segs[self._i]
        self.pos = 0
        return data

    def quoted(self, what: str) -> bytes:
        """``quoted = DQUOTE *QUOTED-CHAR DQUOTE``, unescaped."""
        m = self.match(_QUOTED)
        if m is None:
            raise ParseFailure(f"Invalid quoted string in {what}")
        body = m.group(1)
        return _UNESCAPE.sub(rb"\1", body) if b"\\" in body else body

    def string(self, what: str) -> bytes:
        """``string = quoted / literal``."""
        if self.at_literal():
            return self.literal()
        if self.peek() == 0x22:
            return self.quoted(what)
        raise self._missing(what)

    def astring(self, what: str) -> bytes:
        """``astring = 1*ASTRING-CHAR / string``."""
        if self.at_literal():
            return self.literal()
        if self.peek() == 0x22:
            return self.quoted(what)
        m = self.match(_ASTRING_ATOM)
        if m is None:
            raise self._missing(what)
        return m.group()

    def list_mailbox(self, what: str) -> bytes:
        """``list-mailbox = 1*list-char / string``."""
        if self.at_literal():
            return self.literal()
        if self.peek() == 0x22:
            return self.quoted(what)
        m = self.match(_LIST_ATOM)
        if m is None:
            raise self._missing(what)
        return m.group()

    def number(self, what: str, nonzero: bool = False) -> int:
        """``number = 1*DIGIT`` (32-bit) or ``nz-number = digit-nz *DIGIT``."""
        m = self.match(_NUMBER)
        if m is None:
            raise self._missing(what)
        return check_number(m.group(), what, nonzero)

    def mod_sequence(self, what: str, zero: bool = False) -> int:
        """``mod-sequence-value = 1*DIGIT`` of RFC 7162 section 7: a positive 63-bit
        number; ``mod-sequence-valzer`` (``zero=True``) also allows 0."""
        m = self.match(_NUMBER)
        if m is None:
            raise self._missing(what)
        digits = m.group()
        if len(digits) > 19 or int(digits) > MAX_MODSEQ:
            raise ParseFailure(f"Number too large in {what}")
        value = int(digits)
        if value == 0 and not zero:
            raise ParseFailure(f"Zero is not allowed in {what}")
        return value

    def sequence_set(self) -> SequenceSet:
        """``sequence-set``, or RFC 5182's ``"$"`` (the saved search result)."""
        m = self.match(_SEQ_TOKEN)
        token = m.group() if m else b""
        if not token:
            raise self._missing("sequence set")
        return parse_sequence_set(token)

    def flag(self, what: str = "flag") -> str:
        """``flag``; ``\\Recent`` is refused: "flag ... ; Does not include "\\Recent""."""
        m = self.match(_FLAG)
        if m is None:
            raise self._missing(what)
        text = m.group().decode("ascii")
        if text.startswith("\\"):
            lower = text.lower()
            if lower == "\\recent":
                raise ParseFailure("\\Recent cannot be set by the client")
            if lower not in SYSTEM_FLAGS:
                # flag-extension: "Server implementations MUST NOT generate
                # flag-extension flags except as defined by future standard[s]".
                raise ParseFailure(f"Unknown system flag {text}")
            return SYSTEM_FLAGS[lower]
        return text

    def flag_list(self) -> tuple[str, ...]:
        """``flag-list = "(" [flag *(SP flag)] ")"``."""
        self.char(b"(", "flag list")
        flags: list[str] = []
        if self.peek() != 0x29:
            flags.append(self.flag())
            while self.peek() == 0x20:
                self.pos += 1
                flags.append(self.flag())
        if self.peek() != 0x29:
            raise ParseFailure("Unterminated flag list" if self.at_end() else "Invalid flag")
        self.pos += 1
        return tuple(flags)

    def mailbox(self, what: str = "mailbox name") -> str:
        """``mailbox = "INBOX" / astring``, decoded (see :func:`decode_mailbox`)."""
        return decode_mailbox(self.astring(what), what)

    def date(self) -> date:
        """``date = date-text / DQUOTE date-text DQUOTE``."""
        quoted = self.peek() == 0x22
        if quoted:
            self.pos += 1
        m = self.match(_DATE_TEXT)
        if m is None:
            raise self._missing("date") if not quoted else ParseFailure("Invalid date")
        if quoted and self.peek() != 0x22:
            raise ParseFailure("Invalid date")
        if quoted:
            self.pos += 1
        return _make_date(m.group(1), m.group(2), m.group(3))

    def date_time(self) -> datetime:
        """``date-time`` of APPEND, as an aware datetime."""
        m = self.match(_DATE_TIME)
        if m is None:
            raise ParseFailure("Invalid date-time")
        day = _make_date(m.group(1).strip(), m.group(2), m.group(3))
        hh, mm, ss, zh, zm = (int(m.group(n)) for n in (4, 5, 6, 8, 9))
        if hh > 23 or mm > 59 or ss > 60 or zh > 23 or zm > 59:
            raise ParseFailure("Invalid date-time")
        offset = timedelta(hours=zh, minutes=zm)
        tz = timezone(-offset if m.group(7) == b"-" else offset)
        return datetime(day.year, day.month, day.day, hh, mm, min(ss, 59), tzinfo=tz)

    def base64(self, what: str) -> bytes:
        """``base64 = *(4base64-char) [base64-terminal]`` (one token, at least 4 chars)."""
        m = self.match(_BASE64)
        if m is None:
            raise self._missing(what)
        return m.group()


def check_number(digits: bytes, what: str, nonzero: bool = False) -> int:
    """Bounds of ``number`` / ``nz-number``: 32-bit, and non-zero where required."""
    if len(digits) > 10 or int(digits) > MAX_NUMBER:
        raise ParseFailure(f"Number too large in {what}")
    value = int(digits)
    if nonzero and value == 0:
        raise ParseFailure(f"Zero is not allowed in {what}")
    return value


def _seq_number(text: bytes) -> int:
    """``seq-number = nz-number / "*"``."""
    if text == b"*":
        return STAR
    return check_number(text, "sequence set", nonzero=True)


def parse_sequence_set(token: bytes) -> SequenceSet:
    """``sequence-set = (seq-number / seq-range) *("," sequence-set)``; ``$`` (RFC 5182)."""
    if token == b"$":
        return SequenceSet((), saved=True)
    if _SEQ_SET.fullmatch(token) is None:
        raise ParseFailure("Invalid sequence set")
    ranges: list[tuple[int, int]] = []
    for part in token.split(b","):
        lo, _, hi = part.partition(b":")
        first = _seq_number(lo)
        ranges.append((first, _seq_number(hi) if hi else first))
    return SequenceSet(tuple(ranges))


def _make_date(day: bytes, month: bytes, year: bytes) -> date:
    mon = MONTHS.get(month.upper())
    if mon is None:
        raise ParseFailure("Invalid month in date")
    try:
        return date(int(year), mon, int(day))
    except ValueError as exc:
        raise ParseFailure("Invalid date") from exc


def normalise_inbox(name: str) -> str:
    """RFC 3501 section 5.1: "The case-insensitive mailbox name INBOX is a special name
    reserved to mean 'the primary mailbox'". Its case variants become ``INBOX``, also as
    the first component of a hierarchical name (``inbox/foo`` is ``INBOX/foo``)."""
    head = name[:5]
    if head.upper() == "INBOX" and head != "INBOX":
        rest = name[5:]
        if not rest or rest.startswith(HIERARCHY_DELIMITER):
            return "INBOX" + rest
    return name


def decode_mailbox(raw: bytes, what: str = "mailbox name") -> str:
    """A mailbox astring to Unicode: UTF-8 octets, then modified UTF-7 (RFC 3501 5.1.3),
    then the INBOX normalisation."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseFailure(f"Invalid {what}: not UTF-8") from exc
    try:
        return normalise_inbox(decode_mailbox_name(text))
    except ValueError as exc:
        raise InvalidMailboxName(f"Invalid {what}: {exc}") from exc
