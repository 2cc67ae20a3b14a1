"""Streaming MIME parser: message bytes -> :class:`~pyimapd.mime.model.Part` tree.

How this works. ``_Reader`` hands out the message one line at a time (very long
lines in bounded chunks) and keeps, for the line just read, its start offset, the
number of LFs before it and the last few bytes before it; that is all that is needed
to compute a part's end and line count when a boundary shows up, without keeping
any body. ``_Parser.entity`` reads a header, then the body according to the type:

* multipart (RFC 2046 section 5.1): push ``--boundary``, skip the preamble, parse a
  child entity after each delimiter, skip the epilogue after the close delimiter;
* message/rfc822 (RFC 2046 section 5.2.1): the body is a whole message, parsed as a
  child entity starting at the body;
* anything else: skip lines until a boundary of any enclosing multipart or the end.

Every boundary on the stack is checked, innermost first, so a missing close
delimiter ends the inner parts at the outer boundary (or at the end of the message),
as Dovecot does. The CRLF before a delimiter belongs to the delimiter (RFC 2046
5.1.1), so a part ends before it. Nesting deeper than ``MAX_DEPTH`` and parts beyond
``MAX_PARTS`` are not parsed further (the enclosing part stays opaque), which bounds
the memory and recursion used by hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from pyimapd.mime.headers import (
    field_value,
    parse_content_type,
    parse_disposition,
    parse_fields,
    parse_language,
    simple_value,
    split_fields,
    to_text,
)
from pyimapd.mime.model import ADDRESS_FIELDS, ENVELOPE_FIELDS, Envelope, Part

MAX_DEPTH = 50
"""Multipart/message nesting beyond this is left opaque."""
MAX_PARTS = 10_000
"""Parts per message beyond this are not created (their bytes stay in the parent)."""
MAX_LINE = 64 * 1024
"""Lines longer than this are read in chunks of this size."""
MAX_HEADER = 512 * 1024
"""Header bytes kept for field parsing; the rest is skipped (offsets stay exact)."""
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class _Hit:
    """A boundary line: which stack entry it closes and the reader state before it."""

    level: int
    close: bool
    start: int
    lfs: int
    tail: bytes
    keep_crlf: bool = False


class _Reader:
    """Line reader over ``source[0:size]`` tracking offsets and LF counts."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.src = source
        self.remaining = size
        self.pos = 0  # offset after the last line returned
        self.lfs = 0  # LFs in [0, pos)
        self.tail = b""  # last bytes before pos (at most 4)
        self.line_start = 0
        self.line_lfs = 0
        self.line_tail = b""
        self.at_bol = True  # the last line returned started at a line start
        self._bol_next = True

    def readline(self) -> bytes:
        """Next line (with its LF) or chunk of a long line; ``b""`` at the end."""
        if self.remaining <= 0:
            return b""
        line = self.src.readline(min(MAX_LINE, self.remaining))
        self.remaining -= len(line)
        if not line:
            self.remaining = 0
            return b""
        self.line_start, self.line_lfs, self.line_tail = self.pos, self.lfs, self.tail
        self.at_bol = self._bol_next
        self._bol_next = line.endswith(b"\n")
        self.pos += len(line)
        self.lfs += self._bol_next
        self.tail = line[-4:] if len(line) >= 4 else (self.tail + line)[-4:]
        return line

    def skip_rest(self) -> None:
        """Consume everything left in big chunks (no boundary can follow)."""
        while self.remaining > 0:
            data = self.src.read(min(_CHUNK, self.remaining))
            if not data:
                break
            self.remaining -= len(data)
            self.pos += len(data)
            self.lfs += data.count(b"\n")
            self.tail = data[-4:] if len(data) >= 4 else (self.tail + data)[-4:]
        self.remaining = 0
        self._bol_next = self.tail.endswith(b"\n")

    def hit(self, level: int, close: bool, keep_crlf: bool = False) -> _Hit:
        return _Hit(level, close, self.line_start, self.line_lfs, self.line_tail, keep_crlf)


