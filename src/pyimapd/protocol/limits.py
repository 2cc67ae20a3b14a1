"""Size limits the protocol layer enforces before it buffers anything.

RFC 3501 section 4.3 lets a server refuse a literal it is not willing to take (tagged BAD,
or ``NO [TOOBIG]`` for an APPEND message, RFC 4469/7889), and RFC 7888 section 4 asks the
server to bound non-synchronizing literals too. Every bound is a named constant so the
configuration layer can show and override it.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_LINE = 65536
"""Octets of one command's text, excluding the contents of its literals."""

DEFAULT_MAX_LITERAL = 65536
"""Octets of any literal that is not an APPEND message (mailbox names, search strings...)."""

DEFAULT_MAX_APPEND = 50 * 1024 * 1024
"""Octets of an APPEND message literal; it is streamed, never buffered whole."""

DEFAULT_MAX_LITERALS = 1000
"""Literals in one command."""

DEFAULT_MAX_RAW_LINE = 65536
"""Octets of a raw line (SASL response, IDLE's DONE)."""

DEFAULT_MAX_COMMAND = 1024 * 1024
"""Octets of one whole command, text plus non-APPEND literals together: without it, a
command of ``max_literals`` literals of ``max_literal`` octets would buffer 64 MiB."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds one :class:`~pyimapd.protocol.connection.ServerConnection` enforces."""

    max_line: int = DEFAULT_MAX_LINE
    max_literal: int = DEFAULT_MAX_LITERAL
    max_append: int = DEFAULT_MAX_APPEND
    max_literals: int = DEFAULT_MAX_LITERALS
    max_raw_line: int = DEFAULT_MAX_RAW_LINE
    max_command: int = DEFAULT_MAX_COMMAND

    def __post_init__(self) -> None:
        for name in ("max_line", "max_literal", "max_append", "max_raw_line", "max_command"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.max_literals < 0:
            raise ValueError("max_literals must not be negative")
