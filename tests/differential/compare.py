"""What the differential test loads, which FETCH items it asks for, and the only
normalisations it applies before comparing pyimapd with Dovecot.

Normalisations (the legitimate differences of /work/shared/PEERS.md, nothing else):

* BODY/BODYSTRUCTURE: MIME type, subtype, transfer encoding, disposition type and
  parameter names and values are compared case-insensitively (Dovecot lower-cases
  them; RFC 2045 section 5.1 makes types, subtypes and parameter names
  case-insensitive);
* INTERNALDATE is compared as an instant (Dovecot reports it in +0000).

Every other difference fails the test unless it is listed in ``KNOWN`` (and in
``known_differences.md``, with the RFC section that shows pyimapd's answer is right).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from differential.imapwire import Atom

CORPUS = Path(__file__).resolve().parent.parent / "mime" / "corpus"

FLAG_CYCLE = (
    "", "\\Seen", "\\Seen \\Answered", "\\Flagged", "\\Deleted \\Seen", "\\Draft",
    "$Important", "\\Seen $Important Work", "\\Answered Work project-x", "\\Flagged \\Seen $Junk",
)
ZONES = ("+0000", "-0500", "+0200", "+0930", "-0300", "+0100")


@dataclass(frozen=True)
class Message:
    name: str
    data: bytes
    flags: str
    internaldate: str


def corpus_messages(extra: dict[str, bytes] | None = None) -> list[Message]:
    """The corpus files (sorted) then ``extra``; flags and internal dates vary with the
    position, so flag and date SEARCH keys have something to select."""
    named = [(p.stem, p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]
    named += sorted((extra or {}).items())
    out = []
    for i, (name, data) in enumerate(named):
        day = 1 + (i * 7) % 28
        month = ("Jan", "Feb", "Mar", "Apr")[i % 4]
        hour = 10 + (i * 5) % 9  # local day = UTC day for every zone used
        date = f"{day:02d}-{month}-2024 {hour:02d}:{(i * 13) % 60:02d}:07 {ZONES[i % len(ZONES)]}"
        out.append(Message(name, data, FLAG_CYCLE[i % len(FLAG_CYCLE)], date))
    return out


def parse_internaldate(value: bytes) -> datetime:
    return datetime.strptime(value.decode(), "%d-%b-%Y %H:%M:%S %z")


# --- BODYSTRUCTURE --------------------------------------------------------------------


def _lower(value: object) -> object:
    if isinstance(value, bytes):
        return value.lower()
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def _norm_ext(ext: list[object], first_is_params: bool) -> list[object]:
    """md5-or-params, disposition, language, location."""
    out = list(ext)
    if out and first_is_params:
        out[0] = _lower(out[0])
    if len(out) > 1 and isinstance(out[1], list):
        out[1] = _lower(out[1])
    return out


def norm_body(body: object) -> object:
    """A BODY / BODYSTRUCTURE value with PEERS.md's case-insensitive fields lowered."""
    if not isinstance(body, list) or not body:
        return body
    if isinstance(body[0], list):  # multipart: parts, subtype, extension
        n = 0
        while n < len(body) and isinstance(body[n], list):
            n += 1
        parts = [norm_body(p) for p in body[:n]]
        return [*parts, _lower(body[n]), *_norm_ext(body[n + 1 :], True)]
    out = list(body)
    out[0], out[1], out[2] = _lower(out[0]), _lower(out[1]), _lower(out[2])
    if len(out) > 5:
        out[5] = _lower(out[5])
    kind = (out[0], out[1])
    rest = 7
    if kind == (b"message", b"rfc822") and len(out) > 9:
        out[8] = norm_body(out[8])
        rest = 10
    elif kind[0] == b"text":
        rest = 8
    return out[:rest] + _norm_ext(out[rest:], False)


# --- sections ---------------------------------------------------------------------------

FIELDS = "(FROM SUBJECT X-TAG CONTENT-TYPE)"
NOT_FIELDS = "(RECEIVED FROM X-LONG-HEADER)"


