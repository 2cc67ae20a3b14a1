"""A strict parser of what an IMAP4rev2 server sends (RFC 9051 section 9), with the
extensions a rev2 client enables here: CONDSTORE/QRESYNC (RFC 7162: MODSEQ, VANISHED,
HIGHESTMODSEQ), OBJECTID (RFC 8474), PREVIEW (RFC 8970), MULTISEARCH (RFC 7377), LIST-
EXTENDED (RFC 5258), PARTIAL (RFC 9394), UIDPLUS codes, SAVEDATE (RFC 8514).

It is written for a session that has ENABLEd IMAP4rev2, so the obsolete forms RFC 9051
keeps for rev1 servers (``* n RECENT``, ``* SEARCH``, ``\\Recent`` in FETCH FLAGS, STATUS
RECENT, ``[UNSEEN n]``, FETCH RFC822*) are errors. ``parse`` returns a Response whose
``data`` holds the parsed values, for the test's semantic checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from integration.rev2body import body, date_time, envelope, section
from integration.rev2lexer import NUMBER63, Cursor, GrammarError

__all__ = ["GrammarError", "Response", "parse"]


@dataclass
class Response:
    """One parsed response: ``kind`` is "tagged", "continue", "cond" (untagged
    OK/NO/BAD/BYE/PREAUTH) or the response's keyword ("FETCH", "LIST", ...)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def parse(line: bytes, greeting: bool = False) -> Response:
    """One whole response (no final CRLF; literals inline). ``greeting`` allows PREAUTH."""
    c = Cursor(line[:-2] if line.endswith(b"\r\n") else line)
    if c.accept(b"+"):
        c.sp()  # continue-req = "+" SP (resp-text / base64)
        out = Response("continue", {"text": resp_text(c)})
    elif c.accept(b"* "):
        out = response_data(c, greeting)
    else:
        tag = tag_(c)
        c.sp()
        status = c.keyword(b"OK", b"NO", b"BAD").decode()
        c.sp()
        out = Response("tagged", {"tag": tag, "status": status, **resp_text(c)})
    c.end()
    return out


def tag_(c: Cursor) -> str:
    """tag = 1*<any ASTRING-CHAR except "+">."""
    start = c.pos
    value = c.astring() if c.peek() not in (b'"', b"{") else b""
    if not value or b"+" in value:
        c.pos = start
        raise c.fail("expected a tag")
    return value.decode()


def response_data(c: Cursor, greeting: bool) -> Response:
    conds = (b"OK", b"NO", b"BAD", b"BYE") + ((b"PREAUTH",) if greeting else ())
    if c.peek().isdigit():
        return numbered(c)
    start = c.pos
    word = c.atom().upper()
    c.pos = start
    if word in conds:
        status = c.keyword(*conds).decode()
        c.sp()
        return Response("cond", {"status": status, **resp_text(c)})
    handler = MAILBOX_DATA.get(word)
    if handler is None:
        raise c.fail(f"not an IMAP4rev2 response: {word.decode(errors='replace')}")
    c.keyword(word)
    return Response(word.decode(), handler(c))


# -- resp-text and its codes ----------------------------------------------------------

def resp_text(c: Cursor) -> dict[str, Any]:
    """resp-text = ["[" resp-text-code "]" SP] [text]."""
    out: dict[str, Any] = {"code": None, "code_data": None}
    if c.accept(b"["):
        start = c.pos
        name = c.atom().upper()
        c.pos = start
        out["code"] = name.decode()
        out["code_data"] = resp_text_code(c, name)
        c.expect(b"]")
        c.sp()
    out["text"] = c.text()
    return out


def _none(_c: Cursor) -> None:
    return None


def _flag_perm(c: Cursor) -> str:
    return "\\*" if c.accept(b"\\*") else flag(c)


