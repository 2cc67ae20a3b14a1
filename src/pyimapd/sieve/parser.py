"""The syntax tree of RFC 5228 section 8.2 and its recursive-descent parser.

The tree is purely syntactic: commands and tests with their arguments in the order
written. What the arguments mean (which are tags of which command, whether a string
is a mailbox or a header name) is the checker's business (:mod:`.checker`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyimapd.sieve.errors import Diagnostic, SieveError
from pyimapd.sieve.lexer import Kind, Lexer, Token
from pyimapd.sieve.limits import MAX_NESTING, MAX_SCRIPT_SIZE


@dataclass(frozen=True)
class Tag:
    name: str
    """Without the colon, lower case (tags are case-insensitive, RFC 5228 2.6.2)."""
    line: int
    column: int


@dataclass(frozen=True)
class Number:
    value: int
    line: int
    column: int


@dataclass(frozen=True)
class StringList:
    """A string or a bracketed list of strings; ``is_list`` tells them apart because
    a command that takes one string must reject ``["a"]`` (RFC 5228 section 2.4.2)."""

    values: tuple[str, ...]
    is_list: bool
    line: int
    column: int


Argument = Tag | Number | StringList


@dataclass
class Test:
    name: str
    arguments: list[Argument]
    tests: list[Test]
    line: int
    column: int
    has_test_list: bool = False
    """Written with parentheses: ``anyof (...)``."""


@dataclass
class Command:
    name: str
    arguments: list[Argument]
    tests: list[Test]
    block: list[Command] | None
    line: int
    column: int
    has_test_list: bool = False


@dataclass
class Script:
    commands: list[Command] = field(default_factory=list)


class Parser:
    """RFC 5228 section 8.2::

        command   = identifier arguments (";" / block)
        arguments = *argument [ test / test-list ]
        argument  = string-list / number / tag
        test      = identifier arguments
    """

    def __init__(self, text: str) -> None:
        self.tokens = Lexer(text).tokens()
        self.i = 0

    def _peek(self) -> Token:
        return self.tokens[self.i]

    def _take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    @staticmethod
    def _error(token: Token, message: str) -> SieveError:
        return SieveError([Diagnostic(token.line, token.column, message)])

    def _describe(self, token: Token) -> str:
        if token.kind is Kind.IDENTIFIER:
            return f"identifier '{token.value}'"
        if token.kind is Kind.TAG:
            return f"tag ':{token.value}'"
        if token.kind is Kind.NUMBER:
            return f"number {token.value}"
        if token.kind is Kind.STRING:
            return "string"
        return str(token.kind.value)

    def script(self) -> Script:
        commands = self._commands(0)
        token = self._peek()
        if token.kind is not Kind.EOF:
            raise self._error(token, f"expected a command, found {self._describe(token)}")
        return Script(commands)

    def _commands(self, depth: int) -> list[Command]:
        out: list[Command] = []
        while self._peek().kind is Kind.IDENTIFIER:
            out.append(self._command(depth))
        return out

    def _command(self, depth: int) -> Command:
        name = self._take()
        arguments = self._arguments()
        tests, has_list = self._tests(depth)
        token = self._take()
        block: list[Command] | None = None
        if token.kind is Kind.LBRACE:
            if depth + 1 > MAX_NESTING:
                raise self._error(token, f"blocks are nested deeper than {MAX_NESTING}")
            block = self._commands(depth + 1)
            end = self._take()
            if end.kind is not Kind.RBRACE:
                raise self._error(end, f"expected '}}' or a command, found {self._describe(end)}")
        elif token.kind is not Kind.SEMICOLON:
            raise self._error(token, f"expected ';' after command '{name.value}', found "
                                     f"{self._describe(token)}")
        return Command(str(name.value), arguments, tests, block, name.line, name.column, has_list)

    def _arguments(self) -> list[Argument]:
        out: list[Argument] = []
        while True:
            token = self._peek()
            if token.kind is Kind.TAG:
                self._take()
                out.append(Tag(str(token.value), token.line, token.column))
            elif token.kind is Kind.NUMBER:
                self._take()
                out.append(Number(int(token.value), token.line, token.column))
            elif token.kind is Kind.STRING:
                self._take()
                out.append(StringList((str(token.value),), False, token.line, token.column))
            elif token.kind is Kind.LBRACKET:
                out.append(self._string_list())
            else:
                return out

    def _string_list(self) -> StringList:
        start = self._take()
        values: list[str] = []
        while True:
            token = self._take()
            if token.kind is not Kind.STRING:
                raise self._error(token, f"expected a string in the list, found "
                                         f"{self._describe(token)}")
            values.append(str(token.value))
            sep = self._take()
            if sep.kind is Kind.RBRACKET:
                return StringList(tuple(values), True, start.line, start.column)
            if sep.kind is not Kind.COMMA:
                raise self._error(sep, f"expected ',' or ']' in a string list, found "
                                       f"{self._describe(sep)}")

    def _tests(self, depth: int) -> tuple[list[Test], bool]:
        token = self._peek()
        if token.kind is Kind.IDENTIFIER:
            return [self._test(depth + 1)], False
        if token.kind is not Kind.LPAREN:
            return [], False
        self._take()
        tests: list[Test] = []
        while True:
            nxt = self._peek()
            if nxt.kind is not Kind.IDENTIFIER:
                raise self._error(nxt, f"expected a test, found {self._describe(nxt)}")
            tests.append(self._test(depth + 1))
            sep = self._take()
            if sep.kind is Kind.RPAREN:
                return tests, True
            if sep.kind is not Kind.COMMA:
                raise self._error(sep, f"expected ',' or ')' in a test list, found "
                                       f"{self._describe(sep)}")

    def _test(self, depth: int) -> Test:
        name = self._take()
        if depth > MAX_NESTING:
            raise self._error(name, f"tests are nested deeper than {MAX_NESTING}")
        arguments = self._arguments()
        tests, has_list = self._tests(depth)
        return Test(str(name.value), arguments, tests, name.line, name.column, has_list)


def parse(text: str) -> Script:
    """Parse ``text`` (RFC 5228 section 8); raises :class:`SieveError` at the first
    syntax error."""
    if len(text) > MAX_SCRIPT_SIZE:
        raise SieveError([Diagnostic(1, 1, f"script is longer than {MAX_SCRIPT_SIZE} "
                                           "characters")])
    return Parser(text).script()
