"""Events that :class:`pyimapd.protocol.connection.ServerConnection` hands to the session,
besides the commands of ``commands.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing complete yet: feed more bytes with ``receive_data``."""


@dataclass(frozen=True, slots=True)
class AppendData:
    """A chunk of the message literal of the APPEND begun by ``AppendStart``."""

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AppendNext:
    """MULTIAPPEND (RFC 3502): after a message literal the line went on with
    ``SP [flag-list SP] [date-time SP] literal``, the next message of the same APPEND.
    Its octets follow as :class:`AppendData`; ``size`` is checked like the first's.
    ``binary``: the literal was a ``literal8`` (``~{n}``, RFC 3516 section 4.4)."""

    tag: str
    flags: tuple[str, ...]
    date_time: datetime | None
    size: int
    binary: bool = False
    catenate: bool = False
    """RFC 4469: the message is ``CATENATE (...)``; no literal follows directly, its
    parts come as :class:`CatenateUrl` and :class:`CatenateText` (``size`` is 0)."""


@dataclass(frozen=True, slots=True)
class CatenateUrl:
    """RFC 4469 section 3: ``"URL" SP astring``, the next part of the current CATENATE
    message: the octets the URL names are appended to it."""

    tag: str
    url: str


@dataclass(frozen=True, slots=True)
class CatenateText:
    """RFC 4469: ``"TEXT" SP literal``, the next part of the current CATENATE message;
    its octets follow as :class:`AppendData`. ``binary``: a ``literal8``."""

    tag: str
    size: int
    binary: bool = False


@dataclass(frozen=True, slots=True)
class AppendEnd:
    """The APPEND command line ended (its CRLF was read) after the message literal."""

    tag: str


@dataclass(frozen=True, slots=True)
class AppendAbort:
    """The APPEND line was malformed after its message literal; the command is BAD.

    The session drops what it spooled and answers ``tag BAD text``.
    """

    tag: str
    text: str


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line read in raw mode (``expect_raw_line``): a SASL response or IDLE's DONE.
    The trailing CRLF is removed."""

    line: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ParseError:
    """A command that could not be parsed.

    ``tag`` is the client's tag when one could be read (the answer is then a tagged BAD),
    else None (the answer is an untagged ``* BAD``). ``fatal`` is true when the stream
    can no longer be trusted (for example a literal over the limit whose bytes the client
    will send anyway); the session then says BYE and closes.
    """

    tag: str | None
    text: str
    fatal: bool = False
    code: str | None = None
    status: str = "BAD"
    """``NO`` for a command that is well formed but can never succeed (an invalid
    mailbox name, a literal over the size limit)."""