def _copyuid(c: Cursor) -> tuple[int, str, str]:
    validity = c.nz_number()
    c.sp()
    src = c.sequence_set(star=False)
    c.sp()
    return validity, src, c.sequence_set(star=False)


def _appenduid(c: Cursor) -> tuple[int, str]:
    validity = c.nz_number()
    c.sp()
    return validity, c.sequence_set(star=False)  # append-uid = uniqueid (uid-set: MULTIAPPEND)


def _inprogress(c: Cursor) -> list[object]:
    """RFC 9585: "INPROGRESS" [SP "(" tag-string SP (number / nil) SP (nz-number / nil) ")"]."""
    c.sp()
    c.expect(b"(")
    out: list[object] = [c.astring()]
    for _ in range(2):
        c.sp()
        out.append(None if c.nil() else c.number())
    c.expect(b")")
    return out


def _sp_then(reader: Callable[[Cursor], Any]) -> Callable[[Cursor], Any]:
    def read(c: Cursor) -> Any:
        c.sp()
        return reader(c)
    return read


CODES: dict[bytes, Callable[[Cursor], Any]] = {
    **{name: _none for name in (
        b"ALERT", b"PARSE", b"READ-ONLY", b"READ-WRITE", b"TRYCREATE", b"UIDNOTSTICKY",
        b"UNAVAILABLE", b"AUTHENTICATIONFAILED", b"AUTHORIZATIONFAILED", b"EXPIRED",
        b"PRIVACYREQUIRED", b"CONTACTADMIN", b"NOPERM", b"INUSE", b"EXPUNGEISSUED",
        b"CORRUPTION", b"SERVERBUG", b"CLIENTBUG", b"CANNOT", b"LIMIT", b"OVERQUOTA",
        b"ALREADYEXISTS", b"NONEXISTENT", b"NOTSAVED", b"HASCHILDREN", b"CLOSED",
        b"UNKNOWN-CTE", b"NOMODSEQ", b"UIDREQUIRED")},
    b"BADCHARSET": lambda c: c.list_of(c.astring, False) if c.accept(b" ") else None,
    b"CAPABILITY": lambda c: capabilities(c),
    b"PERMANENTFLAGS": _sp_then(lambda c: c.list_of(lambda: _flag_perm(c))),
    b"UIDNEXT": _sp_then(lambda c: c.nz_number()),
    b"UIDVALIDITY": _sp_then(lambda c: c.nz_number()),
    b"APPENDUID": _sp_then(_appenduid),
    b"COPYUID": _sp_then(_copyuid),
    b"HIGHESTMODSEQ": _sp_then(lambda c: c.nz_number(NUMBER63)),  # RFC 7162 section 7
    b"MODIFIED": _sp_then(lambda c: c.sequence_set(star=False)),
    b"MAILBOXID": _sp_then(lambda c: c.objectid()),  # RFC 8474 section 4
    b"NOUPDATE": _sp_then(lambda c: c.quoted()),  # RFC 5267
    b"INPROGRESS": lambda c: _inprogress(c) if c.peek() == b" " else None,
}
# Codes RFC 9051 Appendix E removed: the generic atom rule would take them, but a rev2
# session must not see them.
NOT_REV2_CODES = {b"UNSEEN", b"NEWNAME"}


def resp_text_code(c: Cursor, name: bytes) -> Any:
    if name in NOT_REV2_CODES:
        raise c.fail(f"{name.decode()} is not a response code of IMAP4rev2")
    reader = CODES.get(name)
    c.keyword(name) if reader else c.atom()
    if reader:
        return reader(c)
    if c.accept(b" "):  # atom [SP 1*<any TEXT-CHAR except "]">]
        start = c.pos
        while c.peek() not in (b"]", b"") and c.peek() not in (b"\r", b"\n"):
            c.pos += 1
        if start == c.pos:
            raise c.fail("empty response code argument")
        return c.data[start:c.pos].decode()
    return None


