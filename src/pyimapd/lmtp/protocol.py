"""LMTP (RFC 2033) as a sans-IO state machine: bytes in, events out, replies queued.

How this works: :meth:`LmtpConnection.receive_data` buffers what the client sent and
:meth:`LmtpConnection.next_event` turns it into events, one command at a time, so
pipelined commands (RFC 2920, which LMTP servers must support, RFC 2033 section 5) are
answered in order. Everything the protocol alone can decide is answered here: LHLO and its
extensions, MAIL, RSET, NOOP, VRFY, QUIT, syntax errors and bad sequences. Two things need
the caller:

* :class:`Recipient` (RCPT TO): the caller looks the address up and answers with
  :meth:`LmtpConnection.answer_recipient`; only accepted recipients count for DATA.
* the message: after ``DATA`` the connection sends ``354`` itself and emits
  :class:`MessageData` chunks (dot-unstuffed, RFC 5321 section 4.5.2) and then
  :class:`MessageEnd`. The caller must answer with :meth:`LmtpConnection.answer_message`,
  giving exactly one reply per accepted recipient, in RCPT order: this is the difference
  between LMTP and SMTP (RFC 2033 section 4.2) and is enforced here.

Until a pending RCPT or message is answered, :meth:`next_event` returns
:class:`AwaitingAnswer`, so replies can never come out of order. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_COMMAND_LINE = 4096
"""RFC 5321 section 4.5.3.1.4 allows 512 octets; parameters (SIZE, BODY...) and long
addresses make MTAs exceed it in practice, so we accept a little more."""
DATA_CHUNK = 64 * 1024
"""A data line longer than this is passed on in pieces: memory stays bounded."""
MAX_RECIPIENTS = 1000
"""RFC 5321 section 4.5.3.1.8 asks for at least 100."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: ``code``, an enhanced status code (RFC 3463, RFC 2034) and text."""

    code: int
    status: str
    text: str

    def encode(self) -> bytes:
        return f"{self.code} {self.status} {self.text}\r\n".encode()

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing complete in the buffer: read more from the client."""


@dataclass(frozen=True, slots=True)
class AwaitingAnswer:
    """A recipient or a message waits for the caller's answer."""


@dataclass(frozen=True, slots=True)
class Hello:
    domain: str


@dataclass(frozen=True, slots=True)
class Sender:
    """MAIL FROM accepted: a new transaction starts (``address`` is empty for ``<>``)."""

    address: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str


@dataclass(frozen=True, slots=True)
class MessageData:
    data: bytes


@dataclass(frozen=True, slots=True)
class MessageEnd:
    """The final dot was read. ``recipients`` are the accepted ones, in RCPT order;
    ``too_big`` says the message exceeded the SIZE limit (its data was dropped)."""

    sender: str
    recipients: tuple[str, ...]
    too_big: bool


@dataclass(frozen=True, slots=True)
class Reset:
    """The transaction was abandoned (RSET, LHLO, or a new session)."""


@dataclass(frozen=True, slots=True)
class Closed:
    """QUIT was answered: close the connection after sending."""


Event = (
    NeedData | AwaitingAnswer | Hello | Sender | Recipient | MessageData | MessageEnd
    | Reset | Closed
)

# --- grammar -----------------------------------------------------------------------------

_PATH = re.compile(r"^<(?P<path>[^<>\s]*)>(?:\s+(?P<params>.*))?$")
"""``Reverse-path``/``Forward-path`` of RFC 5321 section 4.1.2, without source routes'
validation: the MTA in front has checked them; we need the mailbox only."""
_ROUTE = re.compile(r"^@[^:]*:")


def parse_path(text: str) -> tuple[str, dict[str, str]] | None:
    """``<addr> [PARAM[=VALUE] ...]`` -> (addr, params) or None on a syntax error."""
    m = _PATH.match(text.strip())
    if m is None:
        return None
    path = _ROUTE.sub("", m.group("path"))  # a source route is ignored (RFC 5321 C)
    params: dict[str, str] = {}
    for item in (m.group("params") or "").split():
        key, _, value = item.partition("=")
        params[key.upper()] = value
    return path, params


@dataclass
class _Transaction:
    sender: str
    recipients: list[str] = field(default_factory=list)


