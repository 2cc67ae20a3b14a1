"""Modified UTF-7 (RFC 3501 section 5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyimapd.protocol.utf7 import decode_mailbox_name, encode_mailbox_name

# Unicode text without lone surrogates (which UTF-16 cannot carry).
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


def test_rfc3501_example() -> None:
    name = "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e"
    assert encode_mailbox_name(name) == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert decode_mailbox_name("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == name


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("", ""),
        ("INBOX", "INBOX"),
        ("&", "&-"),
        ("a&b", "a&-b"),
        ("Entw\u00fcrfe", "Entw&APw-rfe"),
        ("\u00fc&", "&APw-&-"),
        ("\U0001f600", "&2D3eAA-"),
        ("tab\there", "tab&AAk-here"),
    ],
)
def test_known_encodings(name: str, wire: str) -> None:
    assert encode_mailbox_name(name) == wire
    assert decode_mailbox_name(wire) == name


@pytest.mark.parametrize(
    "bad",
    [
        "&",  # not terminated
        "&Jjo",  # not terminated
        "a&U,BTFw",  # not terminated
        "&AGE-",  # encodes printable ASCII "a"
        "&ACY-",  # encodes "&" itself
        "&Jjo-&Jjo-",  # null shift: two runs back to back
        "&Jjp-",  # non-zero padding bits
        "&A-",  # superfluous base64 character
        "&2D0-",  # unpaired high surrogate
        "&3gA-",  # unpaired low surrogate
        "&*-",  # not base64
        "&AGE=-",  # padding is not allowed
        "x\x01y",  # control character sent raw
    ],
)
def test_invalid_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_mailbox_name(bad)


def test_raw_utf8_names_are_accepted_as_they_are() -> None:
    # Clients often send UTF-8; once decoded, a non-ASCII name is taken literally.
    assert decode_mailbox_name("Entw\u00fcrfe") == "Entw\u00fcrfe"
    assert decode_mailbox_name("\u00e4&b") == "\u00e4&b"


@given(names)
def test_round_trip(name: str) -> None:
    wire = encode_mailbox_name(name)
    assert wire.isascii()
    assert all("\x20" <= ch <= "\x7e" for ch in wire)
    assert decode_mailbox_name(wire) == name


@given(st.text(alphabet="&-AZaz09+,/.x", max_size=20))
def test_decoder_only_raises_value_error(raw: str) -> None:
    try:
        decoded = decode_mailbox_name(raw)
    except ValueError:
        return
    # Whatever is accepted is canonical: it encodes back to the same form.
    assert encode_mailbox_name(decoded) == raw
