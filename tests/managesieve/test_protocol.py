"""The ManageSieve wire format (RFC 5804 section 4): lines of arguments from bytes as
they arrive, limits before buffering, and the response encodings."""

from __future__ import annotations

import pytest

from pyimapd.managesieve.protocol import (
    MAX_LINE,
    Atom,
    Line,
    LineReader,
    Malformed,
    TooLarge,
    capability_lines,
    literal,
    response,
    string,
)


def events(data: bytes, max_literal: int = 1000, chunk: int = 0) -> list[object]:
    reader = LineReader(max_literal)
    out: list[object] = []
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
    for piece in pieces:
        reader.receive(piece)
        while (event := reader.next_event()) is not None:
            out.append(event)
    return out


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_commands_with_every_kind_of_argument(chunk: int) -> None:
    data = (b'putscript "my \\"script\\"" {15+}\r\nkeep;\r\ndiscard;\r\n'
            b"havespace \"x\" 1024\r\nLISTSCRIPTS\r\nGETSCRIPT {5}\r\nm\xc3\xa9\r\n\r\n")
    assert events(data, chunk=chunk) == [
        Line((Atom("PUTSCRIPT"), 'my "script"', "keep;\r\ndiscard;")),
        Line((Atom("HAVESPACE"), "x", 1024)),
        Line((Atom("LISTSCRIPTS"),)),
        Line((Atom("GETSCRIPT"), "mé\r\n")),
    ]


def test_a_bare_string_line_answers_a_challenge() -> None:
    assert events(b'"AGRlbW8AZGVtbw=="\r\n"*"\r\n') == [
        Line(("AGRlbW8AZGVtbw==",)), Line(("*",))]


def test_an_oversized_literal_is_skipped_and_the_next_line_parses() -> None:
    big = b"x" * 5000
    data = b'PUTSCRIPT "big" {5000+}\r\n' + big + b"\r\nNOOP\r\n"
    for chunk in (0, 7, 1000):
        out = events(data, max_literal=100, chunk=chunk)
        assert len(out) == 2, out
        assert isinstance(out[0], TooLarge) and "5000" in out[0].reason
        assert out[1] == Line((Atom("NOOP"),))


def test_a_line_too_long_is_dropped_without_buffering_it() -> None:
    reader = LineReader(100)
    reader.receive(b"NOOP " + b"a" * (MAX_LINE + 10))
    assert reader.next_event() is None
    assert len(reader._buffer) < 2  # what came was dropped, not kept
    reader.receive(b"aaaa\r\nCAPABILITY\r\n")
    assert isinstance(reader.next_event(), TooLarge)
    assert reader.next_event() == Line((Atom("CAPABILITY"),))


@pytest.mark.parametrize("line", [
    b'PUTSCRIPT "unterminated\r\n', b"NOOP \x01\r\n", b'NOOP "a\\x"\r\n',
    b'NOOP "a""b"\r\n', b"NOOP {3x}\r\n", b'NOOP "\xff"\r\n',
])
def test_malformed_lines_leave_the_reader_in_step(line: bytes) -> None:
    out = events(line + b"LOGOUT\r\n")
    assert isinstance(out[0], Malformed), out
    assert out[-1] == Line((Atom("LOGOUT"),))


def test_discard_drops_what_came_after_starttls() -> None:
    reader = LineReader(100)
    reader.receive(b"AUTHENTICATE \"PLAIN\"")
    assert reader.discard() == 20
    reader.receive(b"NOOP\r\n")
    assert reader.next_event() == Line((Atom("NOOP"),))


def test_responses() -> None:
    assert response("OK") == b"OK\r\n"
    assert response("NO", "No such script", "NONEXISTENT") == (
        b'NO (NONEXISTENT) "No such script"\r\n')
    assert response("OK", "Done", 'TAG "x1"') == b'OK (TAG "x1") "Done"\r\n'
    assert string("a\r\nb") == b"{4}\r\na\r\nb"
    assert string('say "hi"') == b'{8}\r\nsay "hi"'
    assert literal("keep;") == b"{5}\r\nkeep;\r\n"
    assert capability_lines([("IMPLEMENTATION", "pyimapd"), ("STARTTLS", None)]) == (
        b'"IMPLEMENTATION" "pyimapd"\r\n"STARTTLS"\r\n')
