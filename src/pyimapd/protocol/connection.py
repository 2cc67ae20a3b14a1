"""The sans-IO server side of an IMAP connection, in the style of h11.

How this works: bytes go in with :meth:`ServerConnection.receive_data`; events come out
of :meth:`ServerConnection.next_event`; continuation requests (``+ ...``) the parser
queued come out of :meth:`ServerConnection.data_to_send`. Nothing here does I/O.

A small state machine frames commands (RFC 3501 section 4.3, RFC 7888):

``LINE``
    Look for the end of a line with ``bytes.find``, resuming where the last search
    stopped. A line that ends in ``{n}`` or ``{n+}`` is a text segment followed by a
    literal: the limits are checked, ``+`` is queued for ``{n}``, and the state becomes
    ``LITERAL``. A line without a marker ends the command, which is parsed once, over all
    its segments and literals (see :mod:`pyimapd.protocol.grammar`).
``LITERAL``
    Collect exactly n octets, then back to ``LINE`` for the rest of the command.
``APPEND_DATA`` / ``APPEND_TAIL``
    The message literal of APPEND: its octets go out as :class:`AppendData` chunks as they
    arrive, then the rest of the line must be empty (:class:`AppendEnd`), or announce the
    next message of a MULTIAPPEND (RFC 3502: ``SP [flag-list SP] [date-time SP]`` and a
    literal, :class:`AppendNext`, back to ``APPEND_DATA``), or the command is aborted
    (:class:`AppendAbort`).
``DISCARD`` / ``SKIP_LINE``
    After a refused non-synchronizing literal the client sends its octets anyway: they are
    dropped as they arrive (never buffered), then the rest of that command is skipped.
``DEAD``
    After a fatal error (line too long): everything is dropped.

Choices worth knowing:

* A line ends at LF; a CR before it is stripped (bare LF is tolerated). Empty lines
  between commands are ignored.
* A line (all text segments of one command) over ``max_line`` octets is fatal:
  ``ParseError(tag, "Line too long", fatal=True)``, and everything after is dropped
  (``DEAD``); the buffer never holds more than the limit plus one read.
* At a command's first literal, a missing tag or an unknown command name is refused at
  once, so junk never receives a ``+``.
* APPEND: ``AppendStart`` (and for each further message ``AppendNext``) is returned when
  its message literal is reached, with ``+`` queued at the same moment for ``{n}``. The
  session may call :meth:`reject_append` before :meth:`data_to_send` to withdraw it.
  The octets of the message are not checked (NUL included); the session's spool
  decides. A message may come as RFC 3516's ``literal8`` (``~{n}``); elsewhere
  ``literal8`` is refused.

The parser never writes tagged responses: a refused literal comes out as a
:class:`ParseError` (``code="TOOBIG"`` for an APPEND message over ``max_append``) and
the session answers it. For a refused synchronizing literal no ``+`` is sent, so the
client sends no literal and the next line is a fresh command.
"""

from __future__ import annotations

import re

from pyimapd.protocol.commands import AppendStart, Command
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    AppendNext,
    NeedData,
    ParseError,
    RawLine,
)
from pyimapd.protocol.grammar import TAG_PATTERN
from pyimapd.protocol.limits import Limits
from pyimapd.protocol.parser import (
    AppendHead,
    AppendHeadError,
    append_head,
    append_next_head,
    early_error,
    parse_command,
)

Event = (
    Command | AppendData | AppendNext | AppendEnd | AppendAbort | RawLine | ParseError | NeedData
)

CONTINUE_LITERAL = b"+ Ready for literal data\r\n"
"""``continue-req = "+" SP (resp-text / base64) CRLF`` sent for a synchronizing literal."""

TEXT_LINE_TOO_LONG = "Line too long"
TEXT_LITERAL_TOO_LARGE = "Literal too large"
TEXT_MESSAGE_TOO_LARGE = "Message too large"
TEXT_TOO_MANY_LITERALS = "Too many literals"
TEXT_COMMAND_TOO_LARGE = "Command too large"
TEXT_NUL = "NUL octet in command"
TEXT_APPEND_TRAILING = "Unexpected data after APPEND message"
TEXT_TOO_MANY_MESSAGES = "Too many messages in one APPEND"
TEXT_LITERAL8 = "literal8 is only allowed for an APPEND message"

DEFAULT_LIMITS = Limits()

