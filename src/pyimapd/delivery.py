"""Turning raw message bytes into a :class:`PreparedMessage`: one path for APPEND, LMTP
delivery and the importers.

Bytes are normalised to CRLF line endings as they arrive (IMAP sends CRLF, and sizes and
offsets must agree with what FETCH returns), spooled to a temporary file that stays in
memory while small, then parsed once into the MIME part tree. Nothing holds a large
message in memory.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from pyimapd import mime
from pyimapd.storage.interface import PreparedMessage

SPOOL_IN_MEMORY = 256 * 1024
"""Messages up to this size are spooled in memory; larger ones go to a temporary file."""


class Spool:
    """Collects one message in chunks; :meth:`finish` parses it off the event loop."""

    def __init__(self, tmp_dir: Path | None = None) -> None:
        # Owned by the Spool, closed by close(): a context manager cannot span the events.
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_IN_MEMORY, dir=str(tmp_dir) if tmp_dir else None
        )
        self._crlf = mime.CRLFNormalizer()
        self.size = 0

    def feed(self, data: bytes) -> None:
        out = self._crlf.feed(data)
        self.size += len(out)
        self._file.write(out)

    async def finish(self) -> PreparedMessage:
        tail = self._crlf.flush()
        self.size += len(tail)
        self._file.write(tail)
        self._file.flush()
        return await asyncio.to_thread(_prepare, self._file, self.size)

    def close(self) -> None:
        self._file.close()


def _prepare(source: tempfile.SpooledTemporaryFile[bytes], size: int) -> PreparedMessage:
    source.seek(0)
    root = mime.parse_message(source, size)  # type: ignore[arg-type]
    headers, text = mime.search_fields(source, root)  # type: ignore[arg-type]
    return PreparedMessage(
        source=source,  # type: ignore[arg-type]
        size=size,
        structure=mime.dumps(root),
        sent_date=mime.sent_date(root),
        search_headers=headers,
        search_text=text,
    )


async def prepare_bytes(data: bytes, tmp_dir: Path | None = None) -> tuple[Spool, PreparedMessage]:
    """For callers that already hold a small message (tests, LMTP of small mail)."""
    spool = Spool(tmp_dir)
    spool.feed(data)
    return spool, await spool.finish()
