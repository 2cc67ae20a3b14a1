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
    The message literal of APPEND (or a CATENATE TEXT literal, RFC 4469): its octets go
    out as :class:`AppendData` chunks as they arrive; then the rest of the command is read
    line by line and scanned (:mod:`pyimapd.protocol.append_parser`) from where the
    literal left the grammar: it ends (:class:`AppendEnd`), announces the next message of
    a MULTIAPPEND (RFC 3502, :class:`AppendNext`) or the next CATENATE parts
    (:class:`CatenateUrl`, :class:`CatenateText`), or the command is aborted
    (:class:`AppendAbort`). A scan can yield several events at once: they are queued.
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
  its message literal is reached, with ``+`` queued at the same moment for ``{n}``; a
  CATENATE message's start comes at its first TEXT literal or at the end of the line,
  followed by its parts (URLs, which the session checks before the queued ``+`` is
  sent, since it is only sent when the parser needs data). The
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
from collections import deque

from pyimapd.protocol.append_parser import (
    AppendHeadError,
    MessageStart,
    Next,
    Scan,
    Where,
    scan,
)
from pyimapd.protocol.commands import AppendStart, Command, ReplaceStart
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    AppendNext,
    CatenateText,
    CatenateUrl,
    NeedData,
    ParseError,
    RawLine,
)
from pyimapd.protocol.grammar import TAG_PATTERN
from pyimapd.protocol.limits import Limits
from pyimapd.protocol.parser import early_error, parse_command

