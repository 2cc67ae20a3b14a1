"""COMPRESS=DEFLATE (RFC 4978): a raw-deflate layer wrapped around the session's Channel.

How this works: after the tagged OK of COMPRESS (section 3), :class:`DeflateChannel`
replaces the session's channel. Written responses go through one compressor; every
``drain`` (the session drains after each response, continuation request and streamed
chunk) and every wait for client data ends with a ``Z_SYNC_FLUSH``, so everything
written so far reaches the client as a complete deflate block and no response is ever
held back (section 4 recommends flushing at the end of each response). Client data goes
through one decompressor whose output per call is bounded (a small compressed input
cannot expand into a large buffer). The protocol layer never sees any of this: it gets
the same plain bytes as before. ``wbits=-15`` is raw deflate with a 32 KiB window, no
zlib header, as RFC 1951 and section 3 require.
"""

from __future__ import annotations

import zlib

from pyimapd.session.io import Channel

READ_MAX = 64 * 1024
"""Plain octets handed to the parser per read, however well the input compressed."""

LEVEL = 6


class DeflateChannel:
    """A :class:`Channel` that compresses what it writes and decompresses what it reads."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self._compress = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        self._decompress = zlib.decompressobj(-15)
        self._unflushed = False
        # Fixed for the connection's life: TLS cannot start under COMPRESS (section 3).
        self.peer = inner.peer
        self.peer_host = inner.peer_host
        self.loopback = inner.loopback
        self.secure = inner.secure

    @property
    def tls_available(self) -> bool:
        return False  # section 3: TLS would go under compression; STARTTLS is over by now

    async def read(self) -> bytes:
        """Plain bytes, b"" at the end of the stream (also at the end of the deflate
        stream). Pending output is flushed first: the client may be waiting for it."""
        await self._flush()
        while True:
            tail = self._decompress.unconsumed_tail
            if tail:
                out = self._inflate(tail)
            else:
                if self._decompress.eof:
                    return b""
                raw = await self.inner.read()
                if not raw:
                    return b""
                out = self._inflate(raw)
            if out:
                return out

    def _inflate(self, data: bytes) -> bytes:
        try:
            return self._decompress.decompress(data, READ_MAX)
        except zlib.error as exc:
            raise ConnectionError(f"invalid DEFLATE data from the client: {exc}") from exc

    def write(self, data: bytes) -> None:
        out = self._compress.compress(data)
        self._unflushed = True
        if out:
            self.inner.write(out)

    async def _flush(self) -> None:
        if self._unflushed:
            self._unflushed = False
            self.inner.write(self._compress.flush(zlib.Z_SYNC_FLUSH))
            await self.inner.drain()

    async def drain(self) -> None:
        if self._unflushed:
            await self._flush()
        else:
            await self.inner.drain()

    async def close(self) -> None:
        try:
            await self._flush()
        except (ConnectionError, OSError):
            pass
        await self.inner.close()

    def hold_input(self) -> int:
        return self.inner.hold_input()

    async def start_tls(self) -> None:
        raise RuntimeError("STARTTLS after COMPRESS")  # refused: not in NOT_AUTH anyway
