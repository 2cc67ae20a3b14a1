"""Seeded generator of large corpus messages (10 MB and more), built at test time so
that no multi-megabyte file is committed. The same seed gives the same bytes."""

from __future__ import annotations

import base64
import random

MB = 1024 * 1024
_WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
]


def _text(rng: random.Random, size: int, marker: str) -> bytes:
    """About ``size`` bytes of CRLF text lines, with ``marker`` on a line near the end."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14)))
        lines.append(line)
        total += len(line) + 2
    lines.insert(len(lines) - 3, f"the marker is {marker} here")
    return ("\r\n".join(lines) + "\r\n").encode()


def big_text(seed: int = 10, size: int = 10 * MB + 12345) -> bytes:
    """A single text/plain message larger than ``size`` bytes."""
    rng = random.Random(seed)
    head = (
        b"From: Big Sender <big@example.org>\r\nTo: reader@example.net\r\n"
        b"Subject: A very large plain text message\r\n"
        b"Date: Mon, 2 May 2022 12:00:00 +0000\r\nMessage-ID: <big-text@example.org>\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    return head + _text(rng, size, "GIGANTOSAURUS")


def big_attachment(seed: int = 11, size: int = 10 * MB + 54321) -> bytes:
    """multipart/mixed: a short text part and a base64 attachment of ``size`` bytes."""
    rng = random.Random(seed)
    payload = rng.randbytes(size)
    encoded = base64.b64encode(payload)
    lines = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return (
        b"From: Archive <archive@example.org>\r\nTo: reader@example.net\r\n"
        b"Subject: Large attachment\r\nDate: Tue, 3 May 2022 12:00:00 +0200\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big-boundary"\r\n\r\n'
        b"--big-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"The attachment follows: MASTODON.\r\n"
        b'--big-boundary\r\nContent-Type: application/octet-stream; name="blob.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="blob.bin"\r\n\r\n'
        + lines
        + b"\r\n--big-boundary--\r\n"
    )


def big_messages() -> dict[str, bytes]:
    """Name -> bytes of every generated large message (each over 10 MB)."""
    return {"big_text": big_text(), "big_attachment": big_attachment()}
