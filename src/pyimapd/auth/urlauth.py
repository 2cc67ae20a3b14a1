"""The INTERNAL authorization mechanism of URLAUTH (RFC 4467 sections 2.2, 2.4.1, 2.5).

RFC 4467 leaves INTERNAL's algorithm to the server, asking that the server be able to
change it and that the token identify the algorithm that made it (section 2.4.1). So a
token is a version octet, written as two hex digits (``01``), then the version's MAC of
the URL's rump (the URL up to and including the access identifier,
``[;EXPIRE=date-time];URLAUTH=access``, RFC 5092 ``authimapurlrump``) under the mailbox
access key. Version 01 is HMAC-SHA1, 40 hex digits: 42 in all, more than the 128 bits
``enc-urlauth = 32*HEXDIG`` and section 2.5 ask. Tokens are written in lower case and
compared without regard to case (ABNF's HEXDIG is case-insensitive), in constant time,
so that trying tokens byte by byte teaches an attacker nothing (section 10).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MECHANISM = "INTERNAL"
"""The one mechanism every URLAUTH server has, and the only one pyimapd offers."""

_VERSION = "01"
"""The algorithm of the tokens made now (HMAC-SHA1); a later one gets a new number and
:func:`verify` keeps accepting the old ones for as long as it knows them."""

_NO_KEY = b"\x00" * 32
"""Verified against when the mailbox has no key, so that a missing mailbox or key costs
the same work as a wrong token (no timing hint of what exists)."""


def token(key: bytes, rump: str) -> str:
    return _VERSION + hmac.new(key, rump.encode("utf-8"), hashlib.sha1).hexdigest()


def decoy(rump: str) -> str:
    """A token of the right shape that no key verifies: RFC 4467 section 7 lets
    GENURLAUTH answer OK with one when the URL names a userid that does not exist, so
    that GENURLAUTH cannot be used to learn which userids exist."""
    return token(secrets.token_bytes(32), rump)


def verify(key: bytes | None, rump: str, claimed: str) -> bool:
    """True when ``claimed`` is the token of ``rump`` under ``key`` (never without one).
    A token of another version than the current one never matches what is computed."""
    expected = token(key if key is not None else _NO_KEY, rump)
    return hmac.compare_digest(expected, claimed.lower()) and key is not None
