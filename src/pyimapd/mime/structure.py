"""ENVELOPE, BODY and BODYSTRUCTURE values (RFC 3501 section 7.4.2, grammar in 9).

The values are nested tuples for :mod:`pyimapd.protocol.responses`: ``None`` is NIL,
``str`` goes out as a string (UTF-8), ``bytes`` when a raw header held octets that
are not UTF-8, ``int`` as a number.

Case: type, subtype, parameter names and the disposition type are upper-cased, as in
the RFC 3501 examples (``("TEXT" "PLAIN" ("CHARSET" "US-ASCII") ...)``); parameter
values, the transfer encoding and all other values are sent as given. A text part
without a charset parameter gets ``"CHARSET" "US-ASCII"``, its RFC 2046 section
4.1.2 default. Extension data (``extensible=True``) is always sent in full.
"""

from __future__ import annotations

from typing import Any

from pyimapd.mime.address import parse_address_list
from pyimapd.mime.model import Envelope, Part
from pyimapd.protocol.responses import Adjacent

Value = Any  # nested tuple of str | bytes | int | None

_EMPTY_TEXT = Part(0, 0, 0)
"""Stand-in for a multipart without parts or a message that was not parsed: the
grammar (``1*body``, ``envelope SP body``) needs something, so an empty text/plain
part is sent, as Dovecot does."""


def wire(value: str | None) -> str | bytes | None:
    """A raw value: ``str`` when it is valid UTF-8, else its original octets."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")
    return value


def _addresses(value: str | None) -> tuple[Value, ...] | None:
    parsed = parse_address_list(value)
    if parsed is None:
        return None
    return Adjacent(tuple(wire(f) for f in addr) for addr in parsed)


def envelope_of(env: Envelope | None) -> tuple[Value, ...]:
    """RFC 3501 7.4.2 ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc,
    in-reply-to, message-id. Sender and Reply-To default to From when absent or
    empty, as 7.4.2 requires."""
    env = env or Envelope()
    from_ = _addresses(env.from_)
    sender = _addresses(env.sender) or from_
    reply_to = _addresses(env.reply_to) or from_
    return (
        wire(env.date), wire(env.subject), from_, sender, reply_to,
        _addresses(env.to), _addresses(env.cc), _addresses(env.bcc),
        wire(env.in_reply_to), wire(env.message_id),
    )


def envelope_value(root: Part) -> tuple[Value, ...]:
    """The ENVELOPE of the message whose root part is ``root``."""
    return envelope_of(root.envelope)


def _params(params: list[tuple[str, str]]) -> tuple[Value, ...] | None:
    """``body-fld-param``: flat ("NAME" "value" ...) or NIL."""
    if not params:
        return None
    flat: list[Value] = []
    for name, value in params:
        flat.extend((wire(name.upper()), wire(value)))
    return tuple(flat)


def _part_params(part: Part) -> tuple[Value, ...] | None:
    """A text part without a charset gets ``CHARSET US-ASCII`` after its other
    parameters: its RFC 2046 section 4.1.2 default, made explicit as Dovecot does."""
    if part.maintype == "text" and part.param("charset") is None:
        return _params([*part.params, ("charset", "US-ASCII")])
    return _params(part.params)


def _extension(part: Part, first: Value) -> tuple[Value, ...]:
    """``body-ext-1part`` / ``body-ext-mpart`` after their first member (md5 / params)."""
    dsp = None
    if part.disposition is not None:
        dsp = (wire(part.disposition[0].upper()), _params(part.disposition[1]))
    lang: Value = None
    if part.language:  # always a list, even of one tag, as Dovecot sends it
        lang = tuple(wire(t) for t in part.language)
    return (first, dsp, lang, wire(part.location))


def _body_fields(part: Part) -> tuple[Value, ...]:
    """``body-fields``: param, id, description, encoding, octets."""
    return (
        _part_params(part), wire(part.id), wire(part.description),
        wire(part.encoding), part.end - part.body_start,
    )


def bodystructure_value(root: Part, extensible: bool) -> tuple[Value, ...]:
    """BODYSTRUCTURE (``extensible=True``) or BODY (False) of a part, recursively.

    Follows RFC 3501 section 9 ``body``: a multipart lists its parts then the
    subtype; a text part adds its line count; a message/rfc822 part adds the
    encapsulated message's envelope, body and line count.
    """
    if root.maintype == "multipart":
        kids = root.children or [_EMPTY_TEXT]
        out: list[Value] = [bodystructure_value(c, extensible) for c in kids]
        out.append(wire(root.subtype.upper()))
        if extensible:
            out.extend(_extension(root, _params(root.params)))
        return Adjacent(out)
    head: list[Value] = [wire(root.maintype.upper()), wire(root.subtype.upper())]
    head.extend(_body_fields(root))
    if (root.maintype, root.subtype) == ("message", "rfc822"):
        inner = root.children[0] if root.children else None
        head.append(envelope_of(inner.envelope if inner else None))
        head.append(bodystructure_value(inner or _EMPTY_TEXT, extensible))
        head.append(root.lines)
    elif root.maintype == "text":
        head.append(root.lines)
    if extensible:
        head.extend(_extension(root, wire(root.md5)))
    return tuple(head)
