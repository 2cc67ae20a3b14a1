"""Sending mail out through the configured SMTP relay (``[sieve] relay``): what Sieve's
redirect and vacation hand to the MTA in front.

How this works: :class:`SmtpRelay` runs one SMTP transaction per message with the
stdlib ``smtplib`` in a worker thread (a relay's answer can take seconds; the event loop
must not wait for it). The message is streamed from its file in chunks with the DATA
dot-stuffing done on the way (RFC 5321 section 4.5.2), so a redirected 50 MB message is
never read into memory whole. Success is the relay's 250 after DATA: only then has it
taken responsibility for the message, and only then may delivery say 250 itself.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 64 * 1024
TIMEOUT = 30.0
"""Seconds for the relay to answer any one step."""


class RelayError(Exception):
    """The relay is not configured, down, or refused the message."""


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    host: str
    port: int
    helo: str = "localhost"

    @classmethod
    def parse(cls, text: str, helo: str = "localhost") -> SmtpRelay | None:
        """``HOST:PORT`` from the configuration; None when empty."""
        if not text:
            return None
        host, _, port = text.rpartition(":")
        return cls(host.strip("[]") or "127.0.0.1", int(port), helo)

    async def send(self, sender: str, recipients: Iterable[str], head: bytes,
                   body: BinaryIO | None = None, body_offset: int = 0) -> None:
        """Sends ``head`` (header fields the caller adds, or a whole small message)
        followed by ``body`` read from ``body_offset`` to its end. Raises
        :class:`RelayError`."""
        rcpts = list(recipients)
        await asyncio.to_thread(self._send, sender, rcpts, head, body, body_offset)

    def _send(self, sender: str, recipients: list[str], head: bytes, body: BinaryIO | None,
              body_offset: int) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, self.helo, timeout=TIMEOUT) as smtp:
                code, reply = smtp.ehlo()
                if not 200 <= code < 300:
                    smtp.helo()
                code, reply = smtp.mail(sender)
                if code != 250:
                    raise RelayError(f"MAIL FROM refused: {code} {reply!r}")
                accepted = 0
                for rcpt in recipients:
                    code, reply = smtp.rcpt(rcpt)
                    accepted += code in (250, 251)
                if not accepted:
                    raise RelayError(f"every recipient refused: {code} {reply!r}")
                code, reply = smtp.docmd("DATA")
                if code != 354:
                    raise RelayError(f"DATA refused: {code} {reply!r}")
                for piece in _dot_stuffed(_chunks(head, body, body_offset)):
                    smtp.send(piece)
                smtp.send(b".\r\n")
                code, reply = smtp.getreply()
                if code != 250:
                    raise RelayError(f"message refused: {code} {reply!r}")
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayError(f"relay {self.host}:{self.port}: {exc}") from exc


def _chunks(head: bytes, body: BinaryIO | None, offset: int) -> Iterator[bytes]:
    yield head
    if body is None:
        return
    body.seek(offset)
    while chunk := body.read(CHUNK):
        yield chunk


def _dot_stuffed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """RFC 5321 section 4.5.2: a line starting with ``.`` gets another, and the data
    ends with CRLF before the final ``.``. A line start may fall on a chunk boundary
    (after a CRLF, or between its CR and LF), so the last two octets are carried over."""
    tail = b"\r\n"  # the message starts at a line start
    for chunk in chunks:
        if not chunk:
            continue
        out = chunk.replace(b"\r\n.", b"\r\n..")
        if chunk[:1] == b"." and tail == b"\r\n":
            out = b"." + out
        elif tail[-1:] == b"\r" and chunk[:2] == b"\n.":
            out = b"\n." + out[1:]
        tail = (tail + chunk)[-2:]
        yield out
    if tail != b"\r\n":
        yield b"\r\n"