_LINE, _LITERAL, _APPEND_DATA, _APPEND_TAIL, _DISCARD, _SKIP_LINE, _DEAD = range(7)
_NEED_DATA = NeedData()
_MARKER = re.compile(rb"\{([0-9]+)(\+?)\}")
_MARKER_WINDOW = 64
_TAG = re.compile(b"(" + TAG_PATTERN + b") ")


def _literal_marker(line: bytes) -> tuple[int, bool, int] | None:
    """``literal = "{" number ["+"] "}" CRLF``: (size, synchronizing, start) when the line
    ends with a literal marker."""
    if not line.endswith(b"}"):
        return None
    start = line.rfind(b"{", max(0, len(line) - _MARKER_WINDOW))
    if start < 0:
        return None
    m = _MARKER.fullmatch(line, start)
    if m is None:
        return None
    return int(m.group(1)), not m.group(2), start


class ServerConnection:
    """Turns the bytes a client sends into commands and streamed-APPEND events."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._scan = 0  # no LF in self._buf[: self._scan]
        self._state = _LINE
        self._raw = False
        self._out = bytearray()
        self._eof = False
        self._remaining = 0  # octets left of the literal being read or discarded
        self._lit = bytearray()
        self._skip_tail = b""
        self._append_tag = ""
        self._append_size = 0
        self._append_count = 0  # messages of the APPEND so far (MULTIAPPEND)
        self._plus_pending = False  # the APPEND "+" is still in self._out
        self._segments: list[bytes] = []
        self._literals: list[bytes] = []
        self._text_octets = 0
        self._command_octets = 0
        self._tag: str | None = None
        self._nul = False

    # --- public API -----------------------------------------------------------------------

    @property
    def eof(self) -> bool:
        """True once ``receive_data(b"")`` signalled the end of the stream."""
        return self._eof

    @property
    def buffered_size(self) -> int:
        """Octets received and not yet consumed (for back-pressure and tests)."""
        return len(self._buf)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the client; ``b""`` means the client closed its side."""
        if self._eof:
            raise RuntimeError("receive_data after EOF")
        if not data:
            self._eof = True
            return
        if self._state == _DEAD:
            return
        self._buf += data
        if self._state in (_DISCARD, _SKIP_LINE):
            self._drain_discard()

    def next_event(self) -> Event:
        """The next complete event, or :class:`NeedData` (check :attr:`eof` then)."""
        while True:
            event = self._step()
            if event is not None:
                return event

    def data_to_send(self) -> bytes:
        """Return and clear the continuation requests queued for the client."""
        out = bytes(self._out)
        self._out.clear()
        self._plus_pending = False
        return out

    def expect_raw_line(self) -> None:
        """Read the next line raw (no literals, CRLF stripped) and return it as RawLine.

        For AUTHENTICATE responses (RFC 3501 section 6.2.2) and IDLE's ``DONE``
        (RFC 2177); call it between commands, after the one that asked for it.
        """
        if self._state != _LINE or self._segments:
            raise RuntimeError("expect_raw_line in the middle of a command")
        self._raw = True

    def discard_buffered(self) -> bytes:
        """Drop and return everything received but not parsed.

        After STARTTLS, plaintext sent behind the command must not be executed once TLS is
        up (RFC 3207 section 4.2's command injection). Call it between commands.
        """
        data = bytes(self._buf)
        self._buf.clear()
        self._scan = 0
        if self._state != _DEAD:
            self._state = _LINE
            self._reset_command()
        return data

    def reject_append(self) -> None:
        """Refuse the APPEND whose :class:`AppendStart` was just returned.

        Call before :meth:`data_to_send` and the queued ``+`` is withdrawn, so a client
        using a synchronizing literal never sends the message. Otherwise (``{n+}``, or the
        ``+`` already went out) the message octets are discarded as they arrive. Either
        way no AppendData/AppendEnd follows: the session answers ``tag NO ...`` itself.
        """
        if self._state not in (_APPEND_DATA, _APPEND_TAIL):
            raise RuntimeError("reject_append without an APPEND in progress")
        untouched = self._remaining == self._append_size and self._state == _APPEND_DATA
        if self._plus_pending and untouched and self._out.endswith(CONTINUE_LITERAL):
            del self._out[-len(CONTINUE_LITERAL) :]
            self._plus_pending = False
            self._state = _LINE
        elif self._state == _APPEND_DATA:
            self._state = _DISCARD
        else:
            self._state = _SKIP_LINE
            self._skip_tail = b""
        self._reset_command()
        self._drain_discard()

    # --- the state machine ------------------------------------------------------------------

    def _step(self) -> Event | None:
        """Advance by one transition: an event, None to go on, or NeedData to stop."""
        state = self._state
        if state in (_LINE, _APPEND_TAIL):
            return self._step_line()
        if state == _LITERAL:
            return self._step_literal()
        if state == _APPEND_DATA:
            return self._step_append_data()
        if state == _DISCARD:
            return self._step_discard()
        if state == _SKIP_LINE:
            return self._step_skip_line()
        self._buf.clear()
        return _NEED_DATA

    def _step_line(self) -> Event | None:
        limits = self.limits
        limit = limits.max_raw_line if self._raw else limits.max_line - self._text_octets
        nl = self._buf.find(b"\n", self._scan)
        if nl < 0:
            if len(self._buf) > limit + 1:  # + 1: a CR may still be followed by LF
                return self._fatal_too_long()
            self._scan = len(self._buf)
            return _NEED_DATA
        end = nl - 1 if nl > 0 and self._buf[nl - 1] == 0x0D else nl
        if end > limit:
            return self._fatal_too_long()
        line = bytes(self._buf[:end])
        del self._buf[: nl + 1]
        self._scan = 0
        if self._raw:
            self._raw = False
            return RawLine(line)
        if self._state == _APPEND_TAIL:
            return self._on_append_tail(line)
        return self._on_line(line)

    def _fatal_too_long(self) -> ParseError:
        """RFC 3501 leaves line length open; past ``max_line`` the stream is refused."""
        tag = self._tag
        if tag is None and not self._segments and not self._raw:
            m = _TAG.match(self._buf, 0, 1024)
            tag = m.group(1).decode("ascii") if m else None
        self._state = _DEAD
        self._buf.clear()
        self._reset_command()
        return ParseError(tag, TEXT_LINE_TOO_LONG, fatal=True)

    def _on_line(self, line: bytes) -> Event | None:
        """A line of a command: its end, or text followed by a literal."""
        if not self._segments:
            if not line:
                return None  # empty lines between commands are ignored
            m = _TAG.match(line)
            self._tag = m.group(1).decode("ascii") if m else None
        self._text_octets += len(line)
        self._command_octets += len(line)
        self._nul = self._nul or b"\x00" in line
        marker = _literal_marker(line)
        if marker is None:
            self._segments.append(line)
            event: Event = ParseError(self._tag, TEXT_NUL) if self._nul else parse_command(
                self._segments, self._literals)
            self._reset_command()
            return event
        size, sync, start = marker
        self._segments.append(line[:start])
        return self._on_literal(size, sync)

    def _on_literal(self, size: int, sync: bool) -> Event | None:
        """At ``{n}``: check the limits, learn whether this is an APPEND message, and
        queue ``+`` for a synchronizing literal that is accepted."""
        head: AppendHead | None = None
        problem = self._frame_problem()
        binary = self._segments[-1].endswith(b"~")  # RFC 3516 literal8: "~{" number "}"
        if binary:
            self._segments[-1] = self._segments[-1][:-1]
        if problem is None:
            try:
                head = append_head(self._segments, self._literals)
            except AppendHeadError as exc:
                problem = exc.error()
        if problem is None and binary and head is None:
            problem = ParseError(self._tag, TEXT_LITERAL8)
        if problem is None:
            problem = self._size_problem(size, head)
        if problem is not None:
            self._reset_command()
            return self._refuse_literal(problem, size, sync)
        if sync:
            self._out += CONTINUE_LITERAL
        if head is not None:
            return self._start_append(head, size, sync, binary)
        self._state = _LITERAL
        self._remaining = size
        self._command_octets += size
        return None

    def _refuse_literal(self, problem: Event, size: int, sync: bool) -> Event:
        """No ``+`` for a refused ``{n}`` (the client sends no literal); the octets of a
        refused ``{n+}`` come anyway and are dropped as they arrive (RFC 7888 section 4)."""
        if not sync:
            self._state = _DISCARD
            self._remaining = size
            self._drain_discard()
        return problem

    def _frame_problem(self) -> ParseError | None:
        if self._nul:
            return ParseError(self._tag, TEXT_NUL)
        if len(self._literals) >= self.limits.max_literals:
            return ParseError(self._tag, TEXT_TOO_MANY_LITERALS)
        if not self._literals:
            text = early_error(self._segments[0])
            if text is not None:
                return ParseError(self._tag, text)
        return None

    def _size_problem(self, size: int, head: AppendHead | None) -> ParseError | None:
        """RFC 7888 section 4 / RFC 4469: refuse before reading; TOOBIG for messages."""
        if head is not None:
            if size > self.limits.max_append:
                return ParseError(head.tag, TEXT_MESSAGE_TOO_LARGE, code="TOOBIG", status="NO")
            return None
        if size > self.limits.max_literal:
            return ParseError(self._tag, TEXT_LITERAL_TOO_LARGE)
        if self._command_octets + size > self.limits.max_command:
            return ParseError(self._tag, TEXT_COMMAND_TOO_LARGE)
        return None

    def _start_append(self, head: AppendHead, size: int, sync: bool, binary: bool) -> AppendStart:
        self._read_message(head.tag, size, sync)
        self._append_count = 1
        self._segments = []
        self._literals = []
        return AppendStart(head.tag, head.mailbox, head.flags, head.date_time, size, binary)

    def _read_message(self, tag: str, size: int, sync: bool) -> None:
        self._state = _APPEND_DATA
        self._remaining = size
        self._append_size = size
        self._append_tag = tag
        self._plus_pending = sync

    def _step_literal(self) -> Event | None:
        n = min(self._remaining, len(self._buf))
        if n:
            self._lit += self._buf[:n]
            del self._buf[:n]
            self._remaining -= n
        if self._remaining:
            return _NEED_DATA
        self._literals.append(bytes(self._lit))
        self._lit = bytearray()
        self._state = _LINE
        self._scan = 0
        return None

    def _step_append_data(self) -> Event | None:
        if self._remaining == 0:
            self._state = _APPEND_TAIL
            self._scan = 0
            return None
        if not self._buf:
            return _NEED_DATA
        n = min(self._remaining, len(self._buf))
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        self._remaining -= n
        return AppendData(chunk)

    def _on_append_tail(self, line: bytes) -> Event:
        """``append = ... SP literal`` then CRLF, or the next message of a MULTIAPPEND
        (RFC 3502 section 6: ``*(SP append-data)``); anything else aborts the APPEND."""
        tag = self._append_tag
        self._state = _LINE
        self._reset_command()
        if not line:
            return AppendEnd(tag)
        marker = _literal_marker(line)
        if marker is None:
            return AppendAbort(tag, TEXT_APPEND_TRAILING)
        size, sync, start = marker
        text = line[:start]
        binary = text.endswith(b"~")
        problem: ParseError | AppendAbort | None = None
        try:
            head = append_next_head(tag, text[:-1] if binary else text)
        except AppendHeadError:
            problem = AppendAbort(tag, TEXT_APPEND_TRAILING)
        if problem is None and self._append_count >= max(1, self.limits.max_literals):
            problem = ParseError(tag, TEXT_TOO_MANY_MESSAGES)
        if problem is None and size > self.limits.max_append:
            problem = ParseError(tag, TEXT_MESSAGE_TOO_LARGE, code="TOOBIG", status="NO")
        if problem is not None:
            return self._refuse_literal(problem, size, sync)
        if sync:
            self._out += CONTINUE_LITERAL
        self._read_message(tag, size, sync)
        self._append_count += 1
        return AppendNext(tag, head.flags, head.date_time, size, binary)

    def _step_discard(self) -> Event | None:
        n = min(self._remaining, len(self._buf))
        del self._buf[:n]
        self._remaining -= n
        if self._remaining:
            return _NEED_DATA
        self._state = _SKIP_LINE
        self._skip_tail = b""
        return None

    def _step_skip_line(self) -> Event | None:
        """Skip to the end of the refused command, minding further ``{n+}`` markers."""
        nl = self._buf.find(b"\n")
        if nl < 0:
            self._skip_tail = (self._skip_tail + bytes(self._buf[-_MARKER_WINDOW:]))[
                -_MARKER_WINDOW:
            ]
            self._buf.clear()
            return _NEED_DATA
        tail = self._skip_tail + bytes(self._buf[max(0, nl - _MARKER_WINDOW) : nl])
        del self._buf[: nl + 1]
        marker = _literal_marker(tail.removesuffix(b"\r"))
        if marker is not None and not marker[1]:
            self._state = _DISCARD
            self._remaining = marker[0]
        else:
            self._state = _LINE
            self._scan = 0
        return None

    def _drain_discard(self) -> None:
        """Run the discarding states at once, so their octets are never kept."""
        while self._state in (_DISCARD, _SKIP_LINE):
            if self._step() is not None:
                return

    def _reset_command(self) -> None:
        self._segments = []
        self._literals = []
        self._text_octets = 0
        self._command_octets = 0
        self._tag = None
        self._nul = False
        self._lit = bytearray()