def _is_message(body: object) -> bool:
    return (isinstance(body, list) and len(body) > 8 and isinstance(body[0], bytes)
            and body[0].lower() == b"message" and isinstance(body[1], bytes)
            and body[1].lower() == b"rfc822" and isinstance(body[8], list))


def _children(body: list[object]) -> list[object]:
    kids = []
    for part in body:
        if not isinstance(part, list):
            break
        kids.append(part)
    return kids


def _message_sections(prefix: str, inner: object) -> Iterator[str]:
    """Sections of an encapsulated (or the top-level) message at ``prefix``."""
    dot = prefix + "." if prefix else ""
    for text in ("HEADER", "TEXT", f"HEADER.FIELDS {FIELDS}", f"HEADER.FIELDS.NOT {NOT_FIELDS}"):
        yield dot + text
    if isinstance(inner, list) and inner and isinstance(inner[0], list):
        yield from _multipart_sections(dot, inner)
    else:
        yield from _part_sections(dot + "1", inner)


def _part_sections(spec: str, body: object) -> Iterator[str]:
    yield spec
    yield spec + ".MIME"
    if _is_message(body):
        assert isinstance(body, list)
        yield from _message_sections(spec, body[8])


def _multipart_sections(dot: str, body: list[object]) -> Iterator[str]:
    for i, child in enumerate(_children(body), 1):
        spec = f"{dot}{i}"
        if isinstance(child, list) and child and isinstance(child[0], list):
            yield spec
            yield spec + ".MIME"
            yield from _multipart_sections(spec + ".", child)
        else:
            yield from _part_sections(spec, child)


def section_items(bodystructure: object, size: int) -> list[str]:
    """Every ``BODY.PEEK[section]`` the structure has, each also with a partial, plus
    whole-message partials (start, middle, past the end) and a part that is absent."""
    specs = ["", *_message_sections("", bodystructure), "99", "1.99.1"]
    items = []
    for spec in specs:
        items.append(f"BODY.PEEK[{spec}]")
        items.append(f"BODY.PEEK[{spec}]<2.17>")
    mid = max(0, size // 2 - 3)
    items += ["BODY.PEEK[]<0.10>", f"BODY.PEEK[]<{mid}.100>", f"BODY.PEEK[]<{size + 5}.10>",
              "BODY.PEEK[TEXT]<0.1>", f"BODY.PEEK[]<{max(0, size - 4)}.100000>"]
    return list(dict.fromkeys(items))


def binary_specs(bodystructure: object) -> list[str]:
    """Every part number the structure has (``BINARY`` takes part numbers only, RFC 3516
    section 7), the whole message and an absent part."""
    specs = ["", *_message_sections("", bodystructure), "99"]
    return [s for s in dict.fromkeys(specs) if all(p.isdigit() for p in s.split(".")) or not s]


SIMPLE_ITEMS = ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE",
                "RFC822", "RFC822.HEADER", "RFC822.TEXT", "UID")


def response_key(item: str) -> str:
    """The name a FETCH response uses for a requested item (PEEK is not echoed;
    a partial is echoed by its origin only, RFC 3501 section 7.4.2)."""
    key = item.upper().replace("BODY.PEEK[", "BODY[")
    if key.endswith(">") and "<" in key:
        head, _, partial = key.rpartition("<")
        key = f"{head}<{partial[:-1].split('.')[0]}>"
    return key


Normaliser = Callable[[object], object]

def norm_flags(value: object) -> object:
    """FLAGS is a set: RFC 3501 gives no order (pyimapd sends \\Seen first, as the
    section 8 sample does; Dovecot sends its bit order)."""
    if isinstance(value, list):
        return sorted(str(v).lower() for v in value)
    return value


NORMALISE: dict[str, Normaliser] = {
    "FLAGS": norm_flags,
    "BODY": norm_body,
    "BODYSTRUCTURE": norm_body,
    "INTERNALDATE": lambda v: parse_internaldate(v) if isinstance(v, bytes) else v,
}


def normalise(key: str, value: object) -> object:
    fn = NORMALISE.get(key)
    return fn(value) if fn else value


def is_atom(value: object) -> bool:
    return isinstance(value, Atom)
