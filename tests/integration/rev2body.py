"""RFC 9051 section 9's productions for FETCH's structured items: envelope, body
(BODYSTRUCTURE), date-time and section, for rev2grammar.py."""

from __future__ import annotations

import re
from typing import Any

from integration.rev2lexer import NUMBER63, Cursor

# date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
DATE_TIME = re.compile(
    rb'"( \d|\d\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} '
    rb'\d\d:\d\d:\d\d [+-]\d{4}"', re.IGNORECASE)


def date_time(c: Cursor) -> str:
    m = DATE_TIME.match(c.data, c.pos)
    if not m:
        raise c.fail("expected a date-time")
    c.pos = m.end()
    return m.group()[1:-1].decode()


def address(c: Cursor) -> tuple[bytes | None, ...]:
    """address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"."""
    c.expect(b"(")
    parts = [c.nstring()]
    for _ in range(3):
        c.sp()
        parts.append(c.nstring())
    c.expect(b")")
    return tuple(parts)


def addresses(c: Cursor) -> list[tuple[bytes | None, ...]] | None:
    """env-from and the other address fields: "(" 1*address ")" / nil (no SP between)."""
    if c.nil():
        return None
    c.expect(b"(")
    out = [address(c)]
    while not c.accept(b")"):
        out.append(address(c))
    return out


def envelope(c: Cursor) -> dict[str, Any]:
    c.expect(b"(")
    out: dict[str, Any] = {"date": c.nstring()}
    c.sp()
    out["subject"] = c.nstring()
    for name in ("from", "sender", "reply-to", "to", "cc", "bcc"):
        c.sp()
        out[name] = addresses(c)
    for name in ("in-reply-to", "message-id"):
        c.sp()
        out[name] = c.nstring()
    c.expect(b")")
    return out


def section(c: Cursor, binary: bool = False) -> str:
    """section = "[" [section-spec] "]"; section-binary = "[" [section-part] "]"."""
    start = c.pos
    c.expect(b"[")
    if not c.accept(b"]"):
        part = False
        if c.peek().isdigit():
            part = True
            c.nz_number()
            while c.peek() == b"." and c.data[c.pos + 1:c.pos + 2].isdigit():
                c.pos += 1
                c.nz_number()
        if not binary and (not part or c.accept(b".")):
            _section_text(c, mime=part)
        c.expect(b"]")
    return c.data[start:c.pos].decode()


def _section_text(c: Cursor, mime: bool) -> None:
    words = (b"HEADER.FIELDS.NOT", b"HEADER.FIELDS", b"HEADER", b"TEXT") + (
        (b"MIME",) if mime else ())
    word = c.keyword(*words)
    if word.startswith(b"HEADER.FIELDS"):
        c.sp()
        c.list_of(c.astring, False)  # header-list = "(" header-fld-name *(SP ...) ")"


# -- body ---------------------------------------------------------------------------

def body(c: Cursor) -> dict[str, Any]:
    """body = "(" (body-type-1part / body-type-mpart) ")"."""
    c.expect(b"(")
    if c.peek() == b"(":
        parts = []
        while c.peek() == b"(":
            parts.append(body(c))
        c.sp()
        out: dict[str, Any] = {"type": "MULTIPART", "subtype": _string(c), "parts": parts}
        if c.accept(b" "):  # body-ext-mpart = body-fld-param [SP dsp [SP lang [SP loc ...]]]
            body_fld_param(c)
            _ext_tail(c)
    else:
        out = _one_part(c)
    c.expect(b")")
    return out


def _string(c: Cursor) -> str:
    return c.string().decode(errors="strict")


def _one_part(c: Cursor) -> dict[str, Any]:
    kind = _string(c).upper()
    c.sp()
    sub = _string(c).upper()
    c.sp()
    out: dict[str, Any] = {"type": kind, "subtype": sub, "params": body_fld_param(c)}
    for name in ("id", "description"):
        c.sp()
        out[name] = c.nstring()
    c.sp()
    out["encoding"] = _string(c)
    c.sp()
    out["octets"] = c.number()
    if kind == "MESSAGE" and sub in ("RFC822", "GLOBAL"):  # body-type-msg
        c.sp()
        out["envelope"] = envelope(c)
        c.sp()
        out["body"] = body(c)
        c.sp()
        out["lines"] = c.number(NUMBER63)
    elif kind == "TEXT":  # body-type-text
        c.sp()
        out["lines"] = c.number(NUMBER63)
    if c.accept(b" "):  # body-ext-1part = body-fld-md5 [SP dsp [SP lang [SP loc ...]]]
        c.nstring()
        _ext_tail(c)
    return out


def _ext_tail(c: Cursor) -> None:
    if not c.accept(b" "):
        return
    if not c.nil():  # body-fld-dsp = "(" string SP body-fld-param ")" / nil
        c.expect(b"(")
        c.string()
        c.sp()
        body_fld_param(c)
        c.expect(b")")
    if not c.accept(b" "):
        return
    if c.peek() == b"(":  # body-fld-lang = nstring / "(" string *(SP string) ")"
        c.list_of(c.string, False)
    else:
        c.nstring()
    if not c.accept(b" "):
        return
    c.nstring()  # body-fld-loc
    while c.accept(b" "):
        body_extension(c)


def body_extension(c: Cursor) -> None:
    """body-extension = nstring / number / number64 / "(" body-extension *(SP ...) ")"."""
    if c.peek() == b"(":
        c.list_of(lambda: body_extension(c), False)
    elif c.peek().isdigit():
        c.number(NUMBER63)
    else:
        c.nstring()


def body_fld_param(c: Cursor) -> dict[str, str] | None:
    """body-fld-param = "(" string SP string *(SP string SP string) ")" / nil."""
    if c.nil():
        return None
    c.expect(b"(")
    out = {}
    while True:
        key = _string(c).upper()
        c.sp()
        out[key] = _string(c)
        if c.accept(b")"):
            return out
        c.sp()
