"""The RFC 5464 METADATA commands and the METADATA response (section 4.4.1); the
parser reads the commands in :mod:`.metadata_parser`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyimapd.protocol.commands import Command, CommandError
from pyimapd.protocol.responses import (
    CRLF,
    Mailbox,
    encode_astring,
    encode_string,
    encode_value,
    literal,
)

DEPTH_INFINITY = -1


@dataclass(frozen=True, slots=True)
class GetMetadata(Command):
    """``entries`` are lower-case, checked names; ``depth`` 0, 1 or
    :data:`DEPTH_INFINITY`; ``maxsize`` None without the option."""

    mailbox: str
    entries: tuple[str, ...]
    depth: int = 0
    maxsize: int | None = None

    def __post_init__(self) -> None:
        if not self.entries or self.depth not in (0, 1, DEPTH_INFINITY):
            raise CommandError("GETMETADATA needs entries and a depth of 0, 1 or infinity")


@dataclass(frozen=True, slots=True)
class SetMetadata(Command):
    """``values``: (entry, octets or None to remove), in the client's order."""

    mailbox: str
    values: tuple[tuple[str, bytes | None], ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise CommandError("SETMETADATA needs at least one entry")


def _value(data: bytes) -> bytes:
    """``value = nstring / literal8``: literal8 when the value holds NUL (section 5)."""
    return literal(data, binary=True) if b"\x00" in data else encode_string(data)


def metadata_response(
    mailbox: str, entries: Sequence[tuple[str, bytes]], utf8: bool = False
) -> bytes:
    """``* METADATA mailbox (entry value ...)``: ``metadata-resp`` with entry-values."""
    body = b" ".join(encode_astring(k) + b" " + _value(v) for k, v in entries)
    return b"* METADATA " + encode_value(Mailbox(mailbox, utf8)) + b" (" + body + b")" + CRLF
