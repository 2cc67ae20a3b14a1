"""Content-transfer decoding in bounded memory, for IMAP BINARY (RFC 3516).

How this works: a decoder takes the encoded body in chunks of any size and returns the
decoded bytes available so far, keeping back only what may still change with the next
chunk (under four base64 characters; for quoted-printable the current line, cut at a
safe point when a malformed line grows past :data:`QP_CARRY_MAX`). So a section of any
size is decoded with a few KiB of state. Decoding is lenient, as RFC 2045 section 6.7
asks of quoted-printable readers: junk is skipped or kept, never fatal.
"""

from __future__ import annotations

import binascii
import re
from typing import Protocol

from pyimapd.mime.model import Part
from pyimapd.mime.sections import _find

QP_CARRY_MAX = 64 * 1024

IDENTITY = frozenset({"7BIT", "8BIT", "BINARY"})
"""RFC 2045 section 6.2: these encodings are the data itself."""
DECODED = IDENTITY | {"BASE64", "QUOTED-PRINTABLE"}

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


class Decoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class Base64:
    """RFC 2045 section 6.8; characters outside the alphabet are ignored."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        text = self._carry + _NOT_BASE64.sub(b"", data)
        cut = len(text) - len(text) % 4
        self._carry = text[cut:]
        return _b64(text[:cut])

    def flush(self) -> bytes:
        tail, self._carry = self._carry.rstrip(b"="), b""
        if len(tail) < 2:
            return b""
        return _b64(tail + b"=" * (-len(tail) % 4))


def _b64(text: bytes) -> bytes:
    """Decodes 4-character groups; padding inside the data ends one group, not all."""
    if not text:
        return b""
    if b"=" not in text[:-4]:
        try:
            return binascii.a2b_base64(text)
        except binascii.Error:
            pass
    out = bytearray()
    for i in range(0, len(text), 4):
        group = text[i : i + 4]
        try:
            out += binascii.a2b_base64(group)
        except binascii.Error:
            continue
    return bytes(out)


class QuotedPrintable:
    """RFC 2045 section 6.7: ``=XX`` escapes, soft line breaks (``=`` at the end of a
    line), trailing white space removed; a ``=`` not followed by two hex digits stays."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        text = self._carry + data
        nl = text.rfind(b"\n")
        out = bytearray()
        if nl >= 0:
            for line in text[: nl + 1].splitlines(keepends=True):
                out += _qp_line(line)
            text = text[nl + 1 :]
        if len(text) > QP_CARRY_MAX:  # a malformed, endless line: cut outside an escape
            cut = len(text) - (1 if text[-1:] == b"=" else 2 if text[-2:-1] == b"=" else 0)
            out += _QP_ESCAPE.sub(_unhex, text[:cut])
            text = text[cut:]
        self._carry = text
        return bytes(out)

    def flush(self) -> bytes:
        tail, self._carry = self._carry, b""
        return _qp_line(tail) if tail else b""


def _unhex(m: re.Match[bytes]) -> bytes:
    return bytes([int(m.group(1), 16)])


def _qp_line(line: bytes) -> bytes:
    """One line with its ending (CRLF, LF or none at the end of the data)."""
    body = line.rstrip(b"\r\n")
    ending = b"\r\n" if len(body) < len(line) else b""
    # rstrip, not a ``[ \t]+$`` regex: that retries at every blank of a long run, so a
    # line of many blanks before one last character cost quadratic time.
    body = body.rstrip(b" \t")
    if body.endswith(b"="):
        body, ending = body[:-1], b""  # soft line break
    return _QP_ESCAPE.sub(_unhex, body) + ending


def decoder(encoding: str) -> Decoder | None:
    """The decoder for a Content-Transfer-Encoding, None when it is unknown."""
    encoding = encoding.upper()
    if encoding in IDENTITY:
        return Identity()
    if encoding == "BASE64":
        return Base64()
    if encoding == "QUOTED-PRINTABLE":
        return QuotedPrintable()
    return None


def binary_part(root: Part, path: tuple[int, ...]) -> tuple[int, int, str] | None:
    """``(start, end, encoding)`` of the content BINARY[path] decodes (RFC 3516 4.2):
    the whole message for ``()`` (it has no encoding of its own), else the part's body
    with its Content-Transfer-Encoding. None when the part does not exist."""
    if not path:
        return root.header_start, root.end, "BINARY"
    part = _find(root, path)
    if part is None:
        return None
    encoding = part.encoding.upper() if not part.is_multipart else "BINARY"
    return part.body_start, part.end, encoding