def _match(line: bytes, stack: list[bytes]) -> tuple[int, bool] | None:
    """(stack level, is close delimiter) when ``line`` is a boundary delimiter line."""
    for level in range(len(stack) - 1, -1, -1):
        delim = stack[level]
        if line.startswith(delim):
            # RFC 2046 5.1.1: "it is sufficient that the boundary appear in its
            # entirety following the CRLF"; whatever follows it on the line is ignored.
            return level, line[len(delim) :].startswith(b"--")
    return None


def _end_state(body_start: int, body_lfs: int, hit: _Hit | None, r: _Reader) -> tuple[int, int]:
    """(end offset, line count) of a body that ends at ``hit`` or at the end of input.

    The line count is the number of line ends in the body, as Dovecot counts it (an
    unterminated last line, such as the one before a boundary, does not count).
    """
    if hit is None:
        end, lfs = r.pos, r.lfs
    else:
        end, lfs, tail = hit.start, hit.lfs, hit.tail
        term = 2 if tail.endswith(b"\r\n") else 1 if tail.endswith(b"\n") else 0
        if end - term >= body_start and not hit.keep_crlf:
            end -= term
            lfs -= 1 if term else 0
    if end <= body_start:
        return body_start, 0
    return end, lfs - body_lfs


def _header_end(start: int, hit: _Hit) -> int:
    """Where a header directly followed by a delimiter ends: before the CRLF that
    belongs to the delimiter (RFC 2046 5.1.1), never before the part's start."""
    term = 2 if hit.tail.endswith(b"\r\n") else 1 if hit.tail.endswith(b"\n") else 0
    return max(start, hit.start - term)


class _Parser:
    def __init__(self, reader: _Reader) -> None:
        self.r = reader
        self.stack: list[bytes] = []
        self.parts = 0

    def scan(self, epilogue: bool = False) -> _Hit | None:
        """Skip lines until a boundary of the stack (returned) or the end (None).

        ``epilogue``: this scan starts right after a close delimiter. When an outer
        boundary follows at once (empty epilogue), the CRLF ending the close-delimiter
        line is left in the enclosing part, as Dovecot does: RFC 2046 5.1.1's grammar
        (``close-delimiter transport-padding [CRLF epilogue]``) can read that one CRLF
        either way, and clients are tuned to Dovecot's sizes.
        """
        r, stack = self.r, self.stack
        if not stack:
            r.skip_rest()
            return None
        first = epilogue
        while line := r.readline():
            if r.at_bol and line.startswith(b"--"):
                found = _match(line, stack)
                if found is not None:
                    return r.hit(*found, keep_crlf=first)
            first = False
        return None

    def header(self) -> tuple[bytes, _Hit | None]:
        """Read a header up to and including its blank line; stop early at a boundary."""
        r, size = self.r, 0
        kept: list[bytes] = []
        while line := r.readline():
            if r.at_bol:
                if line in (b"\r\n", b"\n"):
                    return b"".join(kept), None
                if self.stack and line.startswith(b"--"):
                    found = _match(line, self.stack)
                    if found is not None:  # a header keeps its last CRLF (Dovecot)
                        return b"".join(kept), r.hit(*found, keep_crlf=bool(kept))
            if size < MAX_HEADER:
                kept.append(line)
                size += len(line)
        return b"".join(kept), None

    def entity(self, start: int, default: tuple[str, str], depth: int,
               is_message: bool) -> tuple[Part, _Hit | None]:
        """Parse one entity (header + body) starting at offset ``start``."""
        self.parts += 1
        raw, hit = self.header()
        # A header cut short by a delimiter ends before the CRLF that belongs to the
        # delimiter (RFC 2046 5.1.1); the enclosing parts still keep it (Dovecot).
        body_start = self.r.pos if hit is None else _header_end(start, hit)
        part = Part(header_start=start, body_start=body_start, end=body_start)
        _apply_fields(part, parse_fields(raw), default)
        if is_message:
            part.envelope = _envelope(raw)
        if hit is not None:
            return part, hit  # the header was cut short: no body
        body_lfs = self.r.lfs
        hit = self.body(part, depth)
        if hit is not None and hit.start == body_start and not hit.keep_crlf:
            # Empty body right before a delimiter: the CRLF of the blank line is the
            # delimiter's (RFC 2046 5.1.1), so the header ends before it.
            part.body_start = part.end = _header_end(start, hit)
            for inner in part.walk()[1:]:  # an empty encapsulated message moves along
                inner.header_start = inner.body_start = inner.end = part.end
            return part, hit
        part.end, part.lines = _end_state(body_start, body_lfs, hit, self.r)
        return part, hit

    def body(self, part: Part, depth: int) -> _Hit | None:
        """Read the body of ``part`` by its type; returns the boundary that ended it."""
        deep = depth >= MAX_DEPTH or self.parts >= MAX_PARTS
        if part.maintype == "multipart" and not deep and part.param("boundary"):
            return self.multipart(part, depth)
        # An encoded message/rfc822 (RFC 2046 5.2.1 forbids it) is still parsed in
        # place, as Dovecot does: its text then reads as a header without fields.
        if (part.maintype, part.subtype) == ("message", "rfc822") and not deep:
            child, hit = self.entity(part.body_start, ("text", "plain"), depth + 1, True)
            part.children.append(child)
            return hit
        return self.scan()

    def multipart(self, part: Part, depth: int) -> _Hit | None:
        """RFC 2046 5.1.1: preamble, parts between delimiters, epilogue."""
        level = len(self.stack)
        self.stack.append(b"--" + (part.param("boundary") or "").encode("utf-8", "surrogateescape"))
        default = ("message", "rfc822") if part.subtype == "digest" else ("text", "plain")
        try:
            hit = self.scan()
            while hit is not None and hit.level == level and not hit.close:
                if self.parts >= MAX_PARTS:
                    hit = self.scan()
                    continue
                child, hit = self.entity(self.r.pos, default, depth + 1, False)
                part.children.append(child)
            if hit is not None and hit.level == level:  # close delimiter: skip epilogue
                self.stack.pop()
                return self.scan(epilogue=True)
            return hit
        finally:
            del self.stack[level:]


