"""Arguments of the mailbox commands of RFC 3501 section 6.3 and their extensions:
CREATE (with RFC 6154 USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (RFC 5258
LIST-EXTENDED, RFC 5819 LIST-STATUS), LSUB and STATUS. Split from ``parser.py``, which
keeps the command table and the framing-related APPEND head."""

from __future__ import annotations

import re
from collections.abc import Callable

from pyimapd.protocol import commands as c
from pyimapd.protocol.grammar import ATOM_PATTERN, ParseFailure, Reader, decode_mailbox

STATUS_ATTS = c.STATUS_ITEMS | {"HIGHESTMODSEQ", "SIZE", "DELETED", "DELETED-STORAGE", "MAILBOXID"}
"""``status-att`` of RFC 3501 plus CONDSTORE (RFC 7162), STATUS=SIZE / IMAP4rev2 ones and
QUOTA's DELETED-STORAGE (RFC 9208 section 4.1.4); the session decides which it supports."""

_Handler = Callable[[Reader, str, bool], c.Command]

_PARAMS_START = re.compile(rb" \(")


def one_mailbox(cls: type[c.Create | c.Delete | c.Subscribe | c.Unsubscribe],
                 name: str) -> _Handler:
    """``select = "SELECT" SP mailbox`` and the other one-mailbox commands."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp("mailbox name")
        mailbox = r.mailbox()
        r.end(name)
        return cls(tag, mailbox)

    return handler


def create(r: Reader, tag: str, uid: bool) -> c.Command:
    """``create = "CREATE" SP mailbox [create-params]`` (RFC 4466 section 2.2) with
    RFC 6154's ``create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"``."""
    r.sp("mailbox name")
    mailbox = r.mailbox()
    use: tuple[str, ...] | None = None
    if r.match(_PARAMS_START) is not None:
        while True:
            param = r.atom("CREATE parameter").decode("ascii").upper()
            if param != "USE" or use is not None:
                raise ParseFailure(f"Unknown or repeated CREATE parameter {param}")
            r.sp("USE attributes")
            use = _use_attrs(r)
            if r.peek() != 0x20:
                break
            r.pos += 1
        r.char(b")", "CREATE parameters")
    r.end("CREATE")
    return c.Create(tag, mailbox, use)


_USE_ATTR = re.compile(rb"\\" + ATOM_PATTERN)


def _use_attrs(r: Reader) -> tuple[str, ...]:
    """``"(" [use-attr *(SP use-attr)] ")"``; ``use-attr-ext = "\\" atom`` (RFC 6154)."""
    r.char(b"(", "USE attributes")
    attrs: list[str] = []
    while r.peek() != 0x29:
        if attrs:
            r.sp("USE attribute")
        m = r.match(_USE_ATTR)
        if m is None:
            raise ParseFailure("Invalid USE attribute: expected \\ and a name")
        attrs.append(m.group().decode("ascii"))
    r.pos += 1
    return tuple(attrs)


def rename(r: Reader, tag: str, uid: bool) -> c.Command:
    """``rename = "RENAME" SP mailbox SP mailbox``."""
    r.sp("mailbox name")
    old = r.mailbox()
    r.sp("new mailbox name")
    new = r.mailbox("new mailbox name")
    r.end("RENAME")
    return c.Rename(tag, old, new)


def list_like(cls: type[c.List | c.Lsub], name: str) -> _Handler:
    """``list = "LIST" SP mailbox SP list-mailbox`` (and LSUB alike)."""

    def handler(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp("reference name")
        reference = r.mailbox("reference name")
        r.sp("mailbox pattern")
        pattern = _decode_pattern(r.list_mailbox("mailbox pattern"))
        r.end(name)
        return cls(tag, reference, pattern)

    return handler


def list_(r: Reader, tag: str, uid: bool) -> c.Command:
    """``list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    [SP list-return-opts]`` (RFC 5258 section 6), ``patterns = "(" list-mailbox
    *(SP list-mailbox) ")"``, with RFC 5819's ``status-option`` among the return options.
    Option names are case-insensitive; the command checks which it knows."""
    r.sp("reference name")
    extended = r.peek() == 0x28
    select = _list_options(r, "selection option") if extended else []
    if extended:
        r.sp("reference name")
    reference = r.mailbox("reference name")
    r.sp("mailbox pattern")
    if r.peek() == 0x28:
        extended = True
        r.pos += 1
        patterns = [_decode_pattern(r.list_mailbox("mailbox pattern"))]
        while r.peek() == 0x20:
            r.pos += 1
            patterns.append(_decode_pattern(r.list_mailbox("mailbox pattern")))
        r.char(b")", "mailbox patterns")
    else:
        patterns = [_decode_pattern(r.list_mailbox("mailbox pattern"))]
    returns: list[str] = []
    status: list[str] = []
    if not r.at_end():
        extended = True
        r.sp("RETURN")
        if r.atom("RETURN").upper() != b"RETURN":
            raise ParseFailure("Expected RETURN after the mailbox patterns")
        r.sp("return options")
        returns = _list_options(r, "return option", status)
    r.end("LIST")
    return c.List(tag, reference, patterns[0], tuple(patterns[1:]), frozenset(select),
                  frozenset(returns), tuple(dict.fromkeys(status)), extended)


def _list_options(r: Reader, what: str, status: list[str] | None = None) -> list[str]:
    """``"(" [option *(SP option)] ")"``, upper-cased. With ``status`` given, a
    ``STATUS SP "(" status-att *(SP status-att) ")"`` option adds its items there."""
    r.char(b"(", f"LIST {what}s")
    names: list[str] = []
    while r.peek() != 0x29:
        if names:
            r.sp(f"LIST {what}")
        names.append(r.atom(f"LIST {what}").decode("ascii").upper())
        if names[-1] == "STATUS" and status is not None:
            r.sp("status items")
            r.char(b"(", "status items")
            status.append(_status_att(r))
            while r.peek() == 0x20:
                r.pos += 1
                status.append(_status_att(r))
            r.char(b")", "status items")
    r.pos += 1
    return names


def _decode_pattern(raw: bytes) -> str:
    """A list-mailbox pattern is decoded like a name; ``*`` and ``%`` pass through."""
    return decode_mailbox(raw, "mailbox pattern")


def status(r: Reader, tag: str, uid: bool) -> c.Command:
    """``status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"``."""
    r.sp("mailbox name")
    mailbox = r.mailbox()
    r.sp("status items")
    r.char(b"(", "status items")
    if r.peek() == 0x29:
        raise ParseFailure("Empty STATUS item list")
    items = [_status_att(r)]
    while r.peek() == 0x20:
        r.pos += 1
        items.append(_status_att(r))
    r.char(b")", "status items")
    r.end("STATUS")
    return c.Status(tag, mailbox, tuple(items))


def _status_att(r: Reader) -> str:
    name = r.atom("status item").decode("ascii").upper()
    if name not in STATUS_ATTS:
        raise ParseFailure(f"Unknown status item {name}")
    return name
