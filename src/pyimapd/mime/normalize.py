"""Line-ending normalisation for stored messages.

IMAP (RFC 3501 section 2.2 and 6.4.5) counts octets and lines of the message as sent
on the wire, where lines end in CRLF. Messages arriving through LMTP or import may
use bare LF, so they are normalised once, before parsing and storing, and every byte
offset in the part tree refers to the normalised form. A bare CR is not a line end
(RFC 5322 section 2.3 only knows CRLF) and is kept as data, as Dovecot keeps it.
"""

from __future__ import annotations


class CRLFNormalizer:
    """Incremental: turns bare LF into CRLF, across chunk boundaries.

    A CR at the end of a chunk is held back until the next chunk shows whether an LF
    follows it, so a CRLF split between two chunks is not doubled.
    """

    __slots__ = ("_pending_cr",)

    def __init__(self) -> None:
        self._pending_cr = False

    def feed(self, data: bytes) -> bytes:
        """Return the normalised form of ``data`` (possibly minus a trailing CR)."""
        prefix = b""
        if self._pending_cr:
            self._pending_cr = False
            prefix = b"\r"
            if data.startswith(b"\n"):
                prefix, data = b"\r\n", data[1:]
        if data.endswith(b"\r"):
            self._pending_cr = True
            data = data[:-1]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        return prefix + data.replace(b"\n", b"\r\n")

    def flush(self) -> bytes:
        """Return what is still held back (a final bare CR stays a bare CR)."""
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""
