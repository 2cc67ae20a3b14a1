"""Tokens of RFC 5228 section 8.1 (lexical tokens), with their line and column.

Strings are kept as written, without ``encoded-character`` decoding (that depends on
``require``, so the checker does it, RFC 5228 section 2.4.2.4) and without variable
expansion (which happens at run time, RFC 5229 section 3).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import Enum

from pyimapd.sieve.errors import Diagnostic, SieveError
from pyimapd.sieve.limits import MAX_SCRIPT_SIZE


class Kind(Enum):
    IDENTIFIER = "identifier"
    TAG = "tag"
    NUMBER = "number"
    STRING = "string"
    LBRACKET = "'['"
    RBRACKET = "']'"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    SEMICOLON = "';'"
    EOF = "end of script"


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str | int
    line: int
    column: int
    multiline: bool = False
    """For strings: written as ``text:`` (RFC 5228 section 2.4.2)."""


MAX_NUMBER = 2**63 - 1
"""Numbers past this are errors rather than silently wrapped (RFC 5228 section 2.4.1
only requires 2^31)."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+([KkMmGg]?)")
_QUANTIFIER = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_PUNCT = {"[": Kind.LBRACKET, "]": Kind.RBRACKET, "(": Kind.LPAREN, ")": Kind.RPAREN,
          "{": Kind.LBRACE, "}": Kind.RBRACE, ",": Kind.COMMA, ";": Kind.SEMICOLON}
_MULTILINE_START = re.compile(r"(?i)text:[ \t]*(#[^\n]*)?\r?\n")


class Lexer:
    """Turns script text into tokens; the first lexical error stops it (there is no
    sensible way to go on inside a broken string)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def _error(self, message: str, pos: int | None = None) -> SieveError:
        line, column = self.position(self.pos if pos is None else pos)
        return SieveError([Diagnostic(line, column, message)])

    def position(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, pos)
        return line, pos - self._line_starts[line - 1] + 1

    def tokens(self) -> list[Token]:
        if len(self.text) > MAX_SCRIPT_SIZE:
            raise SieveError([Diagnostic(1, 1, f"script is longer than {MAX_SCRIPT_SIZE} "
                                               "characters")])
        out: list[Token] = []
        while True:
            token = self._next()
            out.append(token)
            if token.kind is Kind.EOF:
                return out

    def _skip_white(self) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self._error("unterminated comment")
                self.pos = end + 2
            else:
                return

    def _next(self) -> Token:
        self._skip_white()
        text = self.text
        start = self.pos
        line, column = self.position(start)
        if start >= len(text):
            return Token(Kind.EOF, "", line, column)
        c = text[start]
        if c in _PUNCT:
            self.pos += 1
            return Token(_PUNCT[c], c, line, column)
        if c == '"':
            return Token(Kind.STRING, self._quoted(), line, column)
        if c == ":":
            m = _IDENT.match(text, start + 1)
            if not m:
                raise self._error("':' must be followed by a tag name")
            self.pos = m.end()
            return Token(Kind.TAG, m.group().lower(), line, column)
        if c.isdigit():
            m = _NUMBER.match(text, start)
            assert m
            self.pos = m.end()
            if self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] == "_"):
                raise self._error("a number must not run into a word", self.pos)
            digits = m.group()[: len(m.group()) - len(m.group(1))]
            value = int(digits) * _QUANTIFIER[m.group(1).lower()]
            if value > MAX_NUMBER:
                raise self._error(f"number {m.group()} is too large", start)
            return Token(Kind.NUMBER, value, line, column)
        m = _MULTILINE_START.match(text, start)
        if m:
            self.pos = m.end()
            return Token(Kind.STRING, self._multiline(start), line, column, multiline=True)
        m = _IDENT.match(text, start)
        if m:
            self.pos = m.end()
            if m.group().lower() == "text" and text.startswith(":", m.end()):
                raise self._error("'text:' must be followed by the end of the line", start)
            return Token(Kind.IDENTIFIER, m.group().lower(), line, column)
        raise self._error(f"unexpected character {c!r}")

    def _quoted(self) -> str:
        """RFC 5228 section 2.4.2: ``\\\\`` and ``\\"`` are escapes; any other backslash
        is dropped, keeping the character after it."""
        text = self.text
        i = self.pos + 1
        out: list[str] = []
        while True:
            if i >= len(text):
                raise self._error("unterminated string", self.pos)
            c = text[i]
            if c == '"':
                self.pos = i + 1
                return "".join(out)
            if c == "\\":
                if i + 1 >= len(text):
                    raise self._error("unterminated string", self.pos)
                out.append(text[i + 1])
                i += 2
                continue
            out.append(c)
            i += 1

    def _multiline(self, start: int) -> str:
        """RFC 5228 section 8.1 ``multi-line``: lines up to a line holding only ``.``;
        a leading ``.`` is removed when another ``.`` follows it (``multiline-dotstart``:
        dot-stuffing), any other line stays as written. Line ends become CRLF, as in a
        message."""
        text = self.text
        out: list[str] = []
        pos = self.pos
        while True:
            if pos >= len(text):
                raise self._error("unterminated multi-line string (missing '.' line)", start)
            end = text.find("\n", pos)
            if end < 0:
                raw = text[pos:]
                nxt = len(text)
            else:
                raw = text[pos:end]
                nxt = end + 1
            line = raw[:-1] if raw.endswith("\r") else raw
            if line == ".":
                self.pos = nxt
                return "".join(out)
            if end < 0:
                raise self._error("unterminated multi-line string (missing '.' line)", start)
            if line.startswith(".."):
                line = line[1:]
            out.append(line + "\r\n")
            pos = nxt
