"""The wire form of FETCH responses (RFC 3501 section 7.4.2, RFC 3516 section 4.2).

How this works: the FETCH handlers decide what a message's response holds and when to
write; the bytes come from here, so the grammar of ``msg-att`` lives in the protocol
layer with the rest of the wire format. A response is :func:`begin` (``* n FETCH (``),
items joined by :data:`SEP`, then :data:`END`; a section is its label, a space and
either :func:`literal` (a value of known bytes) or :func:`literal_prefix` followed by
its bytes streamed by the caller (a large section is never one allocation). The flag
resync, which writes one short response per message of a whole mailbox, formats
through :func:`line_format` once per FETCH instead of per message.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyimapd.protocol.responses import literal, literal_prefix

__all__ = ["END", "SEP", "begin", "line", "line_format", "literal", "literal_prefix"]

SEP = b" "
END = b")\r\n"


def begin(msn: int) -> bytes:
    """``* n FETCH (``: the start of one message's response."""
    return b"* %d FETCH (" % msn


def line(msn: int, items: Sequence[bytes]) -> bytes:
    """A whole response whose items are already encoded."""
    return b"* %d FETCH (" % msn + SEP.join(items) + END


def line_format(item_formats: Sequence[bytes]) -> bytes:
    """A ``%``-format of a whole response: ``%d`` for the sequence number first, then
    the items' own formats in order (``b"UID %d"``, ``b"%s"`` for an encoded item)."""
    return b"* %%d FETCH (%s)\r\n" % SEP.join(item_formats)

