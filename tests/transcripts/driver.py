r"""Replay ``*.imap`` transcript files against a live IMAP server.

How this works: a transcript is parsed into steps (send bytes, expect lines, set-up
actions).  The steps are run in file order over one or more client sockets ("sessions")
to a real server on loopback.  Every line the server sends must be accounted for: each
expected line is compared with the next line received on that session, and at the end a
session must have no unread data left.  A mismatch raises TranscriptMismatch with the file
and line, what was expected, what came, and the last lines of the exchange.

Transcript format (one item per line)
-------------------------------------
``# ...`` and blank lines are comments.

Client lines (``N`` is an optional session number, default 1; a session is connected
the first time it is named, so its first expected line is the greeting):

``CN: text``   send ``text`` + CRLF.  If the text ends in a literal ``{n}``/``{n+}``, the
               ``C|``/``C>`` lines that follow are its data; ``n`` is checked against
               them, and ``{#}``/``{#+}`` asks the driver to fill in the count.  A
               synchronising literal needs the server's ``+`` written as an ``S`` line
               between the ``C:`` line and its data.  The next ``CN:`` line sends the rest
               of the command (``CN:`` alone sends just CRLF).
``CN| text``   literal data: ``text`` + CRLF.
``CN> text``   literal data: ``text`` with no line ending.

Server lines (each matches one CRLF-terminated line; a response with literals is
matched as the lines its bytes make, as RFC 3501 section 8 prints them):

``SN: text``   the line must equal ``text`` exactly.
``SN~ regex``  the line must match ``regex`` in full (Python ``re.fullmatch``).
``SN% text``   exact text except for ``{{regex}}`` holes, e.g.
               ``S% * OK [UIDVALIDITY {{\d+}}] UIDs valid``.
``SN? regex``  an optional continuation request before a literal: if the next line
               matches, it is consumed and the literal is sent; if not (the server
               refused the command at once, as RFC 3501 section 7.5 allows), the line is
               kept for the next expectation and the literal data and the rest of that
               command are not sent.
``SN+ text``   continues the previous C or S line: ``text`` is appended verbatim
               (one space after ``+`` is the separator; write two to append a space).
``SN[`` ... ``SN]``  the expected lines between them may come in any order.
``SN{`` ... ``SN|`` ... ``SN}``  alternatives: the lines received must match one of
               the sequences separated by ``SN|`` (for choices the RFC leaves open, such
               as the order of FETCH items).

In ``S~`` and ``S%`` patterns a named group ``(?P<name>...)`` saves what it matched, and
``${name}`` in any later C or S line stands for it (escaped inside patterns); e.g.
``S% * 1 FETCH (UID {{(?P<u1>\d+)}})`` then ``C: a2 UID FETCH ${u1} FLAGS``.  In ``S%``
a hole ``{{flags:\Seen \Flagged}}`` matches those words in any order, and a leading
``(?i) `` makes the whole line match without regard to case.

Directives:

``%user NAME PASSWORD``   account used by the set-up directives below.
``%create MAILBOX`` / ``%subscribe MAILBOX``   done on a set-up connection.
``%append MAILBOX [(FLAGS)] ["DATE-TIME"] FILE [xCOUNT]``   APPEND the message in
               ``messages/FILE`` (LF line ends become CRLF), COUNT times, from a set-up
               connection that never selects, so the messages stay \Recent.
``%select MAILBOX``   a separate connection SELECTs the mailbox and logs out: this
               claims \Recent for everything in it (RFC 3501 section 2.3.2).
``%ignore REGEX``   from here on, server lines matching REGEX are dropped (all sessions);
               ``%ignore@N REGEX`` does so for session N only.
``%unignore``   forget all ``%ignore`` patterns.
``%long N LENGTH PREFIX``   send PREFIX padded with ``x`` to LENGTH octets, then CRLF.
``%closed N``   the server must close session N (after any expected lines).
``%discard N``  close session N without checking for unread data.

Set-up directives run where they appear, so a ``%append`` in the middle of a transcript
is a message arriving from elsewhere (for unilateral EXISTS/RECENT).

Environment: ``PYIMAPD_TRANSCRIPT_TIMEOUT`` (seconds per expected line, default 10);
``PYIMAPD_TRANSCRIPT_LOOSE=1`` compares status responses (``tag OK ...``,
``* OK [CODE] ...``) only up to their response code, for checking transcripts against
another server by hand; ``PYIMAPD_TRANSCRIPT_IGNORE=REGEX`` drops server lines matching
it everywhere (e.g. another server's extra untagged lines), for the same purpose.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MESSAGES_DIR = HERE / "messages"
CRLF = b"\r\n"
LITERAL_RE = re.compile(rb"\{(\d+)\+?\}$")
CLIENT_LITERAL_RE = re.compile(r"\{(\d+|#)(\+?)\}$")
LINE_RE = re.compile(r"^([CS])(\d*)([:|>~%+?\[\]{}])(?: (.*))?$")
VAR_RE = re.compile(r"\$\{(\w+)\}")
HOLE_RE = re.compile(r"\{\{(.+?)\}\}(?!\})")
STATUS_RE = re.compile(r"^(\S+ (?:OK|NO|BAD|BYE|PREAUTH))(?: (\[[^\]]*\]))?")
HISTORY = 40


def timeout() -> float:
    return float(os.environ.get("PYIMAPD_TRANSCRIPT_TIMEOUT", "10"))


class TranscriptError(Exception):
    """The transcript file itself is malformed."""


class TranscriptMismatch(AssertionError):
    """The server did not answer as the transcript says."""


# --- expectations --------------------------------------------------------------------


@dataclass
class Expect:
    kind: str  # ":" exact, "~" regex, "%" template
    text: str
    lineno: int

    def pattern(self, variables: dict[str, str]) -> re.Pattern[str]:
        if self.kind == "~":
            return re.compile(VAR_RE.sub(lambda m: re.escape(lookup(variables, m)), self.text))
        text, flags = self.text, 0
        if text.startswith("(?i) "):
            text, flags = text[5:], re.IGNORECASE
        parts = HOLE_RE.split(text)
        out = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                out.append(re.escape(VAR_RE.sub(lambda m: lookup(variables, m), part)))
            elif part.startswith("flags:"):
                words = [re.escape(w) for w in part[6:].split()]
                perms = [" ".join(p) for p in itertools.permutations(words)]
                out.append("(?:" + "|".join(perms) + ")")
            else:
                out.append(f"(?:{VAR_RE.sub(lambda m: re.escape(lookup(variables, m)), part)})")
        return re.compile("".join(out), flags)

    def matches(self, line: str, loose: bool, variables: dict[str, str]) -> bool:
        if self.kind == ":":
            want = VAR_RE.sub(lambda m: lookup(variables, m), self.text)
            if line == want:
                return True
        else:
            m = self.pattern(variables).fullmatch(line)
            if m:
                variables.update({k: v for k, v in m.groupdict().items() if v is not None})
                return True
        if loose and self.kind in ":%":
            want_m = STATUS_RE.match(self.text)
            got_m = STATUS_RE.match(line)
            if want_m and got_m and want_m.group(1).upper() == got_m.group(1).upper():
                want_code = (want_m.group(2) or "").split(" ")[0].upper()
                got_code = (got_m.group(2) or "").split(" ")[0].upper()
                return not want_code or want_code == got_code
        return False

    def describe(self) -> str:
        marker = {":": "S:", "~": "S~", "%": "S%"}[self.kind]
        return f"line {self.lineno}: {marker} {self.text}"


def lookup(variables: dict[str, str], m: re.Match[str]) -> str:
    try:
        return variables[m.group(1)]
    except KeyError:
        raise TranscriptError(f"${{{m.group(1)}}} used before any pattern saved it") from None


# --- steps ---------------------------------------------------------------------------


@dataclass
class Send:
    session: int
    data: bytearray
    lineno: int
    literal: bool = False  # literal data, or the rest of the command after a literal


@dataclass
class ExpectLines:
    session: int
    lines: list[Expect]
    unordered: bool
    lineno: int
    alternatives: list[list[Expect]] | None = None
    optional: bool = False


@dataclass
class Directive:
    name: str
    args: str
    lineno: int


Step = Send | ExpectLines | Directive


@dataclass
class _PendingLiteral:
    send: Send
    declared: str  # digits or "#"
    plus: str
    data: bytearray = field(default_factory=bytearray)
    lineno: int = 0


def parse(text: str, name: str = "<transcript>") -> list[Step]:
    """Turn transcript text into steps; raise TranscriptError on malformed input."""
    steps: list[Step] = []
    pending: dict[int, _PendingLiteral] = {}
    group: ExpectLines | None = None
    last: Send | Expect | None = None

    def close_literal(session: int) -> None:
        lit = pending.pop(session, None)
        if lit is None or not lit.data:
            return
        size = len(lit.data)
        if lit.declared == "#":
            marker = f"{{#{lit.plus}}}".encode()
            idx = lit.send.data.rindex(marker)
            lit.send.data[idx : idx + len(marker)] = f"{{{size}{lit.plus}}}".encode()
        elif int(lit.declared) != size:
            raise TranscriptError(
                f"{name}:{lit.lineno}: literal declared {{{lit.declared}}} but its "
                f"data is {size} octets"
            )

    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith("%"):
            if group is not None:
                raise TranscriptError(f"{name}:{lineno}: directive inside an unordered block")
            dname, _, args = raw[1:].partition(" ")
            steps.append(Directive(dname, args.strip(), lineno))
            last = None
            continue
        m = LINE_RE.match(raw)
        if m is None:
            raise TranscriptError(f"{name}:{lineno}: cannot parse {raw!r}")
        if m.group(1) == "C" and m.group(3) in "[]{}~%":
            raise TranscriptError(f"{name}:{lineno}: C{m.group(3)} is not a client line")
        side, num, marker, body = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        session = int(num) if num else 1
        if side == "C":
            if marker == ":":
                tail = session in pending
                close_literal(session)
                send = Send(session, bytearray(body.encode() + CRLF), lineno, literal=tail)
                steps.append(send)
                last = send
                lm = CLIENT_LITERAL_RE.search(body)
                if lm:
                    pending[session] = _PendingLiteral(
                        send, lm.group(1), lm.group(2), lineno=lineno
                    )
            elif marker in "|>":
                lit = pending.get(session)
                if lit is None:
                    raise TranscriptError(f"{name}:{lineno}: literal data without a literal")
                data = body.encode() + (CRLF if marker == "|" else b"")
                lit.data += data
                steps.append(Send(session, bytearray(data), lineno, literal=True))
                last = None
            elif marker == "+":
                if not isinstance(last, Send):
                    raise TranscriptError(f"{name}:{lineno}: C+ does not follow a C: line")
                last.data[-2:] = body.encode() + CRLF
                lm = CLIENT_LITERAL_RE.search(last.data[:-2].decode())
                if lm:
                    pending[session] = _PendingLiteral(
                        last, lm.group(1), lm.group(2), lineno=lineno
                    )
            else:
                raise TranscriptError(f"{name}:{lineno}: C{marker} is not a client line")
            continue
        # server side
        if marker in "{|}":
            if marker == "{":
                if group is not None:
                    raise TranscriptError(f"{name}:{lineno}: nested block")
                group = ExpectLines(session, [], False, lineno, alternatives=[])
            elif group is None or group.alternatives is None or group.session != session:
                raise TranscriptError(f"{name}:{lineno}: S{marker} outside an S{{ block")
            elif marker == "|":
                group.alternatives.append(group.lines)
                group.lines = []
            else:
                group.alternatives.append(group.lines)
                group.lines = []
                steps.append(group)
                group = None
            last = None
            continue
        if marker == "[":
            if group is not None:
                raise TranscriptError(f"{name}:{lineno}: nested block")
            group = ExpectLines(session, [], True, lineno)
            last = None
            continue
        if marker == "]":
            if group is None or not group.unordered or group.session != session:
                raise TranscriptError(f"{name}:{lineno}: S] without a matching S[")
            steps.append(group)
            group = None
            continue
        if marker == "+":
            if not isinstance(last, Expect):
                raise TranscriptError(f"{name}:{lineno}: S+ does not follow an S line")
            last.text += body
            continue
        if marker == "?":
            if group is not None:
                raise TranscriptError(f"{name}:{lineno}: S? inside a block")
            exp = Expect("~", body, lineno)
            steps.append(ExpectLines(session, [exp], False, lineno, optional=True))
            last = None
            continue
        if marker not in ":~%":
            raise TranscriptError(f"{name}:{lineno}: S{marker} is not a server line")
        exp = Expect(marker, body, lineno)
        last = exp
        if group is not None:
            if group.session != session:
                raise TranscriptError(f"{name}:{lineno}: other session inside a block")
            group.lines.append(exp)
        else:
            steps.append(ExpectLines(session, [exp], False, lineno))
    for session in list(pending):
        close_literal(session)
    for step in steps:
        if isinstance(step, ExpectLines):
            for e in [x for alt in step.alternatives or [step.lines] for x in alt]:
                if e.kind == ":" and "{{" in e.text:
                    raise TranscriptError(f"{name}:{e.lineno}: '{{{{' in an S: line (S%?)")
    if group is not None:
        raise TranscriptError(f"{name}: unordered block opened at line {group.lineno} not closed")
    return steps


# --- sessions ------------------------------------------------------------------------


class Connection:
    """A client socket that yields the server's lines, reading literals by their count."""

    def __init__(self, host: str, port: int, label: str, history: deque[str]) -> None:
        self.label = label
        self.history = history
        self.sock = socket.create_connection((host, port), timeout=timeout())
        self.sock.settimeout(timeout())
        self.buf = b""
        self.lines: deque[str] = deque()
        self.eof = False

    def send(self, data: bytes) -> None:
        for piece in data.split(CRLF)[:-1] if data.endswith(CRLF) else [data]:
            self.history.append(f"{self.label} C: {piece.decode(errors='replace')}")
        self.sock.sendall(data)

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError as exc:
            raise TimeoutError(f"no data from the server within {timeout()}s") from exc
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise EOFError("the server closed the connection")
        self.buf += chunk

    def _read_line_bytes(self) -> bytes:
        while CRLF not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_response(self) -> None:
        """Read one whole response (line, literals, rest) and queue its physical lines."""
        parts = [self._read_line_bytes()]
        while (m := LITERAL_RE.search(parts[-1])) is not None:
            literal = self._read_exact(int(m.group(1)))
            parts[-1] += CRLF + literal + self._read_line_bytes()
        for piece in parts[0].split(CRLF):
            text = piece.decode("utf-8", errors="replace")
            self.lines.append(text)
            self.history.append(f"{self.label} S: {text}")

    def next_line(self, ignore: list[re.Pattern[str]]) -> str:
        while True:
            if not self.lines:
                self._read_response()
            line = self.lines.popleft()
            if not any(p.fullmatch(line) for p in ignore):
                return line

    def leftover(self, ignore: list[re.Pattern[str]]) -> list[str]:
        """Lines already received but never expected (no waiting for more)."""
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := self.sock.recv(65536):
                self.buf += chunk
        rest = list(self.lines) + [p.decode(errors="replace") for p in self.buf.split(CRLF) if p]
        return [line for line in rest if not any(p.fullmatch(line) for p in ignore)]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class SetupClient:
    """A minimal client for the set-up directives; it never SELECTs."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.conn = Connection(host, port, "setup", deque(maxlen=HISTORY))
        self.counter = 0
        self.conn.next_line([])  # greeting
        self.command(f"LOGIN {quote(user)} {quote(password)}")

    def command(self, line: str, literal: bytes | None = None) -> list[str]:
        self.counter += 1
        tag = f"s{self.counter}"
        self.conn.send(f"{tag} {line}".encode() + CRLF)
        if literal is not None:
            reply = self.conn.next_line([])
            if not reply.startswith("+"):
                raise TranscriptMismatch(f"set-up {line!r}: expected '+', got {reply!r}")
            self.conn.send(literal + CRLF)
        got: list[str] = []
        while True:
            reply = self.conn.next_line([])
            got.append(reply)
            if reply.startswith(tag + " "):
                if not reply.startswith(f"{tag} OK"):
                    raise TranscriptMismatch(f"set-up {line!r} failed: {got}")
                return got

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.command("LOGOUT")
        self.conn.close()


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_message(name: str) -> bytes:
    data = (MESSAGES_DIR / name).read_bytes()
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


APPEND_RE = re.compile(r'^(\S+)(?: (\([^)]*\)))?(?: ("[^"]*"))? (\S+)(?: x(\d+))?$')


class Runner:
    def __init__(self, host: str, port: int, name: str) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.loose = os.environ.get("PYIMAPD_TRANSCRIPT_LOOSE") == "1"
        self.history: deque[str] = deque(maxlen=HISTORY)
        self.sessions: dict[int, Connection] = {}
        extra = os.environ.get("PYIMAPD_TRANSCRIPT_IGNORE")
        self.base_ignore: list[re.Pattern[str]] = [re.compile(extra)] if extra else []
        self.ignore: list[re.Pattern[str]] = []
        self.user: tuple[str, str] | None = None
        self.setup: SetupClient | None = None
        self.variables: dict[str, str] = {}
        self.skip_literal: set[int] = set()
        self.session_ignore: dict[int, list[re.Pattern[str]]] = {}

    def session(self, n: int) -> Connection:
        if n not in self.sessions:
            self.sessions[n] = Connection(self.host, self.port, f"[{n}]", self.history)
        return self.sessions[n]

    def fail(self, lineno: int, message: str) -> TranscriptMismatch:
        log = "\n".join(f"    {h}" for h in self.history)
        return TranscriptMismatch(
            f"{self.name}:{lineno}: {message}\n  exchange so far (last {HISTORY} lines):\n{log}"
        )

    def run(self, steps: list[Step]) -> None:
        try:
            for step in steps:
                if isinstance(step, Send):
                    if step.literal and step.session in self.skip_literal:
                        continue  # the server refused before the literal: never send it
                    self.skip_literal.discard(step.session)
                    data = bytes(step.data)
                    if b"${" in data:
                        data = VAR_RE.sub(
                            lambda m: lookup(self.variables, m), data.decode()
                        ).encode()
                    self.session(step.session).send(data)
                elif isinstance(step, ExpectLines):
                    self.expect(step)
                else:
                    self.directive(step)
            for n, conn in sorted(self.sessions.items()):
                extra = conn.leftover(self.ignored(n))
                if extra:
                    raise self.fail(0, f"session {n}: unexpected lines at the end: {extra!r}")
        finally:
            for conn in self.sessions.values():
                conn.close()
            if self.setup is not None:
                self.setup.close()

    def ignored(self, n: int) -> list[re.Pattern[str]]:
        return self.base_ignore + self.ignore + self.session_ignore.get(n, [])

    def read(self, n: int, lineno: int, wanted: str) -> str:
        try:
            return self.session(n).next_line(self.ignored(n))
        except (TimeoutError, EOFError, OSError) as exc:
            raise self.fail(lineno, f"session {n}: {exc} while expecting {wanted}") from exc

    def expect(self, step: ExpectLines) -> None:
        if step.optional:
            exp = step.lines[0]
            line = self.read(step.session, exp.lineno, exp.describe())
            if not exp.matches(line, self.loose, self.variables):
                self.session(step.session).lines.appendleft(line)
                self.skip_literal.add(step.session)
            return
        if step.alternatives is not None:
            self.expect_alternatives(step)
            return
        if not step.unordered:
            exp = step.lines[0]
            line = self.read(step.session, exp.lineno, exp.describe())
            if not exp.matches(line, self.loose, self.variables):
                raise self.fail(exp.lineno, f"expected\n    {exp.describe()}\n  got\n    {line}")
            return
        remaining = list(step.lines)
        while remaining:
            line = self.read(step.session, step.lineno, "an unordered block")
            hit = next((e for e in remaining if e.matches(line, self.loose, self.variables)), None)
            if hit is None:
                wanted = "\n    ".join(e.describe() for e in remaining)
                raise self.fail(step.lineno, f"got\n    {line}\n  expected one of\n    {wanted}")
            remaining.remove(hit)

    def expect_alternatives(self, step: ExpectLines) -> None:
        assert step.alternatives is not None
        candidates = list(step.alternatives)
        got: list[str] = []
        while True:
            for cand in candidates:
                if len(cand) == len(got):
                    scratch = dict(self.variables)
                    if all(
                        e.matches(g, self.loose, scratch) for e, g in zip(cand, got, strict=True)
                    ):
                        self.variables = scratch
                        return
            line = self.read(step.session, step.lineno, "one of the alternatives")
            got.append(line)
            n = len(got)
            candidates = [
                c
                for c in candidates
                if len(c) >= n and c[n - 1].matches(line, self.loose, dict(self.variables))
            ]
            if not candidates:
                alts = "\n  or\n".join(
                    "\n".join(f"    {e.describe()}" for e in alt) for alt in step.alternatives
                )
                shown = "\n".join(f"    {g}" for g in got)
                raise self.fail(step.lineno, f"got\n{shown}\n  expected\n{alts}")

    def setup_client(self, lineno: int) -> SetupClient:
        if self.user is None:
            raise TranscriptError(f"{self.name}:{lineno}: set-up directive before %user")
        if self.setup is None:
            self.setup = SetupClient(self.host, self.port, *self.user)
        return self.setup

    def directive(self, d: Directive) -> None:
        if d.name.startswith("ignore@"):
            n = int(d.name.partition("@")[2])
            self.session_ignore.setdefault(n, []).append(re.compile(d.args))
            return
        handler = {
            "user": self.d_user,
            "create": self.d_simple,
            "subscribe": self.d_simple,
            "append": self.d_append,
            "select": self.d_select,
            "ignore": self.d_ignore,
            "unignore": self.d_unignore,
            "long": self.d_long,
            "closed": self.d_closed,
            "discard": self.d_discard,
        }.get(d.name)
        if handler is None:
            raise TranscriptError(f"{self.name}:{d.lineno}: unknown directive %{d.name}")
        handler(d)

    def d_user(self, d: Directive) -> None:
        user, _, password = d.args.partition(" ")
        if self.setup is not None:
            self.setup.close()
            self.setup = None
        self.user = (user, password)

    def d_simple(self, d: Directive) -> None:
        self.setup_client(d.lineno).command(f"{d.name.upper()} {d.args}")

    def d_append(self, d: Directive) -> None:
        m = APPEND_RE.match(d.args)
        if m is None:
            raise TranscriptError(f"{self.name}:{d.lineno}: bad %append {d.args!r}")
        mailbox, flags, date, fname, count = m.groups()
        body = load_message(fname)
        head = " ".join(x for x in (mailbox, flags, date) if x)
        client = self.setup_client(d.lineno)
        for _ in range(int(count or 1)):
            client.command(f"APPEND {head} {{{len(body)}}}", literal=body)

    def d_select(self, d: Directive) -> None:
        if self.user is None:
            raise TranscriptError(f"{self.name}:{d.lineno}: %select before %user")
        other = SetupClient(self.host, self.port, *self.user)
        try:
            other.command(f"SELECT {d.args}")
        finally:
            other.close()

    def d_ignore(self, d: Directive) -> None:
        self.ignore.append(re.compile(d.args))

    def d_unignore(self, d: Directive) -> None:
        self.ignore.clear()
        self.session_ignore.clear()

    def d_long(self, d: Directive) -> None:
        num, length, prefix = d.args.split(" ", 2)
        data = prefix.encode().ljust(int(length), b"x") + CRLF
        conn = self.session(int(num))
        self.history.append(f"{conn.label} C: {prefix}xxx... ({length} octets)")
        try:
            conn.sock.sendall(data)
        except OSError as exc:  # the server may hang up part-way: that is a refusal too
            self.history.append(f"{conn.label} (send stopped: {exc})")

    def d_closed(self, d: Directive) -> None:
        n = int(d.args or "1")
        conn = self.session(n)
        try:
            line = conn.next_line(self.ignored(n))
        except EOFError:
            return
        except (TimeoutError, OSError) as exc:
            raise self.fail(d.lineno, f"session {n} was not closed by the server: {exc}") from exc
        raise self.fail(d.lineno, f"session {n}: expected the server to close, got {line!r}")

    def d_discard(self, d: Directive) -> None:
        n = int(d.args or "1")
        conn = self.sessions.pop(n, None)
        if conn is not None:
            conn.close()


def run_transcript(path: Path, host: str, port: int) -> None:
    steps = parse(path.read_text(), path.name)
    Runner(host, port, path.name).run(steps)