def _apply_fields(part: Part, fields: dict[str, str], default: tuple[str, str]) -> None:
    """Fill the MIME fields of ``part`` from its header (RFC 2045 sections 5-8)."""
    # A multipart without a boundary stays a multipart without parts (Dovecot's guide:
    # clients then show an empty part rather than the raw MIME text).
    ctype = parse_content_type(fields["content-type"]) if "content-type" in fields else None
    if ctype is None:
        part.maintype, part.subtype = default
    else:
        part.maintype, part.subtype, part.params = ctype
    part.id = fields.get("content-id")
    part.description = fields.get("content-description")
    part.encoding = simple_value(fields.get("content-transfer-encoding", "")) or "7BIT"
    part.md5 = fields.get("content-md5")
    if "content-disposition" in fields:
        part.disposition = parse_disposition(fields["content-disposition"])
    if "content-language" in fields:
        part.language = parse_language(fields["content-language"])
    part.location = fields.get("content-location")


def _envelope(header: bytes) -> Envelope:
    """RFC 5322 3.6 allows each envelope field once. When one is repeated anyway, the
    address lists are joined and the last of the other fields wins, as in Dovecot."""
    env = Envelope()
    for name, raw in split_fields(header):
        key = name.decode("ascii", "replace") if name is not None else ""
        attr = ENVELOPE_FIELDS.get(key)
        if attr is None:
            continue
        value = to_text(field_value(raw))
        old = getattr(env, attr)
        if key in ADDRESS_FIELDS and old and value:
            value = f"{old}, {value}"
        elif key in ADDRESS_FIELDS and old:
            value = old
        setattr(env, attr, value)
    return env


def parse_message(source: BinaryIO, size: int) -> Part:
    """Parse the stored (CRLF-normalised) message ``source[0:size]`` into a part tree.

    Never raises on malformed mail: structure is best effort (see the module comment).
    Offsets of every part are within ``[0, size]`` and children lie within parents.
    """
    source.seek(0)
    parser = _Parser(_Reader(source, size))
    root, _ = parser.entity(0, ("text", "plain"), 0, True)
    return root
