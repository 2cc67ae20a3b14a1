"""A small blocking IMAP client that returns responses as parsed values, for comparing
two servers' answers structurally (RFC 3501 section 9 grammar, response side).

How this works: :class:`Conn` sends one command at a time (synchronising literals,
waiting for ``+``), reads response lines, pulls in ``{n}`` literals, and parses every
untagged response with :func:`parse_values` into Python values:

* ``None`` for NIL, ``bytes`` for a string (quoted and literal alike: they are two
  spellings of one value), :class:`Atom` for an atom or number, ``list`` for a
  parenthesised list;
* FETCH item names such as ``BODY[HEADER.FIELDS (FROM)]<0>`` are one atom, brackets
  and all.

It is deliberately independent of pyimapd's own protocol code, so the comparison does
not share a bug with the server under test.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

_LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r\n$")  # literal8 too (RFC 3516)


class Atom(str):
    """An atom or number as sent (kept distinct from strings)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str(self)!r})"


class IMAPError(RuntimeError):
    pass


@dataclass
class Reply:
    """The untagged responses (parsed) and the tagged status line of one command."""

    untagged: list[list[object]] = field(default_factory=list)
    status: str = ""
    text: str = ""

    def fetches(self) -> dict[int, dict[str, object]]:
        """``* n FETCH (...)`` responses: sequence number -> {ITEM NAME: value}."""
        out: dict[int, dict[str, object]] = {}
        for resp in self.untagged:
            if len(resp) == 3 and str(resp[1]).upper() == "FETCH":
                items = resp[2]
                assert isinstance(items, list)
                entry = out.setdefault(int(str(resp[0])), {})
                for i in range(0, len(items) - 1, 2):
                    entry[str(items[i]).upper()] = items[i + 1]
        return out

    def sort(self) -> list[int]:
        """The ``* SORT`` numbers in the order sent (the order is the result)."""
        for resp in self.untagged:
            if resp and str(resp[0]).upper() == "SORT":
                return [int(str(n)) for n in resp[1:]]
        raise IMAPError(f"no SORT response ({self.status} {self.text})")

    def search(self) -> list[int]:
        for resp in self.untagged:
            if resp and str(resp[0]).upper() == "SEARCH":
                return sorted(int(str(n)) for n in resp[1:])
        raise IMAPError(f"no SEARCH response ({self.status} {self.text})")


def _atom_end(data: bytes, i: int) -> int:
    """End of an atom starting at ``i``; a ``[`` runs to its ``]`` (section specs)."""
    n = len(data)
    while i < n:
        ch = data[i]
        if ch == 0x5B:  # "["
            close = data.find(b"]", i)
            i = n if close < 0 else close + 1
            continue
        if ch in b" ()\r\n":
            break
        i += 1
    return i


def parse_values(data: bytes, literals: list[bytes]) -> list[object]:
    """Parse a response (literals replaced by ``\\x00<index>\\x00`` markers)."""
    stack: list[list[object]] = [[]]
    i, n = 0, len(data)
    while i < n:
        ch = data[i]
        if ch in b" \r\n":
            i += 1
        elif ch == 0x28:
            stack.append([])
            i += 1
        elif ch == 0x29:
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif ch == 0x22:
            j, buf = i + 1, bytearray()
            while j < n and data[j] != 0x22:
                if data[j] == 0x5C and j + 1 < n:
                    j += 1
                buf.append(data[j])
                j += 1
            stack[-1].append(bytes(buf))
            i = j + 1
        elif ch == 0:
            j = data.index(b"\x00", i + 1)
            stack[-1].append(literals[int(data[i + 1 : j])])
            i = j + 1
        else:
            j = _atom_end(data, i)
            word = data[i:j].decode("utf-8", "surrogateescape")
            stack[-1].append(None if word.upper() == "NIL" else Atom(word))
            i = j
    while len(stack) > 1:  # unbalanced: keep what was read
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


class Conn:
    """One IMAP connection. ``timeout`` bounds every socket wait."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.tag = 0
        self.greeting = self._line()

    def close(self) -> None:
        try:
            self.command("LOGOUT")
        except (OSError, IMAPError):
            pass
        self.sock.close()

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[: end + 2], self.buf[end + 2 :]
                return line
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise IMAPError(f"connection closed (pending {self.buf[:200]!r})")
            self.buf += chunk

    def _exact(self, size: int) -> bytes:
        parts: list[bytes] = []
        have = min(size, len(self.buf))
        parts.append(self.buf[:have])
        self.buf = self.buf[have:]
        size -= have
        while size > 0:
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise IMAPError("connection closed inside a literal")
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def _response(self) -> tuple[bytes, list[bytes]]:
        """One whole response: text with literal markers, and the literals."""
        out, literals = bytearray(), []
        while True:
            line = self._line()
            m = _LITERAL.search(line)
            if m is None:
                out += line
                return bytes(out), literals
            out += line[: m.start()] + b"\x00%d\x00" % len(literals)
            literals.append(self._exact(int(m.group(1))))

    def command(self, *pieces: bytes | str) -> Reply:
        """Send a command made of text pieces and ``bytes`` literals; read its reply."""
        self.tag += 1
        tag = f"D{self.tag}".encode()
        line = tag + b" "
        for piece in pieces:
            if isinstance(piece, str):
                line += piece.encode("utf-8")
                continue
            self.sock.sendall(line + b"{%d}\r\n" % len(piece))
            self._wait_continuation()
            self.sock.sendall(piece)
            line = b""
        self.sock.sendall(line + b"\r\n")
        return self._collect(tag)

    def append_literal8(self, mailbox: str, data: bytes) -> Reply:
        """APPEND with the message as RFC 3516's ``literal8`` (``~{n}``)."""
        self.tag += 1
        tag = f"D{self.tag}".encode()
        self.sock.sendall(tag + f" APPEND {mailbox} ~{{{len(data)}}}\r\n".encode())
        self._wait_continuation()
        self.sock.sendall(data + b"\r\n")
        return self._collect(tag)

    def _wait_continuation(self) -> None:
        text, _ = self._response()
        if not text.startswith(b"+"):
            raise IMAPError(f"literal refused: {text!r}")

    def _collect(self, tag: bytes) -> Reply:
        reply = Reply()
        while True:
            text, literals = self._response()
            if text.startswith(b"* "):
                reply.untagged.append(parse_values(text[2:], literals))
            elif text.startswith(tag + b" "):
                status, _, rest = text[len(tag) + 1 :].partition(b" ")
                reply.status = status.decode().upper()
                reply.text = rest.decode("utf-8", "replace").strip()
                return reply

    def ok(self, *pieces: bytes | str) -> Reply:
        reply = self.command(*pieces)
        if reply.status != "OK":
            raise IMAPError(f"{pieces[:1]!r}...: {reply.status} {reply.text}")
        return reply

    def login(self, user: str, password: str) -> None:
        self.ok(f"LOGIN {user} {password}")
