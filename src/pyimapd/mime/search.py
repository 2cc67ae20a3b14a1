"""Values SEARCH needs (RFC 3501 section 6.4.4), computed once when a message is stored.

``sent_date`` feeds SENTBEFORE/SENTON/SENTSINCE; ``search_fields`` gives the decoded
header values (HEADER, FROM, SUBJECT, ...) and body text (BODY, TEXT). Bodies are
decoded incrementally, chunk by chunk, so memory stays bounded by ``max_text``.
"""

from __future__ import annotations

import binascii
import codecs
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from pyimapd.mime.address import MISSING_MAILBOX, parse_address_list
from pyimapd.mime.headers import field_value, split_fields, to_text
from pyimapd.mime.model import ADDRESS_FIELDS, Part

_CHUNK = 64 * 1024
MAX_SEARCH_HEADER = 1 << 20
"""Header bytes read for search values (per header, and for all part headers)."""

MAX_TEXT = 32 * 1024 * 1024
"""Characters of decoded body text kept for BODY/TEXT. Dovecot searches whole bodies,
so this is well above the 10 MB messages of the corpus; the text beyond it is not
searchable (the price of keeping memory bounded at APPEND)."""

PART_HEADERS = " parts"
"""Key of :func:`search_fields`' header map under which the header lines of MIME parts
and encapsulated messages are kept, as ``name: value`` lines. RFC 3501 6.4.4 TEXT
matches "the header or body of the message", and these lines are in the body, so
TEXT looks at them (as Dovecot does); BODY does not (only decoded text). No field is
named this (RFC 5322 field names have no space), and HEADER never matches it."""


def sent_date(root: Part) -> datetime | None:
    """The Date header (RFC 5322 3.3) as an aware datetime; None when absent or bad.

    A ``-0000`` zone (unknown local time) is taken as UTC.
    """
    value = root.envelope.date if root.envelope else None
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


MAX_LIBRARY_WORDS = 64
"""Encoded words up to which :func:`decode_words` lets the stdlib decode a value. The
stdlib joins adjacent words by repeated ``bytes +=`` and deletes the blanks between them
one ``del`` at a time: quadratic, 17 s for 1.4 MB of ``=?utf-8?q?a?=`` at APPEND. Real
headers hold a few words; past this, a linear decoder of the same rules takes over."""

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")


def decode_words(raw: bytes) -> str:
    """RFC 2047 decoding of a raw header value; an encoded word that cannot be decoded
    is kept as written, and the words around it are still decoded (as Dovecot does)."""
    text = raw.decode("utf-8", "replace")
    if "=?" not in text:
        return text
    if text.count("=?") > MAX_LIBRARY_WORDS:
        return _decode_many_words(text)
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # a bad charset or encoding in one word: decode the others
        return _decode_many_words(text)


def _decode_many_words(text: str) -> str:
    """RFC 2047 section 6.2 in one pass: blanks between two encoded words are dropped,
    and the bytes of adjacent words in one charset are joined before decoding (a
    character split over two words survives). A word whose charset Python does not know
    or whose encoding is broken stays as it was written."""
    out: list[str] = []
    pending = bytearray()
    charset = ""
    pos = 0
    after_word = False

    def flush() -> None:
        if pending:
            out.append(pending.decode(charset, "replace"))
            pending.clear()

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        pos = m.end()
        word_charset = m[1].split("*", 1)[0].lower()  # RFC 2231 section 5: a language
        try:
            b"a".decode(word_charset, "replace")  # a text codec (not rot13, base64...)
            data = m[3].encode("ascii")
            if m[2] in "bB":
                data = binascii.a2b_base64(data + b"=" * (-len(data) % 4))
            else:
                data = binascii.a2b_qp(data, header=True)
        except (LookupError, ValueError):  # binascii.Error and Unicode errors are ValueErrors
            flush()
            out.append(between + m[0])
            after_word = False
            continue
        if between and not (after_word and between.isspace()):
            flush()
            out.append(between)
        if word_charset != charset:
            flush()
            charset = word_charset
        pending += data
        after_word = True
    flush()
    out.append(text[pos:])
    return "".join(out)


def _read(source: BinaryIO, start: int, end: int) -> bytes:
    source.seek(start)
    return source.read(max(0, end - start))


def _part_header_lines(source: BinaryIO, root: Part) -> str:
    """``name: value`` lines (decoded, lower-case) of every header below the top one."""
    lines: list[str] = []
    budget = MAX_SEARCH_HEADER
    for part in root.walk()[1:]:
        if budget <= 0:
            break
        end = min(part.body_start, part.header_start + budget)
        budget -= end - part.header_start
        for name, raw in split_fields(_read(source, part.header_start, end)):
            if name is not None:
                value = decode_words(field_value(raw)).lower()
                lines.append(f"{name.decode('utf-8', 'replace')}: {value}".replace("\n", " "))
    return "\n".join(lines)


