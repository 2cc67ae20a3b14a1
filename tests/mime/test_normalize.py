"""CRLFNormalizer: bare LF becomes CRLF and bare CR stays, whatever the chunking."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mime.mime_helpers import normalise, parse_bytes
from pyimapd.mime import CRLFNormalizer, bodystructure_value, locate


def reference(data: bytes) -> bytes:
    return re.sub(rb"\r\n|\n", b"\r\n", data)


def test_examples() -> None:
    norm = CRLFNormalizer()
    assert norm.feed(b"a\nb\r\nc\rd\r") == b"a\r\nb\r\nc\rd"
    assert norm.feed(b"\ne\r") == b"\r\ne"
    assert norm.feed(b"\r") == b"\r"
    assert norm.flush() == b"\r"
    assert norm.flush() == b""


@given(st.binary(max_size=300).map(lambda b: b.replace(b"x", b"\r").replace(b"y", b"\n")),
       st.lists(st.integers(min_value=0, max_value=300), max_size=10))
def test_any_chunking_matches_reference(data: bytes, cuts: list[int]) -> None:
    norm = CRLFNormalizer()
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    out = b"".join(norm.feed(data[a:b]) for a, b in zip(points, points[1:], strict=False))
    assert out + norm.flush() == reference(data)


def test_mixed_line_endings_parse_like_crlf() -> None:
    """A message with bare LF and CRLF mixed, normalised then parsed; a bare CR inside a
    line is data (RFC 5322 section 2.3), not a line end."""
    raw = (b"From: mixed@example.com\nContent-Type: multipart/mixed; boundary=m\r\n\n"
           b"--m\nContent-Type: text/plain\r\n\nline one\rstill one\nline two\n--m--\n")
    data = normalise(raw, chunk=3)
    root = parse_bytes(data)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert bodystructure_value(root, False) == (
        ("TEXT", "PLAIN", ("CHARSET", "US-ASCII"), None, None, "7BIT", 28, 1), "MIXED")
    section = locate(root, (1,), "")
    assert data[section.start : section.end] == b"line one\rstill one\r\nline two"