def capabilities(c: Cursor) -> list[str]:
    """capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev2" *(SP capability)."""
    caps = []
    while c.accept(b" "):
        caps.append(c.atom().decode())
    if "IMAP4REV2" not in (cap.upper() for cap in caps):
        raise c.fail("CAPABILITY without IMAP4rev2")
    return caps


# -- flags and mailbox-data -----------------------------------------------------------

def flag(c: Cursor) -> str:
    """flag = "\\" atom / atom (system flags, flag-keyword, flag-extension)."""
    if c.accept(b"\\"):
        return "\\" + c.atom().decode()
    return c.atom().decode()


def flag_fetch(c: Cursor) -> str:
    start = c.pos
    value = flag(c)
    if value.upper() == "\\RECENT":
        c.pos = start
        raise c.fail("\\Recent is not in IMAP4rev2")
    return value


SELECTABILITY = {"\\NONEXISTENT", "\\NOSELECT", "\\MARKED", "\\UNMARKED"}


def mailbox_list(c: Cursor) -> dict[str, Any]:
    """mailbox-list with mbx-list-flags (one selectability flag at most) and RFC 5258's
    mbox-list-extended (CHILDINFO, OLDNAME)."""
    c.sp()
    start = c.pos
    flags = c.list_of(lambda: _list_flag(c))
    if sum(1 for f in flags if str(f).upper() in SELECTABILITY) > 1:
        c.pos = start
        raise c.fail("more than one selectability flag")
    c.sp()
    delim = None if c.nil() else _one_char_quoted(c)
    c.sp()
    name = mailbox(c)
    ext: dict[str, Any] = {}
    if c.accept(b" "):
        c.list_of(lambda: _list_ext_item(c, ext))
    return {"flags": flags, "delimiter": delim, "mailbox": name, "extended": ext}


def _list_flag(c: Cursor) -> str:
    """mbx-list-oflag / mbx-list-sflag: all of the form "\\" atom."""
    c.expect(b"\\")
    return "\\" + c.atom().decode()


def _one_char_quoted(c: Cursor) -> str:
    c.expect(b'"')
    char = c.quoted_char()
    c.expect(b'"')
    return char.decode()


def _list_ext_item(c: Cursor, out: dict[str, Any]) -> None:
    tag = c.astring().upper()
    c.sp()
    if tag == b"CHILDINFO":  # RFC 5258 section 4: "(" string *(SP string) ")"
        out["CHILDINFO"] = c.list_of(c.string, False)
    elif tag == b"OLDNAME":  # RFC 5465 section 5.4 / RFC 9051 section 7.3.1
        out["OLDNAME"] = c.list_of(lambda: mailbox(c), False)
    else:
        out[tag.decode()] = tagged_ext_val(c)


def mailbox(c: Cursor) -> str:
    """mailbox = "INBOX" / astring; in rev2 and UTF8=ACCEPT a name is UTF-8."""
    raw = c.astring()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise c.fail("mailbox name is not UTF-8") from None


def tagged_ext_val(c: Cursor) -> Any:
    """tagged-ext-val = tagged-ext-simple / "(" [tagged-ext-comp] ")"."""
    if c.peek() != b"(":
        return c.sequence_set() if c.peek()[:1].isdigit() or c.peek() == b"*" else c.atom()
    c.expect(b"(")
    items: list[Any] = []
    while not c.accept(b")"):
        if items:
            c.sp()
        items.append(tagged_ext_val(c) if c.peek() == b"(" else c.astring())
    return items


def status(c: Cursor) -> dict[str, Any]:
    c.sp()
    name = mailbox(c)
    c.sp()
    atts: dict[str, Any] = {}

    def att() -> None:
        key = c.keyword(*STATUS_ATTS).decode()
        c.sp()
        if key in atts:
            raise c.fail(f"{key} twice")
        atts[key] = STATUS_ATTS[key.encode()](c)

    c.list_of(att)
    return {"mailbox": name, "attributes": atts}