def _header_values(source: BinaryIO, root: Part) -> dict[str, str]:
    end = min(root.body_start, root.header_start + MAX_SEARCH_HEADER)
    values: dict[str, list[str]] = {}
    for name, raw in split_fields(_read(source, root.header_start, end)):
        if name is None:
            continue
        key = name.decode("utf-8", "replace")
        value = field_value(raw)
        lines = values.setdefault(key, [])
        lines.append(decode_words(value).lower())
        if key.lower() in ADDRESS_FIELDS:
            lines.extend(_address_lines(to_text(value)))
    return {k: "\n".join(v) for k, v in values.items()}


def _address_lines(value: str) -> list[str]:
    """Each address of an address field as ``mailbox@host``, parsed: comments and
    folding white space taken out (``<user (c)@ (c) example.org>`` is
    ``user@example.org``), so FROM/TO/CC/BCC match the address a client shows and not
    only the header text (issue 16). One line per address: a key matches within one
    line, never across two addresses."""
    found = []
    for _name, _adl, mailbox, host in parse_address_list(value) or ():
        if mailbox is not None and host is not None and mailbox != MISSING_MAILBOX:
            found.append(f"{mailbox}@{host}".lower())
    return found


class _Base64:
    """Incremental base64 decoding that tolerates line breaks and junk characters."""

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        data = self.carry + bytes(c for c in data if c in _B64)
        cut = len(data) - len(data) % 4
        self.carry = data[cut:]
        try:
            return binascii.a2b_base64(data[:cut])
        except binascii.Error:
            return b""


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class _QuotedPrintable:
    """Incremental quoted-printable decoding (RFC 2045 6.7), whole lines at a time."""

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        data = self.carry + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self.carry = data[cut:]
        return binascii.a2b_qp(data[:cut])


def _decoder(part: Part) -> codecs.IncrementalDecoder:
    charset = part.param("charset") or "utf-8"
    if charset.lower() in ("us-ascii", "ascii"):
        charset = "utf-8"  # a superset; mislabelled 8-bit text is usually UTF-8
    try:
        return codecs.getincrementaldecoder(charset)(errors="replace")
    except (LookupError, TypeError, ValueError):  # unknown or undecodable charset name
        return codecs.getincrementaldecoder("utf-8")(errors="replace")


def part_text(source: BinaryIO, part: Part, budget: int) -> str:
    """Decoded text of one text/* part, at most ``budget`` characters."""
    encoding = part.encoding.lower()
    b64 = _Base64() if encoding == "base64" else None
    qp = _QuotedPrintable() if encoding == "quoted-printable" else None
    text = _decoder(part)
    out: list[str] = []
    count, pos = 0, part.body_start
    source.seek(pos)
    while pos < part.end and count < budget:
        data = source.read(min(_CHUNK, part.end - pos))
        if not data:
            break
        pos += len(data)
        last = pos >= part.end
        raw = b64.feed(data) if b64 else qp.feed(data, last) if qp else data
        try:
            chunk = text.decode(raw, final=last)
        except UnicodeError:  # UTF-16 or UTF-32 without a byte order mark (found by
            # tests/fuzz: it failed the APPEND); RFC 2781 section 4.3 says big-endian
            name = codecs.lookup(part.param("charset") or "utf-8").name
            text = codecs.getincrementaldecoder(f"{name}-be")(errors="replace")
            chunk = text.decode(raw, final=last)
        out.append(chunk)
        count += len(chunk)
    return "".join(out)[:budget]


def search_fields(
    source: BinaryIO, root: Part, max_text: int = MAX_TEXT
) -> tuple[dict[str, str], str]:
    """(decoded lower-case header values by field, decoded body text) for SEARCH.

    Header values: unfolded, RFC 2047 decoded, lower-cased; several occurrences of a
    field joined by "\\n"; the lines of the headers of parts and encapsulated
    messages under :data:`PART_HEADERS`. Text: the text/* parts and the message/*
    parts that are not parsed further (delivery-status, global...), also inside
    encapsulated messages, transfer-decoded and charset-converted (unknown charset:
    UTF-8 with replacement), joined by "\\n" and truncated at ``max_text``
    characters; Dovecot searches the same parts. The text keeps its case.
    """
    headers = _header_values(source, root)
    part_lines = _part_header_lines(source, root)
    if part_lines:
        headers[PART_HEADERS] = part_lines
    texts: list[str] = []
    budget = max_text
    for part in root.walk():
        if budget <= 0:
            break
        if part.maintype not in ("text", "message") or part.children:
            continue
        chunk = part_text(source, part, budget)
        texts.append(chunk)
        budget -= len(chunk) + 1
    return headers, "\n".join(texts)[:max_text]
