"""GENURLAUTH, RESETKEY and URLFETCH arguments (RFC 4467 section 9), and the INTERNAL
mechanism's token (section 2.4.1, HMAC-SHA1 of RFC 2104 worked out by hand here)."""

from __future__ import annotations

import hashlib
import re

import pytest

from protocol.protocol_feed import one
from pyimapd.auth import urlauth
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import ParseError

RUMP = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"


def test_genurlauth() -> None:
    assert one(f'a GENURLAUTH "{RUMP}" INTERNAL\r\n'.encode()) == c.GenUrlAuth(
        "a", ((RUMP, "INTERNAL"),))
    assert one(f"a GENURLAUTH {RUMP} internal {{3}}\r\nx:y internal\r\n".encode()) == \
        c.GenUrlAuth("a", ((RUMP, "INTERNAL"), ("x:y", "INTERNAL")))


def test_resetkey() -> None:
    assert one(b"a RESETKEY\r\n") == c.ResetKey("a", None, ())
    assert one(b"a RESETKEY inbox\r\n") == c.ResetKey("a", "INBOX", ())
    assert one(b"a RESETKEY Drafts INTERNAL x-other.1\r\n") == c.ResetKey(
        "a", "Drafts", ("INTERNAL", "X-OTHER.1"))


def test_urlfetch() -> None:
    assert one(f'a URLFETCH "{RUMP}:internal:00" x\r\n'.encode()) == c.UrlFetch(
        "a", (f"{RUMP}:internal:00", "x"))


@pytest.mark.parametrize("line, text", [
    (b"a GENURLAUTH", "Missing URL"),
    (b"a GENURLAUTH url", "Missing URLAUTH mechanism"),
    (b"a GENURLAUTH url INTERNAL url2", "Missing URLAUTH mechanism"),
    (b"a GENURLAUTH url (INTERNAL)", "Invalid URLAUTH mechanism"),
    (b"a RESETKEY INBOX ", "Missing URLAUTH mechanism"),
    (b"a URLFETCH", "Missing URL"),
    (b"a URLFETCH  x", "Invalid URL"),
    (b'a URLFETCH "\xc3\xa4"', "Invalid URL: an URL is ASCII"),
])
def test_bad(line: bytes, text: str) -> None:
    assert one(line + b"\r\n") == ParseError("a", text)


def _hmac_sha1(key: bytes, message: bytes) -> str:
    block = key.ljust(64, b"\x00")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha1(bytes(b ^ 0x5C for b in block) + inner).hexdigest()


def test_internal_token() -> None:
    """RFC 4467 section 2.4.1: the token names its algorithm (version 01, HMAC-SHA1)."""
    key = bytes(range(32))
    expected = "01" + _hmac_sha1(key, RUMP.encode())
    assert urlauth.token(key, RUMP) == expected and len(expected) == 42
    assert not urlauth.verify(key, RUMP, "02" + expected[2:])
    assert not urlauth.verify(key, RUMP, expected[2:])
    decoy = urlauth.decoy(RUMP)
    assert re.fullmatch("01[0-9a-f]{40}", decoy) and not urlauth.verify(key, RUMP, decoy)
    assert urlauth.verify(key, RUMP, expected)
    assert urlauth.verify(key, RUMP, expected.upper())
    assert not urlauth.verify(key, RUMP + "x", expected)
    assert not urlauth.verify(bytes(32), RUMP, expected)
    assert not urlauth.verify(None, RUMP, urlauth.token(bytes(32), RUMP))
