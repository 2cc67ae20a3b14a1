"""Arguments of the URLAUTH commands (RFC 4467 section 9); :mod:`pyimapd.protocol.parser`
lists them in its command table.

    genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)
    resetkey   = "RESETKEY" [SP mailbox *(SP mechanism)]
    urlfetch   = "URLFETCH" 1*(SP url-full)
    mechanism  = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")
    url-rump   = astring   ; contains authimapurlrump
    url-full   = astring   ; contains authimapurlfull

The URLs themselves are read by :mod:`pyimapd.protocol.imapurl` when the command runs:
a GENURLAUTH URL that does not parse is BAD, a URLFETCH one is answered with NIL.
"""

from __future__ import annotations

import re

from pyimapd.protocol import commands as c
from pyimapd.protocol.grammar import ParseFailure, Reader

_MECHANISM = re.compile(rb"[A-Za-z0-9.\-]+")


def _mechanism(r: Reader) -> str:
    m = r.match(_MECHANISM)
    if m is None:
        raise ParseFailure("Missing URLAUTH mechanism" if r.at_end()
                           else "Invalid URLAUTH mechanism")
    return m.group().decode("ascii").upper()


def _url(r: Reader, what: str) -> str:
    raw = r.astring(what)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ParseFailure(f"Invalid {what}: an URL is ASCII") from exc


def genurlauth(r: Reader, tag: str, uid: bool) -> c.Command:
    pairs: list[tuple[str, str]] = []
    while not pairs or not r.at_end():
        r.sp("URL")
        url = _url(r, "URL")
        r.sp("URLAUTH mechanism")
        pairs.append((url, _mechanism(r)))
    return c.GenUrlAuth(tag, tuple(pairs))


def resetkey(r: Reader, tag: str, uid: bool) -> c.Command:
    if r.at_end():
        return c.ResetKey(tag, None, ())
    r.sp("mailbox name")
    mailbox = r.mailbox()
    mechanisms: list[str] = []
    while not r.at_end():
        r.sp("URLAUTH mechanism")
        mechanisms.append(_mechanism(r))
    return c.ResetKey(tag, mailbox, tuple(mechanisms))


def urlfetch(r: Reader, tag: str, uid: bool) -> c.Command:
    urls: list[str] = []
    while not urls or not r.at_end():
        r.sp("URL")
        urls.append(_url(r, "URL"))
    return c.UrlFetch(tag, tuple(urls))
