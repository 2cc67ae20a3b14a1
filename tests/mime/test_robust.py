"""Malformed and hostile input: parse_message never raises, offsets stay consistent,
nesting and part counts are bounded, and big messages use bounded memory."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyimapd.mime import (
    bodystructure_value,
    dumps,
    envelope_value,
    loads,
    locate,
    parse_message,
    search_fields,
)
from pyimapd.mime import parser as mime_parser


def check_tree(data: bytes) -> None:
    """Parse and exercise every consumer; assert offsets are within [0, size] and nested."""
    root = parse_message(io.BytesIO(data), len(data))
    assert root.header_start == 0 and root.end == len(data)
    stack = [(root, 0, len(data))]
    while stack:
        part, lo, hi = stack.pop()
        assert lo <= part.header_start <= part.body_start <= part.end <= hi
        assert part.lines >= 0
        assert part.lines <= data.count(b"\n", part.body_start, part.end) + 1
        stack.extend((c, part.body_start, part.end) for c in part.children)
    assert loads(dumps(root)) == root
    envelope_value(root)
    bodystructure_value(root, True)
    bodystructure_value(root, False)
    for path in [(), (1,), (2,), (1, 1), (1, 2), (2, 1), (1, 1, 1)]:
        for spec in ("", "MIME", "HEADER", "TEXT", "HEADER.FIELDS"):
            section = locate(root, path, spec)
            if section is not None:
                assert 0 <= section.start <= section.end <= len(data)
    search_fields(io.BytesIO(data), root, max_text=10_000)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check_tree(data)


_LINES = [
    b"Content-Type: multipart/mixed; boundary=a", b"Content-Type: multipart/digest; boundary=b",
    b"Content-Type: message/rfc822", b"Content-Type: text/plain; charset=bogus-cs",
    b"Content-Type: multipart/alternative; boundary=\"a\"", b"Content-Type: text/",
    b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Disposition: attachment; filename*0*=utf-8''%FF; filename*1=x",
    b"From: a@b, Group: c@d;", b"To: <@x:y@z>, \"q\\\"", b"Subject: =?utf-8?q?=FF?=",
    b"Date: Mon, 99 Foo 2022 99:99:99 +9999", b" continued", b"\tcontinued",
    b"--a", b"--a--", b"--b", b"--b--", b"--", b"", b"", b"", b"body =E9= text",
    b"QUJD", b"no colon here", b":", b"\xff\xfe",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(st.sampled_from(_LINES), max_size=60),
    st.sampled_from([b"\r\n", b"\n", b"\r"]),
    st.booleans(),
)
def test_mime_shaped_noise_never_raises(lines: list[bytes], eol: bytes, final_eol: bool) -> None:
    """Random lines from MIME's vocabulary reach the deep paths that random bytes miss."""
    data = eol.join(lines) + (eol if final_eol else b"")
    check_tree(data)


def nested_multiparts(depth: int) -> bytes:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"\r\n--n%d--" % i for i in reversed(range(depth)))
    return head + b"Content-Type: text/plain\r\n\r\nleaf" + tail + b"\r\n"


def test_deep_multipart_nesting_is_bounded() -> None:
    data = nested_multiparts(300)
    check_tree(data)
    root = parse_message(io.BytesIO(data), len(data))
    depth, part = 0, root
    while part.children:
        part, depth = part.children[0], depth + 1
    assert depth == mime_parser.MAX_DEPTH
    assert part.maintype == "multipart"  # opaque: its parts are not parsed


def test_deep_message_nesting_is_bounded() -> None:
    data = b"Content-Type: message/rfc822\r\n\r\n" * 500 + b"Subject: end\r\n\r\nbody\r\n"
    check_tree(data)
    root = parse_message(io.BytesIO(data), len(data))
    assert len(root.walk()) == mime_parser.MAX_DEPTH + 1


def test_part_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime_parser, "MAX_PARTS", 5)
    data = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\n\r\npart\r\n" * 20
    data += b"--x--\r\n"
    root = parse_message(io.BytesIO(data), len(data))
    assert len(root.children) == 4  # the root counts as one part
    assert root.end == len(data)


def test_outer_boundary_closes_inner_multipart() -> None:
    """A missing inner close delimiter: the outer delimiter ends the inner parts."""
    data = (
        b"Content-Type: multipart/mixed; boundary=out\r\n\r\n"
        b"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
        b"--in\r\n\r\ninner one\r\n"
        b"--out\r\n\r\nouter two\r\n--out--\r\n"
    )
    root = parse_message(io.BytesIO(data), len(data))
    inner, second = root.children
    assert data[inner.children[0].body_start : inner.children[0].end] == b"inner one"
    assert data[inner.body_start : inner.end] == b"--in\r\n\r\ninner one"
    assert data[second.body_start : second.end] == b"outer two"


def test_boundary_matches_as_a_line_prefix() -> None:
    """RFC 2046 5.1.1: "it is sufficient that the boundary appear in its entirety
    following the CRLF", so ``--ab`` is a delimiter of boundary ``a`` (as in Dovecot),
    ``--a  `` (padding) too, and ``--a--x`` closes; `` --a`` (not at the line start)
    is text."""
    data = (
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        b"--a \t\r\n\r\none\r\n --a\r\n--ab\r\n\r\ntwo\r\n--a--x\r\nepilogue\r\n"
    )
    root = parse_message(io.BytesIO(data), len(data))
    first, second = root.children
    assert data[first.body_start : first.end] == b"one\r\n --a"
    assert data[second.body_start : second.end] == b"two"


def _write_big(path, size: int, multipart: bool, long_line: bool) -> int:
    with open(path, "wb") as out:
        if multipart:
            out.write(b"Subject: big\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n"
                      b"--BIG\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                      b"--BIG\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Transfer-Encoding: base64\r\n\r\n")
        else:
            out.write(b"Subject: big\r\n\r\n")
        line = b"A" * (1 << 20) if long_line else b"QUJD" * 19 + b"\r\n"
        block = line * max(1, (1 << 20) // len(line))
        while out.tell() < size:
            out.write(block)
        if multipart:
            out.write(b"\r\n--BIG--\r\n")
        return out.tell()


@pytest.mark.parametrize(
    ("multipart", "long_line"), [(True, False), (False, False), (True, True)],
    ids=["multipart-base64", "single-part", "one-huge-line"],
)
def test_big_message_memory_is_bounded(tmp_path, multipart: bool, long_line: bool) -> None:
    path = tmp_path / "big.eml"
    size = _write_big(path, 20 << 20, multipart, long_line)
    with open(path, "rb") as source:
        tracemalloc.start()
        started = time.perf_counter()
        root = parse_message(source, size)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert root.end == size
    if multipart:
        assert len(root.children) == 2
        assert root.children[1].end == size - len(b"\r\n--BIG--\r\n")
    assert peak < 2 << 20, f"peak {peak} bytes for a {size} byte message"
    assert elapsed < 30, f"{elapsed:.1f}s for {size} bytes"
