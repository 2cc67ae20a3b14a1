"""``BODY[section]`` byte ranges (RFC 3501 section 6.4.5) from the stored part tree.

Part numbers address the parts of a multipart; the body of a non-multipart message
is its part 1; a message/rfc822 part's numbers continue inside the encapsulated
message. ``locate`` returns a byte range of the stored message; the caller reads it
(and applies ``<partial>``), filtering HEADER.FIELDS with ``filter_header_fields``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pyimapd.mime.headers import split_fields
from pyimapd.mime.model import Part

_MESSAGE_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"})


@dataclass(frozen=True, slots=True)
class Section:
    """A byte range ``[start, end)``; ``header_only`` for a header block."""

    start: int
    end: int
    header_only: bool


def _find(root: Part, path: tuple[int, ...]) -> Part | None:
    """The part addressed by ``path``; ``root`` is a message root.

    ``container`` is what the next number indexes: a multipart (its parts), a
    non-multipart message root (only 1: itself, i.e. its body), or nothing (a leaf).
    """
    container: Part | None = root
    message_root = True
    part: Part | None = None
    for number in path:
        if container is None:
            return None
        if container.is_multipart and not container.children:
            # A multipart without parts (no boundary, no delimiter, nothing between
            # them): BODYSTRUCTURE shows one empty text/plain part for it (the grammar
            # needs ``1*body``), so part 1 exists and is empty, as in Dovecot.
            if number != 1:
                return None
            part = Part(container.end, container.end, container.end)
            container = None
            continue
        if container.is_multipart:
            if not 1 <= number <= len(container.children):
                return None
            part = container.children[number - 1]
        elif message_root and number == 1:
            part = container
        else:
            return None
        if part.is_message:
            container, message_root = part.children[0], True
        elif part.is_multipart and part is not container:
            container, message_root = part, False
        else:
            container, message_root = None, False
    return part


def _message_section(message: Part, text: str) -> Section:
    """HEADER / HEADER.FIELDS[.NOT] / TEXT of a message whose root is ``message``."""
    if text == "TEXT":
        return Section(message.body_start, message.end, False)
    return Section(message.header_start, message.body_start, True)


def locate(root: Part, part: tuple[int, ...], text: str) -> Section | None:
    """Byte range for ``BODY[part.text]``; None when the section does not exist.

    ``text`` is "", "MIME", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT" or "TEXT"
    (upper-case). For HEADER.FIELDS the whole header is returned: the caller filters.
    """
    text = text.upper()
    if not part:
        if text == "":
            return Section(root.header_start, root.end, False)
        return _message_section(root, text) if text in _MESSAGE_TEXTS else None
    target = _find(root, part)
    if target is None:
        return None
    if text == "":
        return Section(target.body_start, target.end, False)
    if text == "MIME":
        return Section(target.header_start, target.body_start, True)
    if text in _MESSAGE_TEXTS and target.is_message:
        return _message_section(target.children[0], text)
    return None


def filter_header_fields(header: bytes, fields: Sequence[str], exclude: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 6.4.5).

    Keeps the complete fields whose name is (or, with ``exclude``, is not) in
    ``fields``, case-insensitively, raw with their folded lines and in their original
    order, then the blank line, which RFC 3501 says is included "except in the case of
    a message which has no body and no blank line". A line that is not a field (no
    colon) has no name to match, so only HEADER.FIELDS.NOT returns it (as Dovecot).
    """
    wanted = frozenset(f.lower().encode("utf-8", "surrogateescape") for f in fields)
    if exclude:
        raws = [raw for name, raw in split_fields(header) if name is None or name not in wanted]
    elif header[:1] in (b" ", b"\t"):  # malformed: blanks before the first field's name
        raws = [raw for name, raw in split_fields(header) if name in wanted]
    else:  # what every client asks for each new message: one regex scan, no per-field work
        matches = _fields_pattern(wanted).findall(b"\n" + header)  # a LF before each field
        raws = [field + newline for field, newline in matches]
    # RFC 5322 2.2: a field ends with CRLF, also the last line of a message
    out = [raw if raw.endswith(b"\n") else raw + b"\r\n" for raw in raws]
    if header == b"\r\n" or header.endswith(b"\n\r\n"):
        out.append(b"\r\n")
    return b"".join(out)


@lru_cache(maxsize=256)
def _fields_pattern(names: frozenset[bytes]) -> re.Pattern[bytes]:
    """The complete fields (with their continuation lines) named one of ``names``,
    case-insensitively: the fields :func:`split_fields` would name so. A field starts
    a line and its name runs to the colon. Each match is ``(field, its LF if any)``:
    the LF before a field is matched, not looked behind for, because a pattern that
    starts with a literal is searched for at C speed (twice as fast on real headers);
    so the LF after a field is only looked ahead at, for the next field to match."""
    alternatives = b"|".join(re.escape(n) for n in sorted(names)) or b"(?!)"
    return re.compile(
        rb"\n((?:" + alternatives + rb")[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*)(?=(\n?))",
        re.IGNORECASE,
    )
