"""What the session needs from the transport: a byte channel, and nothing more."""

from __future__ import annotations

from typing import Protocol


class Channel(Protocol):
    """One client connection. ``read`` returns b"" at EOF. ``write`` buffers; ``drain``
    waits until the buffer is flushed enough (back-pressure for large FETCH bodies)."""

    peer: str
    secure: bool

    async def read(self) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def close(self) -> None: ...
