"""Lexer and parser (RFC 5228 section 8): every token kind and every syntax error,
with its line:column."""

from __future__ import annotations

import pytest

from pyimapd.sieve import SieveError, parse
from pyimapd.sieve.lexer import Kind, Lexer
from pyimapd.sieve.limits import MAX_NESTING, MAX_SCRIPT_SIZE
from pyimapd.sieve.parser import Number, StringList, Tag


def kinds(text: str) -> list[Kind]:
    return [t.kind for t in Lexer(text).tokens()]


def test_every_token_kind() -> None:
    tokens = Lexer('if :IS 10K "a" [ "b" , "c" ] ( ) { } ;').tokens()
    assert [t.kind for t in tokens] == [
        Kind.IDENTIFIER, Kind.TAG, Kind.NUMBER, Kind.STRING, Kind.LBRACKET, Kind.STRING,
        Kind.COMMA, Kind.STRING, Kind.RBRACKET, Kind.LPAREN, Kind.RPAREN, Kind.LBRACE,
        Kind.RBRACE, Kind.SEMICOLON, Kind.EOF]
    assert tokens[1].value == "is"  # tags are case-insensitive
    assert tokens[2].value == 10 * 1024


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("7", 7), ("1k", 1024), ("2M", 2 * 1024 * 1024), ("3g", 3 * 1024 ** 3)])
def test_numbers_with_quantifiers(text: str, value: int) -> None:
    assert Lexer(text).tokens()[0].value == value


def test_identifiers_are_case_insensitive_and_positions_count_from_one() -> None:
    tokens = Lexer("\n  KEEP;").tokens()
    assert tokens[0].value == "keep"
    assert (tokens[0].line, tokens[0].column) == (2, 3)
    assert (tokens[1].line, tokens[1].column) == (2, 7)


def test_quoted_string_escapes() -> None:
    # RFC 5228 2.4.2: \" and \\ are escapes, any other backslash is dropped.
    [token, _] = Lexer(r'"a\"b\\c\qd"').tokens()
    assert token.value == 'a"b\\cqd'


def test_quoted_string_may_span_lines() -> None:
    assert Lexer('"a\r\nb"').tokens()[0].value == "a\r\nb"


def test_multiline_string_with_dot_stuffing_and_comment() -> None:
    script = "text: # comment\r\nline one\r\n..dotted\r\n.stuffed\r\n\r\n.\r\n;"
    tokens = Lexer(script).tokens()
    assert tokens[0].multiline
    assert tokens[0].value == "line one\r\n.dotted\r\n.stuffed\r\n\r\n"
    assert tokens[1].kind is Kind.SEMICOLON


def test_multiline_string_keeps_quotes_and_backslashes() -> None:
    # No escapes inside text: (only dot-stuffing), and "." must be the whole line.
    tokens = Lexer('text:\n"a\\b" # not a comment\n. \n.\n').tokens()
    assert tokens[0].value == '"a\\b" # not a comment\r\n. \r\n'


def test_multiline_string_with_bare_lf_lines() -> None:
    assert Lexer("TEXT:\nx\n.\n").tokens()[0].value == "x\r\n"


def test_comments_are_skipped() -> None:
    assert kinds("# hash\nkeep /* bracket\n comment */ ;") == [
        Kind.IDENTIFIER, Kind.SEMICOLON, Kind.EOF]


def test_encoded_character_is_left_to_the_checker() -> None:
    assert Lexer('"${hex:41}"').tokens()[0].value == "${hex:41}"


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ('keep;\n"abc', 2, 1, "unterminated string"),
    ("keep; /* x", 1, 7, "unterminated comment"),
    ("text:\nabc\n", 1, 1, "unterminated multi-line string"),
    ("text: x\n.\n", 1, 1, "'text:' must be followed by the end of the line"),
    ("keep;\n : x", 2, 2, "':' must be followed by a tag name"),
    ("size :over 10x;", 1, 14, "a number must not run into a word"),
    ("size :over 99999999999999999999;", 1, 12, "number 99999999999999999999 is too large"),
    ("keep; @", 1, 7, "unexpected character '@'"),
])
def test_lexical_errors(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SieveError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in info.value.message


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ("keep", 1, 5, "expected ';' after command 'keep', found end of script"),
    ("keep\n:x stop", 2, 8, "expected ';' after command 'keep', found end of script"),
    ("keep 1 {", 1, 9, "expected '}' or a command, found end of script"),
    ("if true { keep;", 1, 16, "expected '}' or a command, found end of script"),
    ("if true { keep; ]", 1, 17, "expected '}' or a command, found ']'"),
    ('x ["a" "b"];', 1, 8, "expected ',' or ']' in a string list, found string"),
    ("x [1];", 1, 4, "expected a string in the list, found number 1"),
    ("x [];", 1, 4, "expected a string in the list, found ']'"),
    ("if anyof (true ; ) {}", 1, 16, "expected ',' or ')' in a test list, found ';'"),
    ("if anyof () {}", 1, 11, "expected a test, found ')'"),
    ("if anyof (true,) {}", 1, 16, "expected a test, found ')'"),
    ("}", 1, 1, "expected a command, found '}'"),
    ('"x";', 1, 1, "expected a command, found string"),
    ("keep; :tag", 1, 7, "expected a command, found tag ':tag'"),
])
def test_syntax_errors(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SieveError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in info.value.message
    assert str(info.value).startswith(f"{line}:{column}: ")


def test_tree_shape() -> None:
    script = parse('if header :contains ["From", "To"] "x" { fileinto "A"; } else { stop; }')
    [if_, else_] = script.commands
    assert if_.name == "if" and else_.name == "else"
    [test] = if_.tests
    assert test.name == "header"
    tag, names, key = test.arguments
    assert isinstance(tag, Tag) and tag.name == "contains"
    assert isinstance(names, StringList) and names.values == ("From", "To") and names.is_list
    assert isinstance(key, StringList) and not key.is_list
    assert if_.block is not None and if_.block[0].name == "fileinto"
    assert else_.block is not None and else_.block[0].name == "stop"


def test_test_lists_and_numbers() -> None:
    [cmd] = parse("if anyof (size :over 1M, not true) {}").commands
    assert cmd.tests[0].has_test_list
    size, not_ = cmd.tests[0].tests
    assert isinstance(size.arguments[1], Number) and size.arguments[1].value == 1 << 20
    assert not_.tests[0].name == "true"


def test_nesting_limit() -> None:
    deep = "if true {" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)
    with pytest.raises(SieveError, match="nested deeper"):
        parse(deep)
    ok = "if true {" * MAX_NESTING + "}" * MAX_NESTING
    assert parse(ok).commands
    with pytest.raises(SieveError, match="nested deeper"):
        parse("if " + "not " * (MAX_NESTING + 1) + "true {}")


def test_script_size_limit() -> None:
    with pytest.raises(SieveError, match="longer than"):
        parse("#" * (MAX_SCRIPT_SIZE + 1))


def test_empty_script() -> None:
    assert parse("").commands == []
    assert parse("# only a comment\n").commands == []
