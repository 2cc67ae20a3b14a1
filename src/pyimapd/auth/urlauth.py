"""The INTERNAL authorization mechanism of URLAUTH (RFC 4467 sections 2.4.1 and 7).

The authorization token of an URL is the HMAC-SHA1 of its rump (the URL up to and
including the access identifier, ``;URLAUTH=access``) under the mailbox access key,
written as 40 lower-case hex digits (``enc-urlauth = 32*HEXDIG``: at least 128 bits).
Tokens are compared in constant time, so that trying tokens byte by byte teaches an
attacker nothing (section 10).
"""

from __future__ import annotations

import hashlib
import hmac

MECHANISM = "INTERNAL"
"""The one mechanism every URLAUTH server has, and the only one pyimapd offers."""

_NO_KEY = b"\x00" * 32
"""Verified against when the mailbox has no key, so that a missing mailbox or key costs
the same work as a wrong token (no timing hint of what exists)."""


def token(key: bytes, rump: str) -> str:
    return hmac.new(key, rump.encode("utf-8"), hashlib.sha1).hexdigest()


def verify(key: bytes | None, rump: str, claimed: str) -> bool:
    """True when ``claimed`` is the token of ``rump`` under ``key`` (never without one)."""
    expected = token(key if key is not None else _NO_KEY, rump)
    return hmac.compare_digest(expected, claimed.lower()) and key is not None