Event = (
    Command | AppendData | AppendNext | AppendEnd | AppendAbort | CatenateUrl | CatenateText
    | RawLine | ParseError | NeedData
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
TEXT_LITERAL8 = "literal8 is only allowed for an APPEND message or TEXT part"
TEXT_TOO_MANY_PARTS = "Too many CATENATE parts in one APPEND"
TEXT_REPLACE_ONE = "REPLACE takes exactly one message"

DEFAULT_LIMITS = Limits()

_LINE, _LITERAL, _APPEND_DATA, _APPEND_TAIL, _DISCARD, _SKIP_LINE, _DEAD = range(7)
_NEED_DATA = NeedData()
_MARKER = re.compile(rb"\{([0-9]+)(\+?)\}")
_MARKER_WINDOW = 64
_TAG = re.compile(b"(" + TAG_PATTERN + b") ")
_APPEND_START = re.compile(TAG_PATTERN + b" (?:APPEND|(?:UID )?REPLACE) ", re.IGNORECASE)
"""The commands whose message literal is streamed: APPEND and RFC 8508's REPLACE."""
_LITERAL8_VALUES = re.compile(TAG_PATTERN + b" SETMETADATA ", re.IGNORECASE)
"""RFC 5464 section 5: ``value = nstring / literal8``, read whole like other literals."""


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


def _abort(tag: str, where: Where, exc: AppendHeadError) -> AppendAbort:
    """After a message literal anything but the next message is trailing data; inside
    CATENATE's list the scan's own text says what is wrong."""
    return AppendAbort(tag, TEXT_APPEND_TRAILING if where is Where.MESSAGE else str(exc))


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
        self._replacing = False  # the APPEND is a REPLACE (RFC 8508): one message only
        self._parts = 0  # CATENATE parts of the APPEND so far
        self._where: Where | None = None  # in the rest of an APPEND after a streamed literal
        self._pending: deque[Event] = deque()  # events of one scan, handed out one by one
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
            if self._pending:
                return self._pending.popleft()
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
        self._pending.clear()
        self._end_append()
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
        The same withdraws the rest of an APPEND the session gives up on later (a
        CATENATE URL it cannot fetch, RFC 4469 section 4.1): queued events are dropped.
        """
        had_pending = bool(self._pending)
        self._pending.clear()
        self._end_append()
        if self._state == _LINE and had_pending:
            return  # the command's line was read to its end already
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
                return self._fatal_too_long(limit)
            self._scan = len(self._buf)
            return _NEED_DATA
        end = nl - 1 if nl > 0 and self._buf[nl - 1] == 0x0D else nl
        if end > limit:
            return self._fatal_too_long(limit)
        line = bytes(self._buf[:end])
        del self._buf[: nl + 1]
        self._scan = 0
        if self._raw:
            self._raw = False
            return RawLine(line)
        if self._state == _APPEND_TAIL:
            return self._on_append_tail(line)
        return self._on_line(line)

    def _fatal_too_long(self, limit: int) -> ParseError:
        """RFC 3501 leaves line length open; past ``max_line`` the stream is refused.
        The tag is looked for within the line's limit only: how much more of the line
        has arrived depends on how the bytes were split, the answer must not."""
        tag = self._tag
        if tag is None and not self._segments and not self._raw:
            m = _TAG.match(self._buf, 0, min(1024, limit))
            tag = m.group(1).decode("ascii") if m else None
        self._state = _DEAD
        self._buf.clear()
        self._reset_command()
        self._end_append()
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
            if self._nul:
                event: Event = ParseError(self._tag, TEXT_NUL)
            elif self._tag is not None and _APPEND_START.match(self._segments[0]):
                event = self._append_line_end(self._tag, Where.HEAD)
            else:
                event = parse_command(self._segments, self._literals)
            self._reset_command()
            return event
        size, sync, start = marker
        self._segments.append(line[:start])
        return self._on_literal(size, sync)

    def _on_literal(self, size: int, sync: bool) -> Event | None:
        """At ``{n}``: check the limits, learn whether this is an APPEND message, and
        queue ``+`` for a synchronizing literal that is accepted."""
        problem = self._frame_problem()
        binary = self._segments[-1].endswith(b"~")  # RFC 3516 literal8: "~{" number "}"
        if binary:
            self._segments[-1] = self._segments[-1][:-1]
        tag = self._tag
        if problem is None and tag is not None and _APPEND_START.match(self._segments[0]):
            try:
                scanned = scan(tag, self._segments, self._literals, Where.HEAD, True)
            except AppendHeadError as exc:
                problem = exc.error()
            else:
                if scanned.next is not Next.ARGUMENT:
                    return self._stream(tag, scanned, size, sync, binary)
        return self._argument_literal(problem, size, sync, binary)

    def _argument_literal(
        self, problem: Event | None, size: int, sync: bool, binary: bool
    ) -> Event | None:
        """A literal that is read whole into the command (not an APPEND message)."""
        if problem is None and binary and not _LITERAL8_VALUES.match(self._segments[0]):
            problem = ParseError(self._tag, TEXT_LITERAL8)
        if problem is None:
            problem = self._size_problem(size)
        if problem is not None:
            self._reset_command()
            self._end_append()
            return self._refuse_literal(problem, size, sync)
        if sync:
            self._out += CONTINUE_LITERAL
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

    def _size_problem(self, size: int) -> ParseError | None:
        """RFC 7888 section 4: refuse before reading (messages: see :meth:`_stream`)."""
        if size > self.limits.max_literal:
            return ParseError(self._tag, TEXT_LITERAL_TOO_LARGE)
        if self._command_octets + size > self.limits.max_command:
            return ParseError(self._tag, TEXT_COMMAND_TOO_LARGE)
        return None

    def _stream(self, tag: str, scanned: Scan, size: int, sync: bool, binary: bool) -> Event:
        """A message or TEXT literal follows the scanned text: its events, and the
        literal is streamed. RFC 4469 section 4.2 / RFC 7889: TOOBIG before reading."""
        problem = self._count_problem(tag, scanned, 1 if scanned.next is Next.TEXT else 0)
        if problem is None and size > self.limits.max_append:
            problem = ParseError(tag, TEXT_MESSAGE_TOO_LARGE, code="TOOBIG", status="NO")
        if problem is not None:
            self._reset_command()
            self._end_append()
            return self._refuse_literal(problem, size, sync)
        events = self._item_events(tag, scanned, size, binary)
        if scanned.next is Next.TEXT:
            events.append(CatenateText(tag, size, binary))
        self._where = scanned.after_literal()
        if sync:
            self._out += CONTINUE_LITERAL
        self._read_message(tag, size, sync)
        self._reset_command()
        self._pending.extend(events[1:])
        return events[0]

    def _append_line_end(self, tag: str, where: Where) -> Event:
        """The APPEND's line ended: the events of its last text, then AppendEnd. In the
        head (no AppendStart yet) a syntax error is a plain BAD, later it aborts."""
        try:
            scanned = scan(tag, self._segments, self._literals, where, False)
        except AppendHeadError as exc:
            self._end_append()
            if where is not Where.HEAD:
                return _abort(tag, where, exc)
            if exc.status == "NO":  # an invalid mailbox name: as for other commands
                return parse_command(self._segments, self._literals)
            return exc.error()
        problem = self._count_problem(tag, scanned, 0)
        self._end_append()
        if problem is not None:
            return problem
        events = [*self._item_events(tag, scanned, 0, False), AppendEnd(tag)]
        self._pending.extend(events[1:])
        return events[0]

    def _count_problem(self, tag: str, scanned: Scan, texts: int) -> ParseError | None:
        """Messages and CATENATE parts per command are bounded like literals are."""
        starts = [i for i in scanned.items if isinstance(i, MessageStart)]
        self._append_count += len(starts)
        self._parts += texts + len(scanned.items) - len(starts)
        self._replacing |= any(i.replace is not None for i in starts)
        if self._replacing and self._append_count > 1:
            return ParseError(tag, TEXT_REPLACE_ONE)  # RFC 8508 section 6: one message
        if self._append_count > max(1, self.limits.max_literals):
            return ParseError(tag, TEXT_TOO_MANY_MESSAGES)
        if self._parts > max(1, self.limits.max_literals):
            return ParseError(tag, TEXT_TOO_MANY_PARTS)
        return None

    def _item_events(self, tag: str, scanned: Scan, size: int, binary: bool) -> list[Event]:
        """Messages and URL parts as events; a plain message gets the literal's size."""
        out: list[Event] = []
        for item in scanned.items:
            if not isinstance(item, MessageStart):
                out.append(CatenateUrl(tag, item.url))
                continue
            n, b = (0, False) if item.catenate else (size, binary)
            if item.mailbox is not None and item.replace is not None:
                out.append(ReplaceStart(tag, item.mailbox, item.flags, item.date_time, n, b,
                                        item.catenate, item.replace.uid, item.replace.number))
            elif item.mailbox is not None:
                out.append(AppendStart(tag, item.mailbox, item.flags, item.date_time, n, b,
                                       item.catenate))
            else:
                out.append(AppendNext(tag, item.flags, item.date_time, n, b, item.catenate))
        return out

    def _end_append(self) -> None:
        self._where = None
        self._append_count = 0
        self._replacing = False
        self._parts = 0

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
        self._state = _LINE if self._where is None else _APPEND_TAIL
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

    def _on_append_tail(self, line: bytes) -> Event | None:
        """The rest of an APPEND after a streamed literal (see :func:`append_parser.scan`):
        its end, the next message (RFC 3502) or CATENATE parts (RFC 4469), or an
        argument literal (an URL sent as a literal) read whole as in any command."""
        tag = self._append_tag
        where = self._where or Where.MESSAGE
        self._state = _LINE
        self._text_octets += len(line)
        marker = _literal_marker(line)
        if marker is None:
            self._segments.append(line)
            event = self._append_line_end(tag, where)
            self._reset_command()
            return event
        size, sync, start = marker
        text = line[:start]
        binary = text.endswith(b"~")
        self._segments.append(text[:-1] if binary else text)
        problem: Event | None = None
        if len(self._literals) >= self.limits.max_literals:
            problem = ParseError(tag, TEXT_TOO_MANY_LITERALS)
        else:
            try:
                scanned = scan(tag, self._segments, self._literals, where, True)
            except AppendHeadError as exc:
                problem = _abort(tag, where, exc)
            else:
                if scanned.next is not Next.ARGUMENT:
                    return self._stream(tag, scanned, size, sync, binary)
        self._tag = tag
        # Read whole, then back to APPEND_TAIL (self._where is still set).
        return self._argument_literal(problem, size, sync, binary)

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
