"""Reading mbox files as a stream of messages, in bounded memory.

How this works: a line starting with ``From `` separates messages (every mbox variant's
writers escape such body lines, so this is the one reliable separator). The blank line
that writers put before each separator is not part of the message and is dropped. Body
lines matching ``>+From `` lose one ``>``: that undoes mboxrd quoting exactly, and the
common single ``>From `` of mboxo. Messages are never held whole: :func:`read_mbox` yields
a :class:`MboxMessage` whose header (bounded by ``MAX_HEADER``) has been read and whose
body is a lazy iterator of lines, which must be consumed (or is skipped) before the next
message.

The mbox-store metadata headers are turned into flags and removed, as Dovecot and UW
IMAP do: ``Status`` (``R`` read -> \\Seen; ``O`` old), ``X-Status`` (``A`` \\Answered,
``F`` \\Flagged, ``T`` \\Draft, ``D`` \\Deleted), ``X-Keywords`` (keywords), and the
``X-UID``/``X-IMAP``/``X-IMAPbase`` bookkeeping of UW IMAP, whose "folder internal data"
pseudo-message is skipped. The internal date comes from the ``From`` line's asctime date
(taken as UTC unless it carries a zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import BinaryIO

MAX_HEADER = 1024 * 1024
"""A header longer than this is passed on as body: a broken file cannot exhaust memory."""

STATUS_FLAGS = {"R": "\\Seen"}
X_STATUS_FLAGS = {"A": "\\Answered", "F": "\\Flagged", "T": "\\Draft", "D": "\\Deleted"}
DROPPED_HEADERS = frozenset(
    {b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase"}
)
_FROM_ESCAPED = re.compile(rb"^>+From ")
_ASCTIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s+"
    r"(?:(?P<zone1>[+-]\d{4}|[A-Z]{3,4})\s+)?(?P<year>\d{4})(?:\s+(?P<zone2>[+-]\d{4}))?"
)
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
)}


@dataclass
class MboxMessage:
    """One message: the header as it will be stored, then the body lines (LF or CRLF
    endings as in the file; the spool normalises them)."""

    header: bytes
    body: Iterator[bytes]
    flags: frozenset[str]
    internaldate: datetime | None
    offset: int = 0
    """Where the message's ``From`` line starts: for progress and error messages."""
    dropped: list[bytes] = field(default_factory=list)


def from_line_date(line: bytes) -> datetime | None:
    """The date of ``From sender Sat Jan  3 01:05:34 1996`` (optionally with a zone)."""
    m = _ASCTIME.search(line.decode("latin-1"))
    if m is None or m.group("mon") not in _MONTHS:
        return None
    zone = m.group("zone2") or m.group("zone1") or ""
    tz: timezone = UTC
    if zone[:1] in "+-" and zone:
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        tz = timezone(timedelta(minutes=minutes if zone[0] == "+" else -minutes))
    try:
        return datetime(
            int(m.group("year")), _MONTHS[m.group("mon")], int(m.group("day")),
            int(m.group("h")), int(m.group("m")), int(m.group("s") or 0), tzinfo=tz,
        )
    except ValueError:
        return None


def flags_from_headers(fields: dict[bytes, bytes]) -> frozenset[str]:
    flags: set[str] = set()
    status = fields.get(b"status", b"").decode("latin-1")
    flags.update(STATUS_FLAGS[c] for c in status if c in STATUS_FLAGS)
    x_status = fields.get(b"x-status", b"").decode("latin-1")
    flags.update(X_STATUS_FLAGS[c] for c in x_status if c in X_STATUS_FLAGS)
    keywords = fields.get(b"x-keywords", b"").decode("utf-8", "replace")
    flags.update(k for k in keywords.replace(",", " ").split() if k and "\\" not in k)
    return frozenset(flags)


class _Lines:
    """The file's lines with one line of look-ahead, tracking the offset."""

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.offset = 0
        self.peeked: bytes | None = None

    def peek(self) -> bytes:
        if self.peeked is None:
            self.peeked = self.fp.readline()
        return self.peeked

    def take(self) -> bytes:
        line = self.peek()
        self.peeked = None
        self.offset += len(line)
        return line


def _is_separator(line: bytes) -> bool:
    return line.startswith(b"From ")


def _is_blank(line: bytes) -> bool:
    return line in (b"\n", b"\r\n")


def _message_lines(lines: _Lines) -> Iterator[bytes]:
    """The lines up to the next separator, unescaped; one blank line before a
    separator (or the end of the file) is the separator's, not the message's."""
    held: bytes | None = None
    while True:
        line = lines.peek()
        if not line or _is_separator(line):
            return  # the held blank line, if any, is dropped
        lines.take()
        if held is not None:
            yield held
            held = None
        if _is_blank(line):
            held = line
            continue
        if _FROM_ESCAPED.match(line):
            line = line[1:]
        yield line


def _split_header(body: Iterator[bytes]) -> tuple[list[bytes], bool]:
    """Header lines (with the blank line ending them) and whether the header ended."""
    header: list[bytes] = []
    size = 0
    for line in body:
        header.append(line)
        size += len(line)
        if _is_blank(line):
            return header, True
        if size > MAX_HEADER:
            return header, False
    return header, True


def _filter_header(header: list[bytes]) -> tuple[bytes, dict[bytes, bytes], list[bytes]]:
    """Removes the metadata fields (with their continuation lines), returning the kept
    header, the metadata values by lower-case name, and the dropped lines."""
    kept: list[bytes] = []
    meta: dict[bytes, bytes] = {}
    dropped: list[bytes] = []
    current: bytes | None = None
    for line in header:
        if line[:1] in (b" ", b"\t") and current is not None:
            if current in DROPPED_HEADERS:
                meta[current] += b" " + line.strip()
                dropped.append(line)
                continue
            kept.append(line)
            continue
        name, colon, value = line.partition(b":")
        current = name.strip().lower() if colon else None
        if current in DROPPED_HEADERS:
            meta[current] = value.strip()
            dropped.append(line)
        else:
            kept.append(line)
    return b"".join(kept), meta, dropped


def read_mbox(fp: BinaryIO) -> Iterator[MboxMessage]:
    """The messages of an mbox file, one at a time (see the module docstring)."""
    lines = _Lines(fp)
    while lines.peek() and not _is_separator(lines.peek()):
        lines.take()  # text before the first separator is not a message
    while lines.peek():
        offset = lines.offset
        date = from_line_date(lines.take())
        body = _message_lines(lines)
        header_lines, ended = _split_header(body)
        header, meta, dropped = _filter_header(header_lines if ended else [])
        if not ended:
            header = b"".join(header_lines)
        if b"x-imap" in meta or b"x-imapbase" in meta:
            for _ in body:  # UW IMAP's pseudo-message holding folder state
                pass
            continue
        message = MboxMessage(header, body, flags_from_headers(meta), date, offset, dropped)
        yield message
        for _ in body:  # whatever the consumer did not read
            pass
