"""Arguments of the QUOTA (RFC 9208 section 6) and COMPRESS (RFC 4978 section 4)
commands; :mod:`pyimapd.protocol.parser` lists them in its command table."""

from __future__ import annotations

import re

from pyimapd.protocol import commands as c
from pyimapd.protocol.grammar import ParseFailure, Reader

MAX_NUMBER64 = 2**63 - 1
_NUMBER = re.compile(rb"[0-9]+")


def _root(r: Reader) -> str:
    """``quota-root-name = astring``; pyimapd's roots are ASCII, others are kept as sent."""
    return r.astring("quota root name").decode("utf-8", "replace")


def getquota(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp("quota root name")
    root = _root(r)
    r.end("GETQUOTA")
    return c.GetQuota(tag, root)


def getquotaroot(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.end("GETQUOTAROOT")
    return c.GetQuotaRoot(tag, mailbox)


def setquota(r: Reader, tag: str, uid: bool) -> c.Command:
    """``setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"``;
    ``setquota-resource = resource-name SP resource-limit``; the limit is a number64."""
    r.sp("quota root name")
    root = _root(r)
    r.sp("resource limits")
    r.char(b"(", "resource limits")
    limits: list[tuple[str, int]] = []
    while r.peek() != 0x29:
        if limits:
            r.sp("resource limit")
        name = r.atom("resource name").decode("ascii").upper()
        r.sp("resource limit")
        m = r.match(_NUMBER)
        if m is None:
            raise ParseFailure("Invalid resource limit: expected a number")
        if len(m.group()) > 19 or int(m.group()) > MAX_NUMBER64:
            raise ParseFailure("Resource limit too large")
        limits.append((name, int(m.group())))
    r.pos += 1
    r.end("SETQUOTA")
    return c.SetQuota(tag, root, tuple(limits))


def compress(r: Reader, tag: str, uid: bool) -> c.Command:
    """``compress = "COMPRESS" SP algorithm``; ``algorithm = "DEFLATE"`` (an atom)."""
    r.sp("compression algorithm")
    algorithm = r.atom("compression algorithm").decode("ascii").upper()
    r.end("COMPRESS")
    return c.Compress(tag, algorithm)
