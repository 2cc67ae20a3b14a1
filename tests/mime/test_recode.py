"""Binary parts at APPEND (RFC 3516 section 4.4): stored base64-encoded so that BINARY
returns the octets sent, BODY never carries a NUL, and the rest of the message is kept."""

from __future__ import annotations

import base64
import io

import pytest

from pyimapd import mime
from pyimapd.delivery import Spool
from pyimapd.mime.decode import decoder
from pyimapd.mime.recode import leaves_to_encode, write_recoded

PAYLOAD = b"a\x00b\nc\rd"  # NUL, bare LF, bare CR: 8 octets


async def _stored(data: bytes, binary: bool) -> bytes:
    spool = Spool(None, binary=binary)
    for i in range(0, len(data), 3):  # small chunks: CRLF pairs split across feeds
        spool.feed(data[i : i + 3])
    prepared = await spool.finish()
    prepared.source.seek(0)
    stored = prepared.source.read()
    assert len(stored) == prepared.size
    spool.close()
    return stored


def _part(stored: bytes, number: int) -> mime.Part:
    root = mime.parse_message(io.BytesIO(stored), len(stored))
    leaves = [p for p in root.walk() if not p.children and not p.is_multipart]
    return leaves[number - 1]


def _decoded(stored: bytes, part: mime.Part) -> bytes:
    decode = decoder(part.encoding)
    assert decode is not None
    return decode.feed(stored[part.body_start : part.end]) + decode.flush()


async def test_single_part_binary_literal8_keeps_every_octet() -> None:
    message = b"Subject: bin\nContent-Transfer-Encoding: binary\n\n" + PAYLOAD
    stored = await _stored(message, binary=True)
    assert b"\x00" not in stored and b"\n" not in stored.replace(b"\r\n", b"")
    assert stored.startswith(b"Subject: bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    part = _part(stored, 1)
    assert part.encoding.upper() == "BASE64"
    assert _decoded(stored, part) == PAYLOAD


async def test_multipart_only_the_binary_part_changes() -> None:
    message = (
        b"Subject: mixed\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\nworld\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding:\r\n  Binary\r\nX-After: yes\r\n\r\n"
        + PAYLOAD + b"\r\n--b1--\r\n"
    )
    stored = await _stored(message, binary=True)
    text, blob = _part(stored, 1), _part(stored, 2)
    assert stored[text.body_start : text.end] == b"hello\r\nworld"  # text: normalised
    assert _decoded(stored, blob) == PAYLOAD
    header = stored[blob.header_start : blob.body_start]
    assert header == (b"Content-Type: application/octet-stream\r\n"
                      b"Content-Transfer-Encoding: base64\r\nX-After: yes\r\n\r\n")
    assert stored.endswith(b"\r\n--b1--\r\n")


async def test_binary_part_without_nul_in_a_plain_literal_is_left_alone() -> None:
    """Not a literal8 and no NUL: the octets are text as far as IMAP4rev1 knows."""
    head = b"Content-Transfer-Encoding: binary\r\n\r\n"
    assert await _stored(head + b"line\nnext", binary=False) == head + b"line\r\nnext"


async def test_nul_in_a_plain_literal_is_encoded_and_a_missing_field_added() -> None:
    message = b"Subject: x\r\n\r\nbefore\x00after\r\n"
    stored = await _stored(message, binary=False)
    assert stored.startswith(b"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    assert base64.b64decode(stored.split(b"\r\n\r\n", 1)[1]) == b"before\x00after\r\n"


async def test_literal8_without_binary_parts_is_only_normalised() -> None:
    message = b"Subject: t\n\nplain\ntext\n"
    assert await _stored(message, binary=True) == b"Subject: t\r\n\r\nplain\r\ntext\r\n"


async def test_unknown_encoding_and_message_parts_are_not_re_encoded() -> None:
    message = b"Content-Transfer-Encoding: x-uuencode\r\n\r\nab\x00c"
    assert await _stored(message, binary=True) == message


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 57 * 4096, 57 * 4096 + 1, 600_000])
def test_base64_lines_and_sizes(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    message = b"Content-Transfer-Encoding: binary\r\n\r\n" + payload
    root = mime.parse_message(io.BytesIO(message), len(message))
    leaves = leaves_to_encode(io.BytesIO(message), root, True)
    assert len(leaves) == (1 if size else 0)
    out = io.BytesIO()
    written = write_recoded(io.BytesIO(message), len(message), leaves, out)
    stored = out.getvalue()
    assert written == len(stored)
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert not body.endswith(b"\r\n")
    assert base64.b64decode(body) == payload