STATUS_ATTS: dict[bytes, Callable[[Cursor], Any]] = {
    b"MESSAGES": lambda c: c.number(), b"UIDNEXT": lambda c: c.nz_number(),
    b"UIDVALIDITY": lambda c: c.nz_number(), b"UNSEEN": lambda c: c.number(),
    b"DELETED": lambda c: c.number(), b"SIZE": lambda c: c.number(NUMBER63),
    b"HIGHESTMODSEQ": lambda c: c.number(NUMBER63),  # mod-sequence-valzer (RFC 7162)
    b"MAILBOXID": lambda c: c.objectid(), b"APPENDLIMIT": lambda c: None if c.nil() else c.number(),
    b"DELETED-STORAGE": lambda c: c.number(NUMBER63),  # RFC 9208
}


def esearch(c: Cursor) -> dict[str, Any]:
    """esearch-response with RFC 7377's correlator (TAG t MAILBOX m UIDVALIDITY v)."""
    out: dict[str, Any] = {"tag": None, "mailbox": None, "uidvalidity": None,
                           "uid": False, "returns": {}}
    if c.looking_at(b" ("):
        c.expect(b" (")
        c.keyword(b"TAG")
        c.sp()
        out["tag"] = c.astring().decode()
        if c.accept(b" "):
            c.keyword(b"MAILBOX")
            c.sp()
            out["mailbox"] = mailbox(c)
            c.sp()
            c.keyword(b"UIDVALIDITY")
            c.sp()
            out["uidvalidity"] = c.nz_number()
        c.expect(b")")
    if c.looking_at(b" UID") and c.data[c.pos + 4:c.pos + 5] in (b"", b" "):
        c.pos += 4
        out["uid"] = True
    while c.accept(b" "):
        key = c.atom().upper()
        c.sp()
        out["returns"][key.decode()] = SEARCH_RETURNS.get(key, tagged_ext_val)(c)
    return out


def _partial(c: Cursor) -> tuple[str, str | None]:
    """RFC 9394: "PARTIAL" SP "(" partial-range SP (sequence-set / "NIL") ")", the range
    nz-number ":" nz-number or its negative form "-n:-m"."""
    c.expect(b"(")
    minus = c.accept(b"-")
    rng = ("-" if minus else "") + str(c.nz_number())
    c.expect(b":" + (b"-" if minus else b""))
    rng += ":" + ("-" if minus else "") + str(c.nz_number())
    c.sp()
    found = None if c.nil() else c.sequence_set(star=False)
    c.expect(b")")
    return rng, found


SEARCH_RETURNS: dict[bytes, Callable[[Cursor], Any]] = {
    b"MIN": lambda c: c.nz_number(), b"MAX": lambda c: c.nz_number(),
    b"ALL": lambda c: c.sequence_set(star=False), b"COUNT": lambda c: c.number(),
    b"MODSEQ": lambda c: c.nz_number(NUMBER63), b"PARTIAL": _partial,
}


def namespace_response(c: Cursor) -> dict[str, Any]:
    out = {}
    for kind in ("personal", "other", "shared"):
        c.sp()
        out[kind] = None if c.nil() else _namespaces(c)
    return out


def _namespaces(c: Cursor) -> list[tuple[str, str | None]]:
    """namespace = nil / "(" 1*namespace-descr ")": no SP between the descriptions."""
    c.expect(b"(")
    out = [_namespace_descr(c)]
    while not c.accept(b")"):
        out.append(_namespace_descr(c))
    return out


def _namespace_descr(c: Cursor) -> tuple[str, str | None]:
    c.expect(b"(")
    prefix = c.string().decode()
    c.sp()
    delim = None if c.nil() else _one_char_quoted(c)
    while c.accept(b" "):  # namespace-response-extension
        c.string()
        c.sp()
        c.list_of(c.string, False)
    c.expect(b")")
    return prefix, delim


