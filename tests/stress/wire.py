"""A small asyncio IMAP client for the stress tests: send a command, collect its responses.

How this works: :meth:`Connection.read_response` reads one response, following literals
(``{n}`` at the end of a line means n more octets, then the line goes on), and
:func:`parse` splits it into tokens: atoms and numbers as ``str``, quoted strings and
literals as ``bytes``, parenthesised lists as ``list``. The client never interprets a
response itself; the model (:mod:`stress.model`) does.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
STATUS_WORDS = {b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"}
Token = str | bytes | list["Token"] | None


LINE_LIMIT = 16 * 1024 * 1024
"""Longest response line the checker reads."""


@dataclass
class Response:
    raw: bytes
    tag: str
    tokens: list[Token] = field(default_factory=list)

    @property
    def untagged(self) -> bool:
        return self.tag == "*"

    def status(self) -> str | None:
        """OK/NO/BAD/BYE/PREAUTH for a status response, else None."""
        head = self.tokens[0] if self.tokens else None
        if isinstance(head, str) and head.upper() in {"OK", "NO", "BAD", "BYE", "PREAUTH"}:
            return head.upper()
        return None

    def code(self) -> str | None:
        """The response code text inside ``[...]`` of a status response."""
        m = re.match(rb"\S+ (?:OK|NO|BAD|BYE) \[([^\]]*)\]", self.raw, re.I)
        return m.group(1).decode() if m else None


class ProtocolViolation(AssertionError):
    """The server sent something the client cannot read as IMAP."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._tags = 0

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 30.0) -> Connection:
        # A mailbox the stress grows to thousands of messages answers SEARCH ALL with a
        # line far over asyncio's 64 KiB default (one PostgreSQL run hit it).
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=LINE_LIMIT), timeout)
        conn = cls(reader, writer)
        greeting = await conn.read_response(timeout)
        if greeting.status() != "OK":
            raise ProtocolViolation(f"bad greeting {greeting.raw!r}")
        return conn

    def next_tag(self) -> str:
        self._tags += 1
        return f"t{self._tags}"

    async def expect(self, start: bytes, timeout: float = 5.0) -> Response:
        """Reads untagged responses (e.g. ``* 0 RECENT``) until one starting with
        ``start`` comes; a tagged response or ``+`` first is a failure."""
        seen = []
        while True:
            resp = await self.read_response(timeout=timeout)
            if resp.raw.startswith(start):
                return resp
            assert resp.tag == "*", (start, seen, resp.raw)
            seen.append(resp.raw)

    async def read_response(self, timeout: float = 30.0) -> Response:
        parts: list[bytes] = []
        while True:
            line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), timeout)
            parts.append(line)
            m = LITERAL.search(line)
            if m is None:
                break
            parts.append(await asyncio.wait_for(self.reader.readexactly(int(m.group(1))), timeout))
        raw = b"".join(parts)
        tag, _, rest = raw.partition(b" ")
        word = rest.split(b" ", 1)[0].rstrip(b"\r\n").upper()
        if word in STATUS_WORDS:  # human text follows: do not tokenise it
            return Response(raw, tag.decode(), [word.decode()])
        return Response(raw, tag.decode(), parse(rest))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def command(
        self, text: str, literal: bytes | None = None, timeout: float = 60.0
    ) -> tuple[list[Response], Response]:
        """Sends ``text`` (with one synchronising literal appended, for APPEND) and
        returns the untagged responses and the tagged one."""
        tag = self.next_tag()
        untagged: list[Response] = []
        if literal is None:
            self.send(f"{tag} {text}\r\n".encode())
        else:
            self.send(f"{tag} {text} {{{len(literal)}}}\r\n".encode())
            while True:
                resp = await self.read_response(timeout)
                if resp.tag == "+":
                    break
                if resp.tag == tag:
                    return untagged, resp
                untagged.append(resp)
            self.send(literal + b"\r\n")
        while True:
            resp = await self.read_response(timeout)
            if resp.tag == tag:
                return untagged, resp
            if resp.tag != "*":
                raise ProtocolViolation(f"response with a foreign tag: {resp.raw!r}")
            untagged.append(resp)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


_TOKEN = re.compile(
    rb"\s*(?:(\()|(\))"  # ( and )
    rb'|"((?:[^"\\]|\\.)*)"'  # a quoted string
    rb"|\{(\d+)\+?\}\r\n"  # a literal
    rb"|(\[[^\]]*\])"  # a response code
    rb'|([^\s()\[\]"]+(?:\[[^\]]*\](?:<[\d.]+>)?)?))'  # an atom, maybe BODY[...]<n>
)


def parse(data: bytes) -> list[Token]:
    """Tokenises the rest of a response after its tag (see the module docstring)."""
    stack: list[list[Token]] = [[]]
    pos = 0
    data = data.rstrip(b"\r\n")
    while pos < len(data):
        m = _TOKEN.match(data, pos)
        if m is None or m.end() == pos:
            if data[pos:].strip() == b"":
                break
            raise ProtocolViolation(f"cannot tokenise {data[pos:pos + 60]!r}")
        pos = m.end()
        opened, closed, quoted, literal, code, atom = m.groups()
        if opened:
            stack.append([])
        elif closed:
            if len(stack) == 1:
                raise ProtocolViolation(f"unbalanced ) in {data!r}")
            done = stack.pop()
            stack[-1].append(done)
        elif quoted is not None:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted))
        elif literal is not None:
            n = int(literal)
            stack[-1].append(data[pos : pos + n])
            pos += n
        elif code is not None:
            stack[-1].append(code.decode())
        elif atom is not None:
            text = atom.decode("utf-8", "replace")
            stack[-1].append(None if text.upper() == "NIL" else text)
    if len(stack) != 1:
        raise ProtocolViolation(f"unbalanced ( in {data!r}")
    return stack[0]
