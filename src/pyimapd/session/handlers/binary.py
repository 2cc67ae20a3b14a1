"""FETCH BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516 sections 4.2 and 4.3).

How this works: the part's encoded bytes are streamed from the store through a decoder
of :mod:`pyimapd.mime.decode` twice at most. The first pass counts the decoded size (a
literal announces its size first) and notes whether the requested range holds a NUL
octet (then the data goes out as ``literal8``, ``~{n}``, else as a plain literal, as
section 4.3 asks); a small result is kept from that pass and written at once. A larger
one is decoded again and streamed with back-pressure, like ``BODY[]``. Memory stays
bounded whatever the part's size. An encoding the server cannot undo fails the whole
FETCH with ``NO [UNKNOWN-CTE]`` (:func:`check`), before anything of the message is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyimapd import mime
from pyimapd.mime import decode
from pyimapd.protocol import commands as c
from pyimapd.protocol import fetch_response as wire
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.state import CommandFailed, no
from pyimapd.storage.interface import MessageRecord

if TYPE_CHECKING:
    from pyimapd.session.session import Session
    from pyimapd.session.view import SelectedView

KEEP = 64 * 1024
"""Decoded results up to this size are kept from the first pass instead of decoded twice."""


def check(root: mime.Part | None, items: list[c.FetchItem]) -> None:
    """Section 4.3: an unknown transfer encoding fails the request with UNKNOWN-CTE."""
    for item in items:
        if not isinstance(item, c.FetchBinary) or root is None:
            continue
        found = decode.binary_part(root, item.part)
        if found is not None and decode.decoder(found[2]) is None:
            raise CommandFailed(no(
                f"Cannot decode the {found[2]} content transfer encoding",
                ResponseCode("UNKNOWN-CTE")))


@dataclass
class _Scan:
    size: int = 0
    nul: bool = False
    kept: bytearray | None = None


async def _decoded(
    view: SelectedView, record: MessageRecord, start: int, end: int, encoding: str
) -> AsyncIterator[bytes]:
    dec = decode.decoder(encoding)
    assert dec is not None  # check() ran first
    async for chunk in view.mailbox.read(record.content, start, end - start):
        out = dec.feed(chunk)
        if out:
            yield out
    tail = dec.flush()
    if tail:
        yield tail


async def _scan(chunks: AsyncIterator[bytes], lo: int, hi: int | None) -> _Scan:
    """Size of everything; NUL within ``[lo, hi)``; the data itself while it is small."""
    scan = _Scan(kept=bytearray())
    async for chunk in chunks:
        pos = scan.size
        scan.size += len(chunk)
        a, b = max(lo - pos, 0), len(chunk) if hi is None else min(hi - pos, len(chunk))
        if a < b and not scan.nul and b"\x00" in chunk[a:b]:
            scan.nul = True
        if scan.kept is not None:
            scan.kept += chunk
            if len(scan.kept) > KEEP:
                scan.kept = None
    return scan


def label(item: c.FetchBinary, origin: int | None) -> bytes:
    """``BINARY[1.2]<origin>`` / ``BINARY.SIZE[1.2]`` (section 4.3)."""
    spec = ".".join(str(p) for p in item.part)
    name = "BINARY.SIZE" if item.size else "BINARY"
    text = f"{name}[{spec}]" + (f"<{origin}>" if origin is not None else "")
    return text.encode()


async def write(
    session: Session, view: SelectedView, record: MessageRecord, root: mime.Part | None,
    item: c.FetchBinary, out: Any,
) -> None:
    """Appends ``label SP value`` to ``out`` (a fetch._Out), streaming large values."""
    found = decode.binary_part(root, item.part) if root is not None else (0, record.size, "")
    if found is None:  # no such part: empty, as BODY[part] answers it (fetch.py)
        out.append(label(item, None) + (b" 0" if item.size else b' ""'))
        return
    start, end, encoding = found
    offset, count = item.partial if item.partial is not None else (0, None)
    scan = await _scan(_decoded(view, record, start, end, encoding), offset,
                       None if count is None else offset + count)
    if item.size:
        out.append(label(item, None) + b" %d" % scan.size)
        return
    lo = min(offset, scan.size)
    hi = scan.size if count is None else min(lo + count, scan.size)
    head = (label(item, offset if item.partial is not None else None) + wire.SEP
            + wire.literal_prefix(hi - lo, binary=scan.nul))
    if scan.kept is not None:
        out.append(head + bytes(scan.kept[lo:hi]))
        return
    out.append(head)
    if out.pending:
        session.write(b"".join(out.pending))
        out.pending.clear()
    session.write(b"".join(out))
    out.clear()
    out.flushed = True
    pos = 0
    async for chunk in _decoded(view, record, start, end, encoding):
        a, b = max(lo - pos, 0), min(hi - pos, len(chunk))
        pos += len(chunk)
        if a < b:
            session.write(chunk[a:b])
            await session.io.drain()
        if pos >= hi:
            break
