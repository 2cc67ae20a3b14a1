"""Encoding of server responses (RFC 3501 sections 7 and 9) to bytes.

Values are plain Python data, so that handlers build responses without knowing the
wire rules:

* ``None`` is ``NIL``; an ``int`` is a number;
* :class:`Atom` is sent as written (flags, keywords, response item names);
* ``str`` and ``bytes`` are strings: quoted when RFC 3501's ``quoted`` allows it and the
  value is short, else a literal (``string = quoted / literal``);
* :class:`Literal` forces a literal; ``list`` and ``tuple`` are parenthesized lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyimapd.protocol.utf7 import encode_mailbox_name

CRLF = b"\r\n"
QUOTED_MAX = 1024
"""Longer strings go out as literals: some clients handle long quoted strings badly."""

_QUOTED_BAD_UTF8 = frozenset(b"\r\n\x00")
_QUOTED_BAD = _QUOTED_BAD_UTF8 | frozenset(range(0x80, 0x100))
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x00, 0x20)) | {0x7F}


class Atom(str):
    """Text sent verbatim: flags, keywords, capability names, FETCH item names."""

    __slots__ = ()


class AString(str):
    """Sent as an ``astring``: an atom when every character allows, else a string (RFC
    4314's identifiers and rights)."""

    __slots__ = ()


class Adjacent(tuple):  # type: ignore[type-arg]
    """A parenthesized list whose leading sub-lists are written back to back.

    RFC 3501 section 9 puts no space between the members of ``"(" 1*address ")"`` and
    between the parts of ``body-type-mpart = 1*body SP media-subtype``; everywhere else
    list members are separated by SP. Only the leading run of lists is joined, so the
    multipart's extension data (params, disposition) keeps its spaces.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Literal:
    """A string that must go out as a literal, whatever its content."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox name, encoded to modified UTF-7 and sent as an astring (RFC 3501 5.1.3);
    with ``utf8`` as UTF-8, quoted where it fits (RFC 6855 section 3, RFC 9051 section
    5.1: for a session that enabled UTF8=ACCEPT or IMAP4rev2)."""

    name: str
    utf8: bool = False


Value = None | int | str | bytes | Atom | AString | Literal | Mailbox | Sequence["Value"]


def _quote_ok(data: bytes, utf8: bool = False) -> bool:
    """``utf8``: RFC 6855's ``quoted =/ DQUOTE *uQUOTED-CHAR DQUOTE`` (8-bit allowed)."""
    bad = _QUOTED_BAD_UTF8 if utf8 else _QUOTED_BAD
    return len(data) <= QUOTED_MAX and not any(b in bad for b in data)


def literal_prefix(size: int, binary: bool = False) -> bytes:
    """``{size}`` CRLF, or ``~{size}`` CRLF for a literal8 (RFC 3516: the value may hold
    NUL), before ``size`` bytes the caller sends (streamed, for a large value). An empty
    value is ``""``: a string either way (``string = quoted / literal``), and what
    Dovecot sends, so clients that compare answers see one form."""
    if size == 0:
        return b'""'
    return (b"~{%d}\r\n" if binary else b"{%d}\r\n") % size


def literal(data: bytes, binary: bool = False) -> bytes:
    """A complete literal (RFC 3501 section 4.3) of ``data``."""
    return literal_prefix(len(data), binary) + data


def encode_string(data: bytes | str, utf8: bool = False) -> bytes:
    """``string``: a quoted string when possible, else a literal."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _quote_ok(raw, utf8):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(raw)


def encode_astring(data: bytes | str, utf8: bool = False) -> bytes:
    """``astring``: an atom when every octet is an ASTRING-CHAR, else a string."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # NIL as an atom would read as nil where an nstring is possible: quote it.
    if raw and raw.upper() != b"NIL" and not any(b in _ATOM_SPECIALS or b >= 0x80 for b in raw):
        return raw
    return encode_string(raw, utf8)


def encode_value(value: Value) -> bytes:
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("booleans have no IMAP encoding")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, Atom):
        return value.encode("utf-8")
    if isinstance(value, AString):
        return encode_astring(value)
    if isinstance(value, str | bytes):
        return encode_string(value)
    if isinstance(value, Literal):
        return literal(value.data)
    if isinstance(value, Mailbox) and value.utf8:
        return encode_astring(value.name, utf8=True)
    if isinstance(value, Mailbox):
        return encode_astring(encode_mailbox_name(value.name))
    if isinstance(value, Adjacent):
        return _encode_adjacent(value)
    return b"(" + b" ".join(encode_value(v) for v in value) + b")"


def _encode_adjacent(value: Adjacent) -> bytes:
    lead = 0
    while lead < len(value) and isinstance(value[lead], list | tuple):
        lead += 1
    head = b"".join(encode_value(v) for v in value[:lead])
    tail = [encode_value(v) for v in value[lead:]]
    return b"(" + b" ".join([head, *tail] if head else tail) + b")"


def encode_values(values: Iterable[Value]) -> bytes:
    return b" ".join(encode_value(v) for v in values)


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """``resp-text-code``: ``[NAME]`` or ``[NAME args]``. ``args`` is pre-encoded text or
    a list of values (encoded as a parenthesized list, as PERMANENTFLAGS needs)."""

    name: str
    args: str | Sequence[Value] | None = None

    def encode(self) -> bytes:
        if self.args is None:
            return b"[" + self.name.encode() + b"]"
        if isinstance(self.args, str):
            return b"[" + self.name.encode() + b" " + self.args.encode() + b"]"
        return b"[" + self.name.encode() + b" " + encode_value(self.args) + b"]"


def _resp_text(text: str, code: ResponseCode | None) -> bytes:
    body = text.replace("\r", " ").replace("\n", " ").encode("utf-8")
    if code is None:
        return body
    return code.encode() + (b" " + body if body else b"")


def tagged(tag: str, status: str, text: str, code: ResponseCode | None = None) -> bytes:
    """``tag SP resp-cond-state CRLF``; ``status`` is OK, NO or BAD."""
    return tag.encode() + b" " + status.encode() + b" " + _resp_text(text, code) + CRLF


def untagged_status(status: str, text: str, code: ResponseCode | None = None) -> bytes:
    """``* OK/NO/BAD/BYE/PREAUTH [code] text``."""
    return b"* " + status.encode() + b" " + _resp_text(text, code) + CRLF


def untagged(*values: Value) -> bytes:
    """``* `` followed by the values separated by spaces, e.g. ``untagged(3, Atom("EXISTS"))``."""
    return b"* " + encode_values(values) + CRLF


def continuation(text: str = "") -> bytes:
    """``+ text``: the continuation request of RFC 3501 section 7.5."""
    return b"+ " + text.encode("utf-8") + CRLF


def urlfetch_prefix(url: str, size: int | None) -> bytes:
    """``"URLFETCH" SP url SP nstring`` of RFC 4467 section 9 up to the data: the URL and
    NIL (``size`` None: a URL that did not verify, the line is complete) or the
    literal's prefix before ``size`` octets the caller streams, then :data:`CRLF`."""
    head = b"* URLFETCH " + encode_string(url) + b" "
    return head + b"NIL" + CRLF if size is None else head + literal_prefix(size)
