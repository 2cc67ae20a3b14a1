"""The lexical layer of RFC 9051's formal syntax (section 9), for rev2grammar.py: a cursor
over one server response (its literals inline, as ``{n}\\r\\n`` followed by n octets) with
the terminals the productions are made of. Everything is strict: a byte outside the rule
raises GrammarError naming the offset, so a test can say where the server went wrong.
"""

from __future__ import annotations

import re

CTL = set(range(0x00, 0x20)) | {0x7F}
# atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
ATOM_SPECIALS = CTL | set(b'(){ %*"\\]')
NUMBER32 = 0xFFFFFFFF  # number: unsigned 32-bit (RFC 9051 section 9)
NUMBER63 = (1 << 63) - 1  # number64 and mod-sequence-value: 63 bits
OBJECTID = re.compile(rb"[A-Za-z0-9_-]{1,255}")  # RFC 8474 section 4


class GrammarError(ValueError):
    """A response that RFC 9051's grammar (with the extensions in use) does not produce."""

    def __init__(self, message: str, data: bytes, pos: int) -> None:
        self.pos = pos
        self.data = data
        around = data[max(0, pos - 30):pos] + b"<HERE>" + data[pos:pos + 30]
        super().__init__(f"{message} at offset {pos}: {around!r}")


class Cursor:
    """A position in one response and the terminals read from there."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, message: str) -> GrammarError:
        return GrammarError(message, self.data, self.pos)

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos:self.pos + n]

    def looking_at(self, word: bytes) -> bool:
        """Case-insensitive, as section 9 says of every literal token."""
        return self.peek(len(word)).upper() == word.upper()

    def accept(self, word: bytes) -> bool:
        if self.looking_at(word):
            self.pos += len(word)
            return True
        return False

    def expect(self, word: bytes) -> None:
        if not self.accept(word):
            raise self.fail(f"expected {word.decode()!r}")

    def sp(self) -> None:
        self.expect(b" ")

    def end(self) -> None:
        if not self.at_end():
            raise self.fail("unexpected data after the response")

    def keyword(self, *choices: bytes) -> bytes:
        """One of ``choices``, whole: the next byte may not continue an atom."""
        for word in sorted(choices, key=len, reverse=True):
            after = self.data[self.pos + len(word):self.pos + len(word) + 1]
            if self.looking_at(word) and (not after or after[0] in ATOM_SPECIALS
                                          or after in (b"[", b"<")):
                self.pos += len(word)
                return word
        raise self.fail("expected one of " + " ".join(c.decode() for c in choices))

    # -- atoms and numbers ------------------------------------------------------------

    def _run(self, allowed: set[int] | None, extra: bytes = b"") -> bytes:
        start = self.pos
        while not self.at_end():
            byte = self.data[self.pos]
            if byte >= 0x80 or (byte in ATOM_SPECIALS and byte not in extra):
                break
            self.pos += 1
        if allowed is not None:
            for i in range(start, self.pos):
                if self.data[i] not in allowed:
                    self.pos = i
                    raise self.fail("character not allowed here")
        return self.data[start:self.pos]

    def atom(self) -> bytes:
        """atom = 1*ATOM-CHAR."""
        value = self._run(None)
        if not value:
            raise self.fail("expected an atom")
        return value

    def digits(self) -> bytes:
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected a number")
        return self.data[start:self.pos]

    def number(self, limit: int = NUMBER32, nonzero: bool = False) -> int:
        start = self.pos
        text = self.digits()
        value = int(text)
        if nonzero and text[:1] == b"0":
            self.pos = start
            raise self.fail("expected nz-number")
        if value > limit:
            self.pos = start
            raise self.fail("number out of range")
        return value

    def nz_number(self, limit: int = NUMBER32) -> int:
        return self.number(limit, nonzero=True)

    def objectid(self) -> str:
        """objectid inside its parentheses (RFC 8474): EMAILID, THREADID, MAILBOXID."""
        self.expect(b"(")
        m = OBJECTID.match(self.data, self.pos)
        if not m:
            raise self.fail("expected an objectid")
        self.pos = m.end()
        self.expect(b")")
        return m.group().decode()

    # -- strings -------------------------------------------------------------------

    def quoted_char(self) -> bytes:
        """QUOTED-CHAR: a TEXT-CHAR but DQUOTE and backslash, an escaped one, or a
        UTF-8 character (UTF8-2/3/4: rev2 allows them, RFC 9051 section 9)."""
        byte = self.peek()
        if not byte:
            raise self.fail("unterminated quoted string")
        if byte == b"\\":
            nxt = self.data[self.pos + 1:self.pos + 2]
            if nxt not in (b'"', b"\\"):
                raise self.fail("bad escape in a quoted string")
            self.pos += 2
            return nxt
        if byte[0] >= 0x80:
            return self.utf8_char()
        if byte[0] in (0x0A, 0x0D, 0x00) or byte == b'"':
            raise self.fail("character not allowed in a quoted string")
        self.pos += 1
        return byte

    def utf8_char(self) -> bytes:
        lead = self.data[self.pos]
        size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else \
            4 if 0xF0 <= lead <= 0xF4 else 0
        chunk = self.data[self.pos:self.pos + size]
        try:
            if not size or len(chunk.decode("utf-8")) != 1:
                raise UnicodeDecodeError("utf-8", chunk, 0, 1, "bad")
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8") from None
        self.pos += size
        return chunk

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while self.peek() != b'"':
            out += self.quoted_char()
        self.pos += 1
        return bytes(out)

    def literal(self, eight: bool = False) -> bytes:
        """literal = "{" number64 "}" CRLF *CHAR8 (no "+" from a server); literal8 with
        ``~`` (RFC 9051 section 4.3, BINARY only) may hold NUL."""
        if eight:
            self.expect(b"~")
        self.expect(b"{")
        size = self.number(NUMBER63)
        if self.peek() == b"+":
            raise self.fail("a server may not send a non-synchronizing literal")
        self.expect(b"}\r\n")
        body = self.data[self.pos:self.pos + size]
        if len(body) != size:
            raise self.fail("literal shorter than announced")
        if not eight and b"\0" in body:
            self.pos += body.index(b"\0")
            raise self.fail("NUL in a literal (CHAR8 excludes it)")
        self.pos += size
        return body

    def string(self) -> bytes:
        if self.peek() == b'"':
            return self.quoted()
        if self.peek() == b"{":
            return self.literal()
        raise self.fail("expected a string")

    def nil(self) -> bool:
        return self.keyword_opt(b"NIL")

    def keyword_opt(self, word: bytes) -> bool:
        save = self.pos
        try:
            self.keyword(word)
            return True
        except GrammarError:
            self.pos = save
            return False

    def nstring(self) -> bytes | None:
        return None if self.nil() else self.string()

    def astring(self) -> bytes:
        """astring = 1*ASTRING-CHAR / string (ASTRING-CHAR adds "]" to ATOM-CHAR)."""
        if self.peek() in (b'"', b"{"):
            return self.string()
        value = self._run(None, extra=b"]")
        if not value:
            raise self.fail("expected an astring")
        return value

    def text(self) -> str:
        """text = 1*(TEXT-CHAR / UTF8-2 / UTF8-3 / UTF8-4), to the end of the line."""
        start = self.pos
        while not self.at_end():
            byte = self.data[self.pos]
            if byte >= 0x80:
                self.utf8_char()
            elif byte in (0x0A, 0x0D, 0x00):
                raise self.fail("CR, LF or NUL in text")
            else:
                self.pos += 1
        return self.data[start:].decode()

    def sequence_set(self, star: bool = True, dollar: bool = False) -> str:
        """sequence-set of seq-number / seq-range; ``star`` allows "*", ``dollar`` "$"."""
        if dollar and self.accept(b"$"):
            return "$"
        start = self.pos
        while True:
            self._seq_number(star)
            if self.accept(b":"):
                self._seq_number(star)
            if not self.accept(b","):
                return self.data[start:self.pos].decode()

    def _seq_number(self, star: bool) -> None:
        if star and self.accept(b"*"):
            return
        self.nz_number()

    def list_of(self, item: object, allow_empty: bool = True) -> list[object]:
        """ "(" [item *(SP item)] ")" with ``item`` a callable reading one element."""
        self.expect(b"(")
        out: list[object] = []
        if self.accept(b")"):
            if not allow_empty:
                self.pos -= 1
                raise self.fail("empty list")
            return out
        while True:
            out.append(item())  # type: ignore[operator]
            if self.accept(b")"):
                return out
            self.sp()
