"""A read-only view of the message a script runs on, built from its raw bytes.

Header tests see unfolded values with RFC 2047 encoded words decoded (RFC 5228
section 2.7.2); the address test parses the raw value first and decodes only the
display names. The view keeps each raw field so that ``editheader`` (RFC 5293) can
work on a copy of the field list and hand delivery a header block in which the
untouched fields are byte for byte what arrived.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass

from pyimapd.mime.address import MISSING_DOMAIN, MISSING_MAILBOX, parse_address_list
from pyimapd.mime.headers import field_value, split_fields, to_text
from pyimapd.sieve.limits import MAX_BODY_SCAN


def decode_words(value: str) -> str:
    """RFC 2047 decoding that never fails: a malformed word stays as written."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


def _text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 (RFC 6532), other octets replaced."""
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class Field:
    name: str
    """Lower case."""
    raw: bytes
    """The whole field with its folding and line end."""

    @property
    def raw_value(self) -> str:
        return _text(field_value(self.raw))

    @property
    def value(self) -> str:
        return decode_words(self.raw_value).strip()


@dataclass(frozen=True)
class Mailbox:
    """One address of an address header; ``domain`` is "" when there is none."""

    localpart: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.localpart}@{self.domain}" if self.domain else self.localpart


def parse_addresses(value: str) -> list[Mailbox]:
    """The mailboxes of an address list (RFC 5322 3.4); groups contribute their
    members, and a broken list gives what could be read."""
    out = []
    for _name, _adl, mailbox, host in parse_address_list(value) or []:
        if host is None or mailbox is None:
            continue  # group start/end markers
        local = "" if mailbox == MISSING_MAILBOX else mailbox
        domain = "" if host == MISSING_DOMAIN else host
        out.append(Mailbox(local, domain))
    return out


class MessageView:
    """The message under test: header fields (editable by :meth:`replace_fields`),
    size and body parts."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.size = len(raw)
        end = _header_end(raw)
        self.body_offset = end
        self.fields: list[Field] = [
            Field(name.decode("ascii", "replace").lower(), field)
            for name, field in split_fields(raw[:end]) if name is not None]
        self._parsed: email.message.Message | None = None

    def copy(self) -> MessageView:
        view = MessageView.__new__(MessageView)
        view.__dict__.update(self.__dict__)
        view.fields = list(self.fields)
        return view

    def values(self, name: str) -> list[str]:
        """Decoded values of every field called ``name``, in order."""
        name = name.lower()
        return [f.value for f in self.fields if f.name == name]

    def raw_values(self, name: str) -> list[str]:
        name = name.lower()
        return [f.raw_value for f in self.fields if f.name == name]

    def has(self, name: str) -> bool:
        name = name.lower()
        return any(f.name == name for f in self.fields)

    def header_block(self) -> bytes:
        """The header fields as they stand now, with the blank line that ends them."""
        return b"".join(f.raw if f.raw.endswith(b"\n") else f.raw + b"\r\n"
                        for f in self.fields) + b"\r\n"

    def _message(self) -> email.message.Message:
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self.raw, policy=email.policy.compat32)
        return self._parsed

    def raw_body(self) -> str:
        """RFC 5173 ``:raw``: the body as it arrived, undecoded."""
        return to_text(self.raw[self.body_offset:self.body_offset + MAX_BODY_SCAN])

    def body_texts(self, content_types: tuple[str, ...] | None) -> list[str]:
        """RFC 5173 section 5: the decoded text of each leaf part whose type matches
        one of ``content_types`` ("" is every type, ``text`` a top level type,
        ``text/html`` an exact type); None means ``:text`` (the text/* parts).
        Transfer encodings and charsets are decoded; undecodable octets are replaced."""
        wanted = ("text",) if content_types is None else tuple(t.lower() for t in content_types)
        out = []
        for part in _leaves(self._message()):
            ctype = part.get_content_type().lower()
            main = ctype.split("/", 1)[0]
            if not any(w == "" or w == ctype or ("/" not in w and w == main) for w in wanted):
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            charset = part.get_content_charset() or "us-ascii"
            try:
                text = payload.decode(charset, "replace")
            except LookupError:
                text = payload.decode("utf-8", "replace")
            out.append(text[:MAX_BODY_SCAN])
        return out


def _leaves(message: email.message.Message) -> Iterator[email.message.Message]:
    """Leaf parts, descending into multiparts and message/rfc822 parts."""
    for part in message.walk():
        if not part.is_multipart():
            yield part


def _header_end(raw: bytes) -> int:
    """Offset of the body: after the first empty line (CRLF or bare LF)."""
    if raw.startswith((b"\r\n", b"\n")):
        return 2 if raw.startswith(b"\r\n") else 1
    best = len(raw)
    for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        i = raw.find(sep)
        if 0 <= i < best - len(sep) + 1:
            best = i + len(sep)
    return min(best, len(raw))


def encode_field(name: str, value: str) -> bytes:
    """A new header field (RFC 5293 section 4): non-ASCII text in RFC 2047 words,
    folded at 78 characters."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    header = email.header.Header(value, charset, header_name=name)
    return f"{name}: {header.encode(linesep=chr(13) + chr(10))}\r\n".encode("ascii")


__all__ = ["Field", "Mailbox", "MessageView", "decode_words", "encode_field",
           "parse_addresses"]
