"""What the session needs from the transport: a byte channel, and nothing more."""

from __future__ import annotations

from typing import Protocol


class Channel(Protocol):
    """One client connection. ``read`` returns b"" at EOF. ``write`` buffers; ``drain``
    waits until the buffer is flushed enough (back-pressure for large FETCH bodies).

    ``peer_host`` is the client's address (throttling and logs); ``loopback`` says the
    client is on this host, where plaintext passwords never cross a network;
    ``secure`` is true once TLS is up. STARTTLS (RFC 3501 section 6.2.1) uses
    ``tls_available``, then ``hold_input`` before its tagged OK (stop reading plaintext
    and drop what was read but not parsed), then ``start_tls`` after it.
    """

    peer: str
    peer_host: str
    loopback: bool
    secure: bool

    @property
    def tls_available(self) -> bool: ...

    async def read(self) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def close(self) -> None: ...
    def hold_input(self) -> int: ...
    async def start_tls(self) -> None: ...
