"""The wire form of FETCH responses (RFC 3501 section 7.4.2, RFC 3516 section 4.2).

How this works: the FETCH handlers decide what a message's response holds and when to
write; the bytes come from here, so the grammar of ``msg-att`` lives in the protocol
layer with the rest of the wire format. A response is :func:`begin` (``* n FETCH (``),
items joined by :data:`SEP`, then :data:`END`; a section is its label, a space and
either :func:`literal` (a value of known bytes) or :func:`literal_prefix` followed by
its bytes streamed by the caller (a large section is never one allocation). The flag
resync, which writes one short response per message of a whole mailbox, formats
through :func:`line_format` once per FETCH instead of per message.

Every writer takes a :class:`Numbering`: ``* n FETCH`` by message sequence number, or
``* uid UIDFETCH`` once the session has enabled UIDONLY (RFC 9586 section 3.3). The
session's view holds the one in force, so solicited and unsolicited FETCH responses
alike follow it and no handler chooses the number itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyimapd.protocol.responses import Value, encode_value, literal, literal_prefix

__all__ = ["BY_MSN", "BY_UID", "END", "SEP", "Numbering", "begin", "line", "line_format",
           "literal", "literal_prefix", "values_line"]

SEP = b" "
END = b")\r\n"


@dataclass(frozen=True, slots=True)
class Numbering:
    """How FETCH responses name their message.

    ``message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))`` (RFC 3501 section
    9), or with UIDONLY ``uidfetch-resp = uniqueid SP "UIDFETCH" SP msg-att`` (RFC 9586
    section 3.3). In the UID form the UID is the response's subject, so a ``UID`` item
    is redundant: it is sent only when the client asked for it by name (``by_uid``)."""

    verb: bytes
    by_uid: bool

    def number(self, msn: int, uid: int) -> int:
        """The number a response about the message with this MSN and UID starts with."""
        return uid if self.by_uid else msn


BY_MSN = Numbering(b"FETCH", by_uid=False)
BY_UID = Numbering(b"UIDFETCH", by_uid=True)


def begin(number: int, numbering: Numbering = BY_MSN) -> bytes:
    """``* n FETCH (`` (or ``* uid UIDFETCH (``): the start of one message's response."""
    return b"* %d %s (" % (number, numbering.verb)


def line(number: int, items: Sequence[bytes], numbering: Numbering = BY_MSN) -> bytes:
    """A whole response whose items are already encoded."""
    return begin(number, numbering) + SEP.join(items) + END


def values_line(number: int, items: Sequence[Value], numbering: Numbering = BY_MSN) -> bytes:
    """A whole response from item values (``[Atom("FLAGS"), [...], ...]``)."""
    return line(number, [encode_value(v) for v in items], numbering)


def line_format(item_formats: Sequence[bytes], numbering: Numbering = BY_MSN) -> bytes:
    """A ``%``-format of a whole response: ``%d`` for the message's number first, then
    the items' own formats in order (``b"UID %d"``, ``b"%s"`` for an encoded item)."""
    return b"* %%d %s (%s)\r\n" % (numbering.verb, SEP.join(item_formats))

