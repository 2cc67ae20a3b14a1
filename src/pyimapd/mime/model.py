"""The stored MIME part tree and its compact serialisation.

A message is parsed once (at APPEND or delivery) into a tree of :class:`Part` with
absolute byte offsets into the stored, CRLF-normalised message; FETCH then answers
ENVELOPE, BODYSTRUCTURE and ``BODY[section]`` from the tree alone (RFC 3501 section
6.4.5 and 7.4.2). Header values are kept raw (unfolded, never RFC 2047 decoded) as
``str``: 8-bit octets that are not UTF-8 survive as lone surrogates
(``surrogateescape``), so nothing is lost and JSON can carry them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1


@dataclass(slots=True)
class Envelope:
    """Raw, unfolded values of the header fields the ENVELOPE is built from.

    ``None`` means the field is absent. Only the first occurrence of a field counts.
    """

    date: str | None = None
    subject: str | None = None
    from_: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    in_reply_to: str | None = None
    message_id: str | None = None

    def as_list(self) -> list[str | None]:
        return [
            self.date, self.subject, self.from_, self.sender, self.reply_to,
            self.to, self.cc, self.bcc, self.in_reply_to, self.message_id,
        ]


ENVELOPE_FIELDS: dict[str, str] = {
    "date": "date", "subject": "subject", "from": "from_", "sender": "sender",
    "reply-to": "reply_to", "to": "to", "cc": "cc", "bcc": "bcc",
    "in-reply-to": "in_reply_to", "message-id": "message_id",
}
"""Header field name -> :class:`Envelope` attribute."""

ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc"})
"""The envelope's address-list fields (RFC 5322 section 3.6.2 and 3.6.3)."""


@dataclass(slots=True)
class Part:
    """One MIME entity. All offsets are absolute byte offsets in the stored message.

    ``body_start`` is the first byte after the blank line that ends the header (the
    header end); ``end`` is exclusive and excludes the CRLF that RFC 2046 section 5.1.1
    assigns to a following boundary delimiter. ``children`` holds the parts of a
    multipart, or ``[root of the encapsulated message]`` for message/rfc822; an
    "opaque" multipart or message (too deep, encoded, no boundary found) has none.
    """

    header_start: int
    body_start: int
    end: int
    maintype: str = "text"
    subtype: str = "plain"
    params: list[tuple[str, str]] = field(default_factory=list)
    id: str | None = None
    description: str | None = None
    encoding: str = "7BIT"
    md5: str | None = None
    disposition: tuple[str, list[tuple[str, str]]] | None = None
    language: list[str] | None = None
    location: str | None = None
    lines: int = 0
    children: list[Part] = field(default_factory=list)
    envelope: Envelope | None = None

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def is_message(self) -> bool:
        """True for a message/rfc822 part whose encapsulated message was parsed."""
        return self.maintype == "message" and self.subtype == "rfc822" and bool(self.children)

    def param(self, name: str) -> str | None:
        """The first parameter called ``name`` (lower-case), if any."""
        for key, value in self.params:
            if key == name:
                return value
        return None

    def walk(self) -> list[Part]:
        """This part and all its descendants, depth first (iteratively: trees are deep)."""
        out: list[Part] = []
        stack = [self]
        while stack:
            part = stack.pop()
            out.append(part)
            stack.extend(reversed(part.children))
        return out


def _part_to_list(part: Part) -> list[Any]:
    disp = None if part.disposition is None else [part.disposition[0], part.disposition[1]]
    env = None if part.envelope is None else part.envelope.as_list()
    return [
        part.header_start, part.body_start, part.end, part.maintype, part.subtype,
        part.params, part.id, part.description, part.encoding, part.md5, disp,
        part.language, part.location, part.lines,
        [_part_to_list(c) for c in part.children], env,
    ]


def _part_from_list(data: list[Any]) -> Part:
    (hs, bs, end, maintype, subtype, params, pid, desc, enc, md5, disp, lang, loc,
     lines, children, env) = data
    return Part(
        header_start=hs, body_start=bs, end=end, maintype=maintype, subtype=subtype,
        params=[(k, v) for k, v in params], id=pid, description=desc, encoding=enc,
        md5=md5,
        disposition=None if disp is None else (disp[0], [(k, v) for k, v in disp[1]]),
        language=lang, location=loc, lines=lines,
        children=[_part_from_list(c) for c in children],
        envelope=None if env is None else Envelope(*env),
    )


def dumps(root: Part) -> bytes:
    """Serialise a part tree compactly (JSON arrays) for storage next to the message.

    JSON's ``\\uXXXX`` escapes carry the lone surrogates of undecodable header octets.
    """
    return json.dumps([FORMAT_VERSION, _part_to_list(root)], separators=(",", ":")).encode()


def loads(data: bytes) -> Part:
    """Inverse of :func:`dumps`."""
    version, tree = json.loads(data)
    if version != FORMAT_VERSION:
        raise ValueError(f"unknown mime structure format {version!r}")
    return _part_from_list(tree)


_ROOT_OFFSETS = re.compile(rb"\[(\d+),\[(\d+),(\d+),(\d+),")


def loads_root(data: bytes) -> Part:
    """The root part's offsets only (no children, no envelope), read from the front of
    :func:`dumps`' output without decoding the tree: enough for the top-level HEADER,
    HEADER.FIELDS and TEXT sections, which every client fetches for each new message."""
    m = _ROOT_OFFSETS.match(data)
    if m is None or int(m.group(1)) != FORMAT_VERSION:
        return loads(data)
    return Part(header_start=int(m.group(2)), body_start=int(m.group(3)), end=int(m.group(4)))
