"""Arguments of GETMETADATA and SETMETADATA (RFC 5464 section 5); the command table of
:mod:`pyimapd.protocol.parser` lists them.

    getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
    getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
    maxsize-opt = "MAXSIZE" SP number ; scope-opt = "DEPTH" SP ("0" / "1" / "infinity")
    entries     = entry / "(" entry *(SP entry) ")" ; entry = astring
    setmetadata = "SETMETADATA" SP mailbox SP entry-values
    entry-values = "(" entry-value *(SP entry-value) ")" ; entry-value = entry SP value
    value       = nstring / literal8

The options are also taken after the mailbox, where section 4.2.1's examples put them
(Dovecot and Cyrus accept both).
"""

from __future__ import annotations

import re

from pyimapd.protocol import metadata_commands as m
from pyimapd.protocol.commands import Command
from pyimapd.protocol.grammar import ParseFailure, Reader

_OPTION = re.compile(rb"\((?=(?:MAXSIZE|DEPTH) )", re.IGNORECASE)
_KEYWORD = re.compile(rb"[A-Za-z]+")
_DEPTH = re.compile(rb"(?:0|1|infinity)(?=[ )])", re.IGNORECASE)
_NIL = re.compile(rb"NIL(?=[ )])", re.IGNORECASE)
_SCOPES = ("private", "shared")


def check_entry(raw: bytes, setting: bool) -> str:
    """Section 3.2: ASCII without controls, ``*`` or ``%``; ``/private`` or ``/shared``
    first; no ``//`` and no trailing ``/``; case-insensitive (lower case here). A
    SETMETADATA entry has at least two components; GETMETADATA may name a scope alone
    (``/shared`` with DEPTH). Anything else is BAD."""
    if any(b < 0x20 or b > 0x7E or b in b"*%" for b in raw):
        raise ParseFailure("Invalid entry name: non-ASCII, control, * or %")
    name = raw.decode("ascii").lower()
    parts = name.split("/")
    if len(parts) < 2 or parts[0] or parts[1] not in _SCOPES:
        raise ParseFailure("Entry names begin with /private or /shared")
    if "" in parts[1:]:
        raise ParseFailure("Invalid entry name: empty component")
    if setting and len(parts) < 3:
        raise ParseFailure("Cannot set a scope itself: name an entry below it")
    return name


def _options(r: Reader) -> tuple[int, int | None]:
    """``(depth, maxsize)`` from an option list at the cursor (after its ``(``)."""
    depth, maxsize = 0, None
    while True:
        word = r.match(_KEYWORD)
        label = word.group().upper() if word else b""
        r.sp("option value")
        if label == b"MAXSIZE":
            maxsize = r.number("MAXSIZE")
        elif label == b"DEPTH":
            found = r.match(_DEPTH)
            if found is None:
                raise ParseFailure("DEPTH is 0, 1 or infinity")
            depth = m.DEPTH_INFINITY if found.group().lower() == b"infinity" else int(found.group())
        else:
            raise ParseFailure("Unknown GETMETADATA option")
        if r.peek() == 0x29:
            r.pos += 1
            return depth, maxsize
        r.sp("option")


def getmetadata(r: Reader, tag: str, uid: bool) -> Command:
    depth, maxsize = 0, None
    r.sp("mailbox name")
    if r.match(_OPTION):
        depth, maxsize = _options(r)
        r.sp("mailbox name")
    mailbox = r.mailbox()
    r.sp("entries")
    if r.match(_OPTION):
        depth, maxsize = _options(r)
        r.sp("entries")
    entries: list[str] = []
    if r.peek() == 0x28:
        r.pos += 1
        while True:
            entries.append(check_entry(r.list_mailbox("entry"), setting=False))
            if r.peek() == 0x29:
                r.pos += 1
                break
            r.sp("entry")
    else:
        entries.append(check_entry(r.list_mailbox("entry"), setting=False))
    r.end("GETMETADATA")
    return m.GetMetadata(tag, mailbox, tuple(dict.fromkeys(entries)), depth, maxsize)


def setmetadata(r: Reader, tag: str, uid: bool) -> Command:
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.sp("entry values")
    r.char(b"(", "entry values")
    values: dict[str, bytes | None] = {}
    while True:
        entry = check_entry(r.list_mailbox("entry"), setting=True)
        r.sp("value")
        values[entry] = None if r.match(_NIL) else r.string("value")
        if r.peek() == 0x29:
            r.pos += 1
            break
        r.sp("entry")
    r.end("SETMETADATA")
    return m.SetMetadata(tag, mailbox, tuple(values.items()))