class LmtpConnection:
    """One LMTP session, server side. ``hostname`` goes in the greeting and LHLO reply."""

    def __init__(self, hostname: str, max_message_size: int = 0) -> None:
        self.hostname = hostname
        self.max_message_size = max_message_size
        self._in = bytearray()
        self._out = bytearray()
        self._greeted = False
        self._tx: _Transaction | None = None
        self._pending_rcpt: str | None = None
        self._pending_message: tuple[str, ...] | None = None
        self._in_data = False
        self._data_ended = False
        self._line_start = True
        self._data_size = 0
        self._too_big = False
        self.closed = False
        self._queue(Reply(220, "", f"{hostname} LMTP pyimapd ready"))

    # --- the h11-style verbs -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self._in += data

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event:
        if self._pending_rcpt is not None or self._pending_message is not None:
            return AwaitingAnswer()
        if self.closed:
            return Closed()
        if self._data_ended:
            self._data_ended = False
            return self._finish()
        if self._in_data:
            return self._data_event()
        end = self._in.find(b"\n")
        if end < 0:
            if len(self._in) > MAX_COMMAND_LINE:
                self._in.clear()
                self._queue(Reply(500, "5.5.2", "Line too long"))
            return NeedData()
        line = bytes(self._in[:end]).rstrip(b"\r")
        del self._in[: end + 1]
        if len(line) > MAX_COMMAND_LINE:
            return self._answer(Reply(500, "5.5.2", "Line too long"))
        return self._command(line.decode("utf-8", "replace"))

    # --- answers from the caller ---------------------------------------------------------

    def answer_recipient(self, reply: Reply) -> None:
        """The reply to the pending RCPT; a 2xx reply adds the recipient to the
        transaction."""
        if self._pending_rcpt is None or self._tx is None:
            raise RuntimeError("no recipient is waiting for an answer")
        if reply.ok:
            self._tx.recipients.append(self._pending_rcpt)
        self._pending_rcpt = None
        self._queue(reply)

    def answer_message(self, replies: list[Reply]) -> None:
        """One reply per accepted recipient, in RCPT order (RFC 2033 section 4.2)."""
        if self._pending_message is None:
            raise RuntimeError("no message is waiting for an answer")
        if len(replies) != len(self._pending_message):
            raise ValueError(
                f"{len(replies)} replies for {len(self._pending_message)} recipients"
            )
        for reply in replies:
            self._queue(reply)
        self._pending_message = None
        self._tx = None

    # --- commands ------------------------------------------------------------------------

    def _queue(self, reply: Reply) -> None:
        if reply.status:
            self._out += reply.encode()
        else:
            self._out += f"{reply.code} {reply.text}\r\n".encode()

    def _answer(self, reply: Reply) -> Event:
        self._queue(reply)
        return self.next_event()

    def _command(self, line: str) -> Event:
        verb, _, rest = line.strip().partition(" ")
        verb = verb.upper()
        if verb == "LHLO":
            return self._lhlo(rest.strip())
        if verb in ("HELO", "EHLO"):
            return self._answer(Reply(500, "5.5.1", "This is LMTP: use LHLO (RFC 2033)"))
        if verb == "QUIT":
            self._queue(Reply(221, "2.0.0", f"{self.hostname} closing connection"))
            self.closed = True
            return Closed()
        if verb == "NOOP":
            return self._answer(Reply(250, "2.0.0", "OK"))
        if verb == "RSET":
            had = self._tx is not None
            self._tx = None
            self._queue(Reply(250, "2.0.0", "OK"))
            return Reset() if had else self.next_event()
        if verb == "VRFY":
            return self._answer(Reply(252, "2.5.0", "Cannot verify; try RCPT"))
        if verb in ("MAIL", "RCPT", "DATA"):
            if not self._greeted:
                return self._answer(Reply(503, "5.5.1", "Say LHLO first"))
            return {"MAIL": self._mail, "RCPT": self._rcpt, "DATA": self._data}[verb](rest)
        if not verb:
            return self._answer(Reply(500, "5.5.2", "Empty command"))
        return self._answer(Reply(500, "5.5.1", f"Unknown command {verb[:20]}"))

    def _lhlo(self, domain: str) -> Event:
        """RFC 2033 section 4.1 with the extensions we implement (RFC 1869 style)."""
        if not domain:
            return self._answer(Reply(501, "5.5.4", "LHLO needs a domain"))
        had = self._tx is not None
        self._tx = None
        self._greeted = True
        lines = [self.hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"]
        lines.append(f"SIZE {self.max_message_size}" if self.max_message_size else "SIZE")
        for i, text in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            self._out += f"250{sep}{text}\r\n".encode()
        return Reset() if had else Hello(domain)

    def _mail(self, rest: str) -> Event:
        if self._tx is not None:
            return self._answer(Reply(503, "5.5.1", "Nested MAIL command"))
        parsed = parse_path(rest[5:]) if rest[:5].upper() == "FROM:" else None
        if parsed is None:
            return self._answer(Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"))
        sender, params = parsed
        size: int | None = None
        if "SIZE" in params:
            if not params["SIZE"].isdigit():
                return self._answer(Reply(501, "5.5.4", "Bad SIZE parameter"))
            size = int(params["SIZE"])
            if self.max_message_size and size > self.max_message_size:
                return self._answer(Reply(552, "5.3.4", "Message too big"))
        self._tx = _Transaction(sender)
        self._queue(Reply(250, "2.1.0", "Sender OK"))
        return Sender(sender, size)

    def _rcpt(self, rest: str) -> Event:
        if self._tx is None:
            return self._answer(Reply(503, "5.5.1", "Need MAIL before RCPT"))
        parsed = parse_path(rest[3:]) if rest[:3].upper() == "TO:" else None
        if parsed is None or not parsed[0]:
            return self._answer(Reply(501, "5.5.4", "Syntax: RCPT TO:<address>"))
        if len(self._tx.recipients) >= MAX_RECIPIENTS:
            return self._answer(Reply(452, "4.5.3", "Too many recipients"))
        self._pending_rcpt = parsed[0]
        return Recipient(parsed[0])

    def _data(self, rest: str) -> Event:
        if rest.strip():
            return self._answer(Reply(501, "5.5.4", "DATA takes no arguments"))
        if self._tx is None:
            return self._answer(Reply(503, "5.5.1", "Need MAIL before DATA"))
        if not self._tx.recipients:
            return self._answer(Reply(554, "5.5.1", "No valid recipients"))
        self._in_data = True
        self._line_start = True
        self._data_size = 0
        self._too_big = False
        self._queue(Reply(354, "", "Start mail input; end with <CRLF>.<CRLF>"))
        return self.next_event()

    # --- the message ---------------------------------------------------------------------

    def _data_event(self) -> Event:
        """Takes complete lines (or a long line's first part) off the buffer, removes
        dot-stuffing, and stops at the line holding only ``.``."""
        out = bytearray()
        while True:
            end = self._in.find(b"\n", 0, DATA_CHUNK)
            if end < 0:
                # No line end in reach. A line start is held until its line is complete
                # (it may be the final dot) unless it is already long; within a line,
                # what we have is passed on.
                if not self._in or (self._line_start and len(self._in) < DATA_CHUNK):
                    break
                piece = bytes(self._in[:DATA_CHUNK])
                del self._in[:DATA_CHUNK]
                if self._line_start and piece.startswith(b"."):
                    piece = piece[1:]
                out += piece
                self._line_start = False
                break
            line = bytes(self._in[: end + 1])
            del self._in[: end + 1]
            if self._line_start and line in (b".\r\n", b".\n"):
                self._in_data = False
                self._data_ended = True
                break
            if self._line_start and line.startswith(b"."):
                line = line[1:]
            out += line
            self._line_start = True
            if len(out) >= DATA_CHUNK:
                break
        if out:
            return self._take(bytes(out))
        return self.next_event() if self._data_ended else NeedData()

    def _take(self, data: bytes) -> Event:
        self._data_size += len(data)
        if self.max_message_size and self._data_size > self.max_message_size:
            self._too_big = True
        if self._too_big:
            return self.next_event()  # keep reading to the dot, drop the bytes
        return MessageData(data)

    def _finish(self) -> Event:
        assert self._tx is not None
        recipients = tuple(self._tx.recipients)
        self._pending_message = recipients
        return MessageEnd(self._tx.sender, recipients, self._too_big)