def vanished(c: Cursor) -> dict[str, Any]:
    """RFC 7162 section 7: "VANISHED" [SP "(EARLIER)"] SP known-uids."""
    earlier = c.accept(b" (EARLIER)")
    c.sp()
    return {"earlier": earlier, "uids": c.sequence_set(star=False)}


MAILBOX_DATA: dict[bytes, Callable[[Cursor], dict[str, Any]]] = {
    b"CAPABILITY": lambda c: {"capabilities": capabilities(c)},
    b"ENABLED": lambda c: {"enabled": _enabled(c)},
    b"FLAGS": lambda c: {"flags": (c.sp(), c.list_of(lambda: flag(c)))[1]},
    b"LIST": mailbox_list,
    b"STATUS": status,
    b"ESEARCH": esearch,
    b"NAMESPACE": namespace_response,
    b"VANISHED": vanished,
}


def _enabled(c: Cursor) -> list[str]:
    caps = []
    while c.accept(b" "):
        caps.append(c.atom().decode())
    return caps


# -- number EXISTS and message-data ---------------------------------------------------

def numbered(c: Cursor) -> Response:
    start = c.pos
    n = c.number()
    c.sp()
    word = c.keyword(b"EXISTS", b"EXPUNGE", b"FETCH", b"RECENT")
    if word == b"RECENT":
        c.pos = start
        raise c.fail("* n RECENT is not in IMAP4rev2")
    if word == b"EXISTS":
        return Response("EXISTS", {"count": n})
    if n == 0:
        c.pos = start
        raise c.fail("message-data needs an nz-number")
    if word == b"EXPUNGE":
        return Response("EXPUNGE", {"seq": n})
    c.sp()
    items: dict[str, Any] = {}
    c.list_of(lambda: _msg_att(c, items), False)
    return Response("FETCH", {"seq": n, "items": items})


def _msg_att(c: Cursor, items: dict[str, Any]) -> None:
    start = c.pos
    name = c.keyword(*MSG_ATTS).decode()
    key = name
    if name in ("BODY", "BINARY", "BINARY.SIZE") and c.peek() == b"[":
        key = name + section(c, binary=name != "BODY")
        if name == "BODY" and c.accept(b"<"):
            key += f"<{c.number()}>"
            c.expect(b">")
    elif name == "BINARY":
        raise c.fail("BINARY needs a section")
    c.sp()
    if key in items:
        c.pos = start
        raise c.fail(f"{key} twice in one FETCH")
    if key.startswith("BINARY["):
        items[key] = c.literal(eight=True) if c.peek() == b"~" else c.nstring()
    elif key.startswith("BINARY.SIZE["):
        items[key] = c.number()
    elif key.startswith("BODY["):
        items[key] = c.nstring()
    else:
        items[key] = MSG_ATTS[name.encode()](c)


MSG_ATTS: dict[bytes, Callable[[Cursor], Any]] = {
    b"FLAGS": lambda c: c.list_of(lambda: flag_fetch(c)),
    b"ENVELOPE": envelope,
    b"INTERNALDATE": date_time,
    b"RFC822.SIZE": lambda c: c.number(NUMBER63),
    b"BODY": body, b"BODYSTRUCTURE": body,
    b"BINARY": lambda c: None, b"BINARY.SIZE": lambda c: None,
    b"UID": lambda c: c.nz_number(),
    b"MODSEQ": lambda c: c.list_of(lambda: c.nz_number(NUMBER63), False)[0],
    b"EMAILID": lambda c: c.objectid(),
    b"THREADID": lambda c: None if c.nil() else c.objectid(),
    b"PREVIEW": lambda c: c.nstring(),  # RFC 8970 section 6: "PREVIEW" SP nstring
    b"SAVEDATE": lambda c: None if c.nil() else date_time(c),  # RFC 8514
}
