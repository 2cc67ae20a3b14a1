"""The ManageSieve wire format (RFC 5804 section 4), sans-IO: bytes in, lines of
arguments out; responses in.

How this works: :class:`LineReader` takes bytes as they arrive and hands out one client
line at a time as a list of arguments (atoms, numbers and strings, RFC 5804's
``command`` production and the bare string a client answers a SASL challenge with).
Strings are quoted or literal; a literal's octets are taken as they come, so a script
never waits for a second copy of itself in a buffer. Limits are checked before anything
is buffered: a line longer than :data:`MAX_LINE` or a literal longer than the reader's
``max_literal`` is skipped to its end and reported as :class:`TooLarge`, after which
the connection is in step again (client literals are never synchronising, section 4,
so the octets come whatever the server thinks of them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 8 * 1024
"""Octets of a command line outside its literals."""
MAX_ARGUMENTS = 16
"""No ManageSieve command takes more than three; a bound on the work of one line."""

_LITERAL = re.compile(rb"\{(\d{1,10})(\+?)\}\r\n")
_ATOM = re.compile(rb"[A-Za-z0-9_.:-]+")
_NUMBER = re.compile(rb"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class Atom:
    """A command name or keyword, upper-cased (RFC 5804 section 4: case-insensitive)."""

    value: str


Argument = Atom | str | int
"""An atom, a string (quoted or literal, decoded as UTF-8) or a number."""


@dataclass(frozen=True, slots=True)
class Line:
    arguments: tuple[Argument, ...]


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not ManageSieve; the connection stays usable."""

    reason: str


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A line or literal over the limit, skipped whole."""

    reason: str


Event = Line | Malformed | TooLarge


class LineReader:
    def __init__(self, max_literal: int) -> None:
        self.max_literal = max_literal
        self._buffer = bytearray()
        self._skip = 0  # octets of an oversized literal still to drop
        self._skipping_line = False  # dropping an oversized line up to its CRLF
        self._pending: Event | None = None

    def receive(self, data: bytes) -> None:
        self._buffer += data

    def discard(self) -> int:
        """Drops what was received but not parsed (STARTTLS: nothing sent in plaintext
        after it may count as sent under TLS); returns how many octets."""
        dropped = len(self._buffer)
        self._buffer.clear()
        return dropped

    def next_event(self) -> Event | None:
        """The next whole line, or None when more bytes are needed."""
        if self._skip:
            dropped = min(self._skip, len(self._buffer))
            del self._buffer[:dropped]
            self._skip -= dropped
            if self._skip:
                return None
            # the rest of the command line after the literal is dropped too
            self._skipping_line = True
        if self._skipping_line:
            end = self._buffer.find(b"\r\n")
            if end < 0:  # keep a CR that may be half of the CRLF
                del self._buffer[:len(self._buffer) - self._buffer.endswith(b"\r")]
                return None
            del self._buffer[:end + 2]
            self._skipping_line = False
            pending, self._pending = self._pending, None
            return pending or TooLarge("Line too long")
        return self._parse()

    def _parse(self) -> Event | None:
        data = self._buffer
        pos = 0
        args: list[Argument] = []
        outside = 0  # octets of the line outside literals
        while True:
            start = pos
            while pos < len(data) and data[pos] == 0x20:
                pos += 1
            if pos + 1 < len(data) and data[pos] == 0x0D and data[pos + 1] == 0x0A:
                del data[:pos + 2]
                return Line(tuple(args))
            if pos >= len(data) or (data[pos] == 0x0D and pos + 1 == len(data)):
                return self._need_more(outside + pos - start)
            if args and pos == start:
                return self._bad_line("Expected a space between arguments", pos)
            if len(args) >= MAX_ARGUMENTS:
                return self._bad_line("Too many arguments", pos)
            c = data[pos]
            if c == 0x22:  # quoted string
                value, end = _quoted(data, pos)
                if end is None:
                    return self._need_more(outside + len(data) - start)
                if value is None:
                    return self._bad_line("Malformed quoted string", pos)
                outside += end - start
                args.append(value)
                pos = end
            elif c == 0x7B:  # literal
                m = _LITERAL.match(data, pos)
                if m is None:
                    if data.find(b"\r\n", pos) < 0 and len(data) - pos < 16:
                        return None
                    return self._bad_line("Malformed literal", pos)
                size = int(m.group(1))
                outside += m.end() - start
                if size > self.max_literal:
                    del data[:m.end()]
                    self._skip = size
                    self._pending = TooLarge(
                        f"String of {size} octets is over the limit of {self.max_literal}")
                    return self.next_event()
                if len(data) < m.end() + size:
                    return None
                raw = bytes(data[m.end():m.end() + size])
                try:
                    args.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    return self._bad_line("String is not UTF-8", pos)
                pos = m.end() + size
            else:
                m = _ATOM.match(data, pos)
                if m is None:
                    return self._bad_line("Unexpected character", pos)
                word = m.group().decode("ascii")
                args.append(int(word) if _NUMBER.fullmatch(m.group()) else Atom(word.upper()))
                outside += m.end() - start
                pos = m.end()
            if outside > MAX_LINE:
                del data[:pos]
                self._pending = TooLarge("Line too long")
                self._skipping_line = True
                return self.next_event()

    def _need_more(self, outside: int) -> Event | None:
        """None (wait for more), unless the line is already over the limit: then what
        came is dropped, and the rest up to its CRLF as it arrives."""
        if outside > MAX_LINE:
            del self._buffer[:len(self._buffer) - self._buffer.endswith(b"\r")]
            self._pending = TooLarge("Line too long")
            self._skipping_line = True
        return None

    def _bad_line(self, reason: str, pos: int) -> Event | None:
        """Drops the line: what was parsed (literals included) and the rest up to the
        next CRLF."""
        del self._buffer[:pos]
        self._pending = Malformed(reason)
        self._skipping_line = True
        return self.next_event()


def _quoted(data: bytearray, pos: int) -> tuple[str | None, int | None]:
    """``quoted = DQUOTE *QUOTED-CHAR DQUOTE`` with ``\\"`` and ``\\\\`` escapes (RFC 5804
    section 4); (value, end), (None, end) when malformed, (None, None) when incomplete."""
    out = bytearray()
    i = pos + 1
    while i < len(data):
        c = data[i]
        if c == 0x22:
            try:
                return out.decode("utf-8"), i + 1
            except UnicodeDecodeError:
                return None, i + 1
        if c == 0x5C:
            if i + 1 >= len(data):
                return None, None
            if data[i + 1] not in (0x22, 0x5C):
                return None, i + 2
            out.append(data[i + 1])
            i += 2
            continue
        if c in (0x0D, 0x0A, 0x00):
            return None, i
        out.append(c)
        i += 1
    return None, None


# --- responses ---------------------------------------------------------------------------


def string(value: str) -> bytes:
    """A quoted string when it can be one, else a literal (RFC 5804 section 4)."""
    raw = value.encode("utf-8")
    if len(raw) <= 1024 and not any(b in raw for b in (b"\r", b"\n", b'"', b"\\", b"\0")):
        return b'"' + raw + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def literal(value: str) -> bytes:
    """A literal on a line of its own (GETSCRIPT's answer, section 2.9)."""
    raw = value.encode("utf-8")
    return b"{%d}\r\n" % len(raw) + raw + b"\r\n"


def response(status: str, text: str | None = None, code: str | None = None) -> bytes:
    """``response-ok / response-nobye`` (section 4): ``OK``, ``NO`` or ``BYE``, with an
    optional ``(code)`` and human-readable string."""
    out = status.encode("ascii")
    if code is not None:
        out += b" (" + code.encode("utf-8") + b")"
    if text is not None:
        out += b" " + string(text)
    return out + b"\r\n"


def capability_lines(items: list[tuple[str, str | None]]) -> bytes:
    """``single-capability`` lines (section 1.7): ``"NAME" ["value"]``."""
    out = bytearray()
    for name, value in items:
        out += string(name)
        if value is not None:
            out += b" " + string(value)
        out += b"\r\n"
    return bytes(out)
