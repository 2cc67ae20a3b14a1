"""Header field splitting and the MIME header grammars (RFC 5322 2.2, RFC 2045, 2231).

Fields are kept raw: ``split_fields`` returns each complete field with its folded
lines, as HEADER.FIELDS needs; ``unfold`` removes CRLF before WSP (RFC 5322 section
2.2.3). Parameter lists (Content-Type, Content-Disposition) are parsed here with a
small scanner that honours quoted strings and comments. RFC 2231 continuations are
joined but charsets are not decoded: ``name*0*=utf-8''a%20b; name*1=c`` becomes
``name*`` = ``utf-8''a%20bc``, as Dovecot sends it, so BODYSTRUCTURE stays 7-bit
and keeps the charset for the client to apply (as ENVELOPE keeps RFC 2047 words).
"""

from __future__ import annotations

import re

_FIELD_SPLIT = re.compile(rb"(?<=\n)(?![ \t])")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~\x80-\U0010ffff]+")
"""RFC 2045 ``token`` (any CHAR but SPACE, CTLs and tspecials); 8-bit tolerated."""


def to_text(raw: bytes) -> str:
    """Bytes -> str without loss: UTF-8 (RFC 6532), other octets as lone surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def split_fields(header: bytes) -> list[tuple[bytes | None, bytes]]:
    """Split a header block into ``(lower-case name or None, complete raw field)``.

    A field is a line plus its continuation lines (those starting with WSP); the raw
    bytes include the line breaks. The blank line ending the header is dropped. A line
    without a colon gives name ``None`` (it is not a field, but callers keep offsets).
    """
    out: list[tuple[bytes | None, bytes]] = []
    for chunk in _FIELD_SPLIT.split(header):
        if not chunk or chunk in (b"\r\n", b"\n"):
            continue
        colon = chunk.find(b":")
        if colon <= 0 or b"\n" in chunk[:colon]:
            out.append((None, chunk))
            continue
        name = chunk[:colon].strip(b" \t").lower()
        out.append((name or None, chunk))
    return out


def field_value(field: bytes) -> bytes:
    """The unfolded value of a raw field, without leading/trailing whitespace."""
    value = field[field.find(b":") + 1 :]
    return _FOLD.sub(b"", value).strip(b" \t\r\n")


def parse_fields(header: bytes) -> dict[str, str]:
    """First occurrence of each field, name lower-cased, value unfolded and raw."""
    out: dict[str, str] = {}
    for name, field in split_fields(header):
        if name is None:
            continue
        key = name.decode("ascii", "replace")
        if key not in out:
            out[key] = to_text(field_value(field))
    return out


def skip_comment(text: str, i: int) -> int:
    """Index after the (nested) comment starting at ``text[i] == '('``."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Content of the quoted string starting at ``text[i] == '"'`` and the next index
    (``len(text) + 1`` when the closing quote is missing)."""
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i + 1


def _segments(text: str) -> list[tuple[str, str | None]]:
    """Split at ``;`` outside quotes and comments, dropping comments.

    Each segment is ``(text outside quotes, content of its quoted string or None)``.
    """
    segments: list[tuple[str, str | None]] = []
    buf: list[str] = []
    quoted: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            i = skip_comment(text, i)
        elif ch == '"':
            content, i = _read_quoted(text, i)
            if i > len(text):  # unterminated: the parameter is dropped (as Dovecot does)
                buf, quoted = ["\x00"], None
                break
            quoted = content if quoted is None else quoted + content
        elif ch == ";":
            segments.append(("".join(buf), quoted))
            buf, quoted = [], None
            i += 1
        else:
            buf.append(ch)
            i += 1
    segments.append(("".join(buf), quoted))
    return segments


def _flat(segment: tuple[str, str | None]) -> str:
    return segment[0] + (segment[1] or "")


def _raw_params(segments: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """``name=value`` segments -> (lower-case name, unquoted value)."""
    out: list[tuple[str, str]] = []
    for seg, quoted in segments:
        name, eq, value = seg.partition("=")
        name = name.strip().lower()
        if not eq or not name or not _TOKEN.fullmatch(name):
            continue
        out.append((name, quoted if quoted is not None else value.strip()))
    return out


_SECTION = re.compile(r"(.+?)\*(\d+)(\*?)")


def decode_param_list(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """RFC 2231 section 3: join ``name*0``, ``name*1``... in index order; the result is
    called ``name*`` when a segment is extended (``*N*``, charset'language'%XX), else
    ``name``. Values are not charset-decoded. Plain parameters keep their order and
    come first, joined ones follow in order of first appearance (Dovecot's order).
    """
    plain: list[tuple[str, str]] = []
    joined: dict[str, list[tuple[int, bool, str]]] = {}
    for name, value in raw:
        m = _SECTION.fullmatch(name)
        if m is None:
            plain.append((name, value))
        else:
            joined.setdefault(m.group(1), []).append((int(m.group(2)), bool(m.group(3)), value))
    out = list(plain)
    for base, pieces in joined.items():
        pieces.sort(key=lambda piece: piece[0])
        extended = any(piece[1] for piece in pieces)
        out.append((base + "*" if extended else base, "".join(p[2] for p in pieces)))
    return out


def parse_content_type(value: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``type/subtype *(; param)`` (RFC 2045 section 5.1), lower-cased type names.

    Returns ``None`` for a syntactically invalid value, which RFC 2045 section 5.2
    says should be treated as if absent (text/plain; charset=us-ascii).
    """
    segments = _segments(value)
    head = _flat(segments[0])
    maintype, slash, subtype = (re.sub(r"\s+", "", head)).partition("/")
    if not slash or not _TOKEN.fullmatch(maintype) or not _TOKEN.fullmatch(subtype):
        return None
    return maintype.lower(), subtype.lower(), decode_param_list(_raw_params(segments[1:]))


def parse_disposition(value: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Content-Disposition (RFC 2183): ``type *(; param)``, type lower-cased."""
    segments = _segments(value)
    kind = _flat(segments[0]).strip()
    if not _TOKEN.fullmatch(kind):
        return None
    return kind.lower(), decode_param_list(_raw_params(segments[1:]))


def parse_language(value: str) -> list[str] | None:
    """Content-Language (RFC 3282): comma-separated language tags, comments removed."""
    text = "".join(_flat(seg) for seg in _segments(value))
    tags = [t.strip() for t in text.split(",") if t.strip()]
    return tags or None


def simple_value(value: str) -> str:
    """A single-token field (Content-Transfer-Encoding) without comments or spaces."""
    text = "".join(_flat(seg) for seg in _segments(value))
    return text.strip()
