"""RFC 5322 address lists -> IMAP ENVELOPE address structures (RFC 3501 section 7.4.2).

How this works: a tokenizer turns the raw (unfolded, not RFC 2047 decoded) field
into atoms, quoted strings, comments, domain literals and specials; a forgiving
parser walks the tokens once and emits ``(name, adl, mailbox, host)`` tuples, with
RFC 3501's group markers ``(NIL NIL "group" NIL)`` ... ``(NIL NIL NIL NIL)``.

Why not :func:`email.utils.getaddresses`: it drops group boundaries and source
routes and unquotes the local part, and :mod:`email.headerregistry` decodes RFC 2047
in names, while IMAP wants the raw name. Obsolete and broken syntax never raises.

A mailbox without a domain (``To: user``) gets host ``"MISSING_DOMAIN"`` and a
missing local part ``"MISSING_MAILBOX"``, as Dovecot does: a NIL host would mark a
group (RFC 3501) and confuse clients.
"""

from __future__ import annotations

from typing import NamedTuple

MISSING_DOMAIN = "MISSING_DOMAIN"
MISSING_MAILBOX = "MISSING_MAILBOX"

_SPECIALS = frozenset('()<>[]:;@\\,."')
_WSP = frozenset(" \t\r\n")

Address = tuple[str | None, str | None, str | None, str | None]

MAX_FIELD = 128 * 1024
"""Longest part of one address field that ENVELOPE reads: the parse costs about 1.5 s
per MB in the worst case (``g:`` repeated), and a field may be as long as the message
(50 MiB), so without a bound one crafted message would hold a worker for a minute at
each FETCH ENVELOPE. 128 KiB is some 3,000 recipients; a longer list is cut at its
last comma before the limit (RFC 3501 has no way to say "and more")."""


class _Tok(NamedTuple):
    kind: str  # "atom", "quoted", "comment", "literal", or the special character itself
    text: str
    space_before: bool


def _scan_delimited(text: str, i: int, close: str) -> tuple[str, int]:
    """Content up to ``close`` with backslash escapes resolved; index after it."""
    out: list[str] = []
    depth = 1
    opener = text[i]
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if close == ")" and ch == opener:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


def tokenize(text: str) -> list[_Tok]:
    """RFC 5322 section 3.2 lexical tokens; whitespace only marks ``space_before``."""
    toks: list[_Tok] = []
    i, space = 0, False
    while i < len(text):
        ch = text[i]
        if ch in _WSP:
            space, i = True, i + 1
            continue
        if ch == '"':
            content, i = _scan_delimited(text, i, '"')
            toks.append(_Tok("quoted", content, space))
        elif ch == "(":
            content, i = _scan_delimited(text, i, ")")
            toks.append(_Tok("comment", content.strip(), space))
        elif ch == "[":
            end = text.find("]", i)
            end = len(text) if end < 0 else end + 1
            toks.append(_Tok("literal", text[i:end], space))
            i = end
        elif ch in _SPECIALS:
            toks.append(_Tok(ch, ch, space))
            i += 1
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIALS and text[i] not in _WSP:
                i += 1
            toks.append(_Tok("atom", text[start:i], space))
        space = False
    return toks


def _phrase(toks: list[_Tok]) -> str | None:
    """A display name: words joined by one space, quotes removed, dots kept."""
    out: list[str] = []
    for tok in toks:
        if tok.kind == "comment":
            continue
        if out and tok.space_before:
            out.append(" ")
        out.append(tok.text)
    name = "".join(out).strip()
    return name or None


def _raw(toks: list[_Tok]) -> str:
    """Local part or domain minus comments and whitespace, quoted strings unquoted
    (``"john doe"@x`` -> ``john doe``), as Dovecot and UW-IMAP send the mailbox name."""
    return "".join(tok.text for tok in toks if tok.kind != "comment")


def _addr_spec(toks: list[_Tok]) -> tuple[str, str]:
    """``local-part "@" domain`` -> (mailbox, host) with the MISSING_* fallbacks."""
    at = max((i for i, t in enumerate(toks) if t.kind == "@"), default=-1)
    if at < 0:
        local, host = _phrase(toks) or "", ""
    else:
        local, host = _raw(toks[:at]), _raw(toks[at + 1 :])
    return local or MISSING_MAILBOX, host or MISSING_DOMAIN


def _angle(toks: list[_Tok], name_toks: list[_Tok]) -> Address:
    """``[display-name] "<" [route] addr-spec ">"``: toks are those inside the brackets."""
    adl = None
    colon = next((i for i, t in enumerate(toks) if t.kind == ":"), -1)
    if colon >= 0 and toks and toks[0].kind == "@":
        adl = _raw(toks[:colon]) or None
        toks = toks[colon + 1 :]
    mailbox, host = _addr_spec(toks)
    return (_phrase(name_toks), adl, mailbox, host)


def _mailbox(toks: list[_Tok]) -> Address | None:
    """One mailbox (name-addr or addr-spec) from the tokens between separators."""
    if not any(t.kind != "comment" for t in toks):
        return None
    lt = next((i for i, t in enumerate(toks) if t.kind == "<"), -1)
    if lt >= 0:
        gt = next((i for i in range(lt + 1, len(toks)) if toks[i].kind == ">"), len(toks))
        return _angle(toks[lt + 1 : gt], toks[:lt])
    # ``addr (Name)``: a comment after the address is taken as the name (Dovecot does
    # the same); one before it is not.
    last = max(i for i, t in enumerate(toks) if t.kind != "comment")
    comments = [t.text for t in toks[last + 1 :] if t.kind == "comment" and t.text]
    mailbox, host = _addr_spec(toks)
    return (comments[-1] if comments else None, None, mailbox, host)


def _split_items(toks: list[_Tok]) -> list[tuple[str, list[_Tok]]]:
    """Split at "," / ":" / ";" outside angle brackets, tagging what ended each item."""
    items: list[tuple[str, list[_Tok]]] = []
    cur: list[_Tok] = []
    in_angle = False
    for tok in toks:
        if tok.kind == "<":
            in_angle = True
        elif tok.kind == ">":
            in_angle = False
        elif not in_angle and tok.kind in (",", ":", ";"):
            items.append((tok.kind, cur))
            cur = []
            continue
        cur.append(tok)
    items.append(("", cur))
    return items


def parse_address_list(value: str | None) -> list[Address] | None:
    """The ENVELOPE address list for a raw field value; ``None`` (NIL) when empty."""
    if value is None:
        return None
    if len(value) > MAX_FIELD:
        cut = value.rfind(",", 0, MAX_FIELD)
        value = value[: cut if cut > 0 else MAX_FIELD]
    out: list[Address] = []
    in_group = False
    for sep, toks in _split_items(tokenize(value)):
        if sep == ":" and not in_group:
            out.append((None, None, _phrase(toks) or "", None))
            in_group = True
            continue
        box = _mailbox(toks)
        if box is not None:
            out.append(box)
        if sep == ";" and in_group:
            out.append((None, None, None, None))
            in_group = False
    if in_group:
        out.append((None, None, None, None))
    return out or None
