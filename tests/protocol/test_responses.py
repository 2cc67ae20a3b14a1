"""Response encoding (RFC 3501 sections 7 and 9): the atom / quoted / literal choice."""

from __future__ import annotations

import pytest

from pyimapd.protocol.responses import (
    QUOTED_MAX,
    Atom,
    Literal,
    Mailbox,
    ResponseCode,
    continuation,
    encode_astring,
    encode_string,
    encode_value,
    tagged,
    untagged,
    untagged_status,
)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("hello", b'"hello"'),
        ("", b'""'),
        ('say "hi"', b'"say \\"hi\\""'),
        ("back\\slash", b'"back\\\\slash"'),
        ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
        ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),
        (b"nul\x00", b"{4}\r\nnul\x00"),
        ("x" * QUOTED_MAX, b'"' + b"x" * QUOTED_MAX + b'"'),
        ("x" * (QUOTED_MAX + 1), b"{1025}\r\n" + b"x" * (QUOTED_MAX + 1)),
    ],
)
def test_string_quoted_or_literal(value: str | bytes, wire: bytes) -> None:
    assert encode_string(value) == wire


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("a]b", b'"a]b"'),  # "]" is an ASTRING-CHAR, but the encoder quotes it: safe
        ("a[b", b"a[b"),
        ("", b'""'),
        ("two words", b'"two words"'),
        ("wild*", b'"wild*"'),
        ("pct%", b'"pct%"'),
        ("paren(", b'"paren("'),
        ("brace{", b'"brace{"'),
        ('q"', b'"q\\""'),
        ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),
    ],
)
def test_astring_atom_when_possible(value: str, wire: bytes) -> None:
    assert encode_astring(value) == wire


def test_values() -> None:
    assert encode_value(None) == b"NIL"
    assert encode_value(42) == b"42"
    assert encode_value(Atom("\\Seen")) == b"\\Seen"
    assert encode_value(Literal(b"abc")) == b"{3}\r\nabc"
    assert encode_value([Atom("\\Seen"), 1, None, ["x"]]) == b'(\\Seen 1 NIL ("x"))'
    assert encode_value(()) == b"()"
    with pytest.raises(TypeError):
        encode_value(True)


def test_mailbox_goes_out_in_modified_utf7() -> None:
    assert encode_value(Mailbox("INBOX")) == b"INBOX"
    assert encode_value(Mailbox("Entw\u00fcrfe")) == b"Entw&APw-rfe"
    assert encode_value(Mailbox("a b")) == b'"a b"'
    assert encode_value(Mailbox("")) == b'""'


def test_status_lines() -> None:
    assert tagged("a1", "OK", "done") == b"a1 OK done\r\n"
    assert tagged("a1", "NO", "full", ResponseCode("OVERQUOTA")) == b"a1 NO [OVERQUOTA] full\r\n"
    assert untagged_status("OK", "x\r\ny", ResponseCode("UIDNEXT", "5")) == (
        b"* OK [UIDNEXT 5] x  y\r\n"
    )
    code = ResponseCode("PERMANENTFLAGS", [Atom("\\Seen"), Atom("\\*")])
    assert untagged_status("OK", "", code) == b"* OK [PERMANENTFLAGS (\\Seen \\*)]\r\n"
    assert untagged(3, Atom("EXISTS")) == b"* 3 EXISTS\r\n"
    assert continuation("go") == b"+ go\r\n"
