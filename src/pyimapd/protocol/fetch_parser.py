"""FETCH attributes (RFC 3501 sections 6.4.5 and 9).

``fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
"(" fetch-att *(SP fetch-att) ")")``. The macros are expanded here so that the session
only ever sees :class:`FetchAttr` and :class:`FetchSection` items.
"""

from __future__ import annotations

import re

from pyimapd.protocol.arguments import (
    FETCH_ATTRS,
    CommandError,
    FetchAttr,
    FetchBinary,
    FetchItem,
    FetchSection,
)
from pyimapd.protocol.grammar import ParseFailure, Reader, check_number

MACROS: dict[str, tuple[str, ...]] = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
"""RFC 3501 section 6.4.5: ALL, FAST and FULL "Macro equivalent to: (...)"."""

_ATT_NAME = re.compile(rb"[A-Za-z0-9.]+")
_PART = re.compile(rb"[0-9]+(?:\.[0-9]+)*")
_SECTION_TEXT = re.compile(rb"[A-Za-z]+(?:\.[A-Za-z]+)*")
_PARTIAL = re.compile(rb"<([0-9]+)\.([0-9]+)>")


def parse_fetch_items(r: Reader) -> tuple[FetchItem, ...]:
    """The argument after the sequence set: a macro, one fetch-att or a list of them."""
    if r.peek() == 0x28:
        r.pos += 1
        items = list(_fetch_att(r))
        while r.peek() == 0x20:
            r.pos += 1
            items.extend(_fetch_att(r))
        if r.peek() != 0x29:
            raise ParseFailure("Unterminated FETCH attribute list" if r.at_end()
                               else "Invalid FETCH attribute list")
        r.pos += 1
        return tuple(items)
    m = r.match(_ATT_NAME)
    if m is None:
        raise ParseFailure("Missing FETCH attributes" if r.at_end()
                           else "Invalid FETCH attributes")
    name = m.group().upper().decode("ascii")
    if name in MACROS:
        return tuple(FetchAttr(n) for n in MACROS[name])
    return _fetch_att_named(r, name)


def _fetch_att(r: Reader) -> tuple[FetchItem, ...]:
    m = r.match(_ATT_NAME)
    if m is None:
        raise ParseFailure("Missing FETCH attribute" if r.at_end()
                           else "Invalid FETCH attribute")
    return _fetch_att_named(r, m.group().upper().decode("ascii"))


def _fetch_att_named(r: Reader, name: str) -> tuple[FetchItem, ...]:
    """``fetch-att``: a simple name, or ``"BODY" ["." "PEEK"] section [partial]``."""
    if r.peek() == 0x5B and name in ("BODY", "BODY.PEEK"):
        return (_section(r, peek=name == "BODY.PEEK"),)
    if name in _BINARY:
        return (_binary(r, name),)
    if name not in FETCH_ATTRS:
        raise ParseFailure(f"Unknown FETCH attribute {name}")
    if name == "PREVIEW" and _preview_lazy(r):
        name = "PREVIEW (LAZY)"
    return (FetchAttr(name),)


_PREVIEW_MODS = re.compile(rb" \(([A-Za-z]+(?: [A-Za-z]+)*)\)")


def _preview_lazy(r: Reader) -> bool:
    """RFC 8970 section 7: ``"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]``,
    ``preview-mod = "LAZY"``; an unknown modifier is a syntax error."""
    m = r.match(_PREVIEW_MODS)
    if m is None:
        return False
    mods = m.group(1).upper().split()
    if any(mod != b"LAZY" for mod in mods):
        raise ParseFailure("Unknown PREVIEW modifier")
    return True


def _section(r: Reader, peek: bool) -> FetchSection:
    """``section = "[" [section-spec] "]"`` then ``["<" number "." nz-number ">"]``.

    ``section-spec = section-msgtext / (section-part ["." section-text])``;
    ``section-part = nz-number *("." nz-number)``;
    ``section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"``;
    ``section-text = section-msgtext / "MIME"``.
    """
    r.pos += 1  # "["
    part: tuple[int, ...] = ()
    m = r.match(_PART)
    if m is not None:
        part = tuple(check_number(p, "section part", nonzero=True) for p in m.group().split(b"."))
    text = ""
    if r.peek() != 0x5D:
        if part:
            r.char(b".", "section")
        t = r.match(_SECTION_TEXT)
        if t is None:
            raise ParseFailure("Invalid section")
        text = t.group().upper().decode("ascii")
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        r.sp("header list")
        fields = _header_list(r)
    if r.peek() != 0x5D:
        raise ParseFailure("Invalid section")
    r.pos += 1
    partial = _partial(r)
    try:
        return FetchSection(peek=peek, part=part, text=text, fields=fields, partial=partial)
    except CommandError as exc:
        raise ParseFailure(f"Invalid section: {exc}") from exc


def parse_section_spec(spec: bytes) -> FetchSection:
    """``section-spec`` alone (``1.2.MIME``, ``HEADER.FIELDS (TO)``), as an IMAP URL's
    ``;SECTION=`` carries it (RFC 5092 section 11), read by the same rule as FETCH's."""
    r = Reader([b"[" + spec + b"]"], [])
    section = _section(r, peek=True)
    if not r.at_end() or section.partial is not None:
        raise ParseFailure("Invalid section")
    return section


def _partial(r: Reader) -> tuple[int, int] | None:
    """``partial = "<" number "." nz-number ">"`` (RFC 3501 section 9), if one follows."""
    if r.peek() != 0x3C:
        return None
    p = r.match(_PARTIAL)
    if p is None:
        raise ParseFailure("Invalid partial range")
    return (check_number(p.group(1), "partial"),
            check_number(p.group(2), "partial", nonzero=True))


_BINARY = ("BINARY", "BINARY.PEEK", "BINARY.SIZE")


def _binary(r: Reader, name: str) -> FetchBinary:
    """RFC 3516 section 7: ``"BINARY" [".PEEK"] section-binary [partial]`` /
    ``"BINARY.SIZE" section-binary``; ``section-binary = "[" [section-part] "]"``."""
    r.char(b"[", f"{name} section")
    part: tuple[int, ...] = ()
    m = r.match(_PART)
    if m is not None:
        part = tuple(check_number(p, "section part", nonzero=True) for p in m.group().split(b"."))
    r.char(b"]", f"{name} section: only part numbers are allowed")
    partial = _partial(r) if name != "BINARY.SIZE" else None
    try:
        return FetchBinary(peek=name != "BINARY", part=part, partial=partial,
                           size=name == "BINARY.SIZE")
    except CommandError as exc:
        raise ParseFailure(f"Invalid section: {exc}") from exc


def _header_list(r: Reader) -> tuple[str, ...]:
    """``header-list = "(" header-fld-name *(SP header-fld-name) ")"``, upper-cased."""
    r.char(b"(", "header list")
    names = [_field_name(r)]
    while r.peek() == 0x20:
        r.pos += 1
        names.append(_field_name(r))
    r.char(b")", "header list")
    return tuple(names)


def _field_name(r: Reader) -> str:
    """``header-fld-name = astring``; field names are printable ASCII (RFC 5322 2.2)."""
    raw = r.astring("header field name")
    if not raw or any(b < 0x21 or b > 0x7E or b == 0x3A for b in raw):
        raise ParseFailure("Invalid header field name")
    return raw.decode("ascii").upper()
