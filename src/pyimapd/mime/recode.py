"""Binary parts made storable: RFC 3516 section 4.4's conversion of appended binary data.

Why: IMAP4rev1 literals cannot carry NUL (RFC 3501 ``CHAR8``) and the store keeps
messages with CRLF line ends (every size and offset refers to that form), so a part
sent as ``Content-Transfer-Encoding: binary`` in a ``literal8`` APPEND would lose its
bare LFs to normalisation, and a part with NUL octets would put them into ordinary
``{n}`` literals of FETCH BODY. RFC 3516 section 4.4 lets the server change the
transfer encoding of appended data as long as nothing is lost, so such a part is stored
base64-encoded: BINARY[part] then decodes to exactly the octets sent, BODY[part] and
BODYSTRUCTURE describe the part as base64 (section 6), and the rest of the message is
stored as before (CRLF-normalised, byte for byte otherwise), so the conversion is only
made where it is needed (section 6's caution about signatures).

How: the message is parsed as it came (the parser finds lines and boundaries with bare
LF as well as CRLF), the leaves to convert are picked (:func:`leaves_to_encode`), and
:func:`write_recoded` copies the message region by region: CRLF-normalised text between
them, each picked leaf's header with its Content-Transfer-Encoding field replaced, and
its body as base64 in 76-character lines. Everything is streamed in bounded chunks.
"""

from __future__ import annotations

import base64
from typing import BinaryIO

from pyimapd.mime.decode import IDENTITY
from pyimapd.mime.model import Part
from pyimapd.mime.normalize import CRLFNormalizer

_CHUNK = 57 * 4096
"""Octets encoded at a time: a multiple of 57, so that every chunk fills whole base64
lines of 76 characters (RFC 2045 section 6.8)."""
_CTE = b"content-transfer-encoding:"


def _has_nul(source: BinaryIO, start: int, end: int) -> bool:
    source.seek(start)
    remaining = end - start
    while remaining > 0:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            return False
        if b"\x00" in chunk:
            return True
        remaining -= len(chunk)
    return False


def leaves_to_encode(source: BinaryIO, root: Part, declared_binary: bool) -> list[Part]:
    """The leaf parts to store as base64, in message order.

    A leaf qualifies when its encoding leaves octets as they are and either its body
    holds a NUL (which no ``{n}`` literal may carry), or it says ``binary`` and came in
    a ``literal8`` (``declared_binary``), whose bare LFs and CRs are data, not line
    ends. A leaf with an unknown encoding is left alone: it cannot be decoded, so it
    cannot be re-encoded either (FETCH BINARY answers UNKNOWN-CTE for it)."""
    picked: list[Part] = []
    for part in root.walk():
        # RFC 2046 sections 5.1.1 and 5.2.1: a multipart or message/rfc822 may only
        # be 7bit, 8bit or binary itself, so only its leaves can be re-encoded.
        if part.maintype in ("multipart", "message") or part.body_start >= part.end:
            continue
        encoding = part.encoding.upper()
        if encoding not in IDENTITY:
            continue
        if (declared_binary and encoding == "BINARY") or _has_nul(
            source, part.body_start, part.end
        ):
            picked.append(part)
    return picked


def _copy_normalised(source: BinaryIO, start: int, end: int, out: BinaryIO) -> int:
    crlf = CRLFNormalizer()
    source.seek(start)
    remaining, written = end - start, 0
    while remaining > 0:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        data = crlf.feed(chunk)
        written += out.write(data)
    return written + out.write(crlf.flush())


def _copy_header(source: BinaryIO, part: Part, out: BinaryIO) -> int:
    """Writes the part's header with its Content-Transfer-Encoding field (all of its
    lines, continuations included) replaced by ``base64``, or the field added before the
    blank line when there was none, CRLF-normalised; returns the octets written. Read a
    line at a time (long lines in bounded pieces), so a huge header costs no memory."""
    field = b"Content-Transfer-Encoding: base64\r\n"
    crlf = CRLFNormalizer()
    source.seek(part.header_start)
    remaining = part.body_start - part.header_start
    written = 0
    replaced = skipping = False
    at_line_start = True
    while remaining > 0:
        line = source.readline(min(_CHUNK, remaining))
        if not line:
            break
        remaining -= len(line)
        starts, at_line_start = at_line_start, line.endswith(b"\n")
        if starts and line in (b"\r\n", b"\n"):  # the blank line that ends the header
            written += out.write(crlf.flush() + (b"" if replaced else field) + b"\r\n")
            replaced = True
            continue
        if starts and not (skipping and line[:1] in (b" ", b"\t")):
            skipping = line[: len(_CTE)].lower() == _CTE
            if skipping and not replaced:
                written += out.write(crlf.flush() + field)
                replaced = True
        if not skipping:
            written += out.write(crlf.feed(line))
    written += out.write(crlf.flush())
    return written + (0 if replaced else out.write(field))


def _copy_base64(source: BinaryIO, start: int, end: int, out: BinaryIO) -> int:
    """The body as base64 lines; the last line has no line end of its own (the CRLF
    before a following delimiter belongs to the delimiter, RFC 2046 section 5.1.1)."""
    source.seek(start)
    remaining, written, pending = end - start, 0, b""
    while remaining > 0:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        text = base64.encodebytes(chunk).replace(b"\n", b"\r\n")
        written += out.write(pending + text[:-2])
        pending = b"\r\n"
    return written


def write_recoded(source: BinaryIO, size: int, leaves: list[Part], out: BinaryIO) -> int:
    """Writes the message ``source[0:size]`` to ``out`` with ``leaves`` (from
    :func:`leaves_to_encode`, in message order) base64-encoded and everything else
    CRLF-normalised; returns the octets written."""
    pos = written = 0
    for part in leaves:
        written += _copy_normalised(source, pos, part.header_start, out)
        written += _copy_header(source, part, out)
        written += _copy_base64(source, part.body_start, part.end, out)
        pos = part.end
    return written + _copy_normalised(source, pos, size, out)
