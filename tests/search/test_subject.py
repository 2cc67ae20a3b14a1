"""Base subject extraction (RFC 5256 section 2.1) and i;unicode-casemap (RFC 5051)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyimapd.search.subject import base_subject, casemap, decoded_subject


@pytest.mark.parametrize(
    ("raw", "base", "refwd"),
    [
        (None, "", False),
        ("", "", False),
        ("Hello", "Hello", False),
        ("  Hello  world\t ", "Hello world", False),  # (1) whitespace runs, (2) trailing WSP
        ("Re: Hello", "Hello", True),
        ("RE: re: Re:Hello", "Hello", True),
        ("Fw: Hello", "Hello", True),
        ("FWD: Hello", "Hello", True),
        ("Re : Hello", "Hello", True),  # *WSP before ":"
        ("Re[2]: Hello", "Hello", True),  # subj-blob inside subj-refwd
        ("[PATCH] Re: Hello", "Hello", True),  # *subj-blob subj-refwd
        ("[list] Hello", "Hello", False),  # (4): a blob with text after it goes
        ("[list]", "[list]", False),  # ... but not when nothing would be left
        ("[a][b]", "[b]", False),  # "last subj-blob is subj-base"
        ("[a] [b] Re: x", "x", True),
        ("Hello (fwd)", "Hello", True),  # (2) a "(fwd)" trailer
        ("Hello (FWD) (fwd)  ", "Hello", True),
        ("[fwd: Hello]", "Hello", True),  # (6)
        ("[Fwd: Re: [fwd: Hello (fwd)]]", "Hello", True),
        ("[fwd: Hello", "[fwd: Hello", False),  # no trailer: not a subj-fwd
        ("Review: x", "Review: x", False),  # "re" must be followed by [blob] ":"
        ("Rex: y", "Rex: y", False),
        ("=?utf-8?q?Re=3A_caf=C3=A9?=", "café", True),  # (1) RFC 2047 first
        ("Re: =?iso-8859-1?q?Gr=FC=DFe?=", "Grüße", True),
    ],
)
def test_base_subject(raw: str | None, base: str, refwd: bool) -> None:
    assert base_subject(raw) == (base, refwd)


def test_casemap_is_titlecase_then_decomposition() -> None:
    assert casemap("hello") == casemap("HELLO") == b"HELLO"
    # RFC 5051's own example: U+01C4 becomes D, z, COMBINING CARON.
    assert casemap("\u01c4") == "Dz\u030c".encode()
    assert casemap("é") == casemap("É") == "E\u0301".encode()  # decomposed
    assert casemap("ß") == "ß".encode()  # no single-code-point titlecase
    assert casemap("ﬁ") == b"fi"  # compatibility decomposition (after titlecasing)


def test_casemap_orders_as_octets_and_keeps_binary_text() -> None:
    assert casemap("") < casemap("a") < casemap("B") < casemap("c")
    raw = "\udce9t\udce9"  # Latin-1 octets kept as lone surrogates: compared unprepared
    assert casemap(raw) == b"\xe9t\xe9"


# --- The index-walking steps agree with the literal regex transcription -------------

_BLOB = r"\[[^\[\]]*\][ \t]*"
_REF_LEADER = re.compile(r"(?:" + _BLOB + r")*(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:|[ \t]",
                         re.IGNORECASE)
_REF_BLOB = re.compile(_BLOB)
_REF_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])$", re.IGNORECASE)


def _reference_base_subject(raw: str) -> tuple[str, bool]:
    """RFC 5256 section 2.1 with one regex per ABNF rule and a fresh slice per step:
    obviously right, and quadratic on long subjects (which is why it is not the code)."""
    text, refwd = decoded_subject(raw), False
    while True:
        while (m := _REF_TRAILER.search(text)) is not None:
            refwd = refwd or m.group() not in (" ", "\t")
            text = text[: m.start()]
        while True:
            if (m := _REF_LEADER.match(text)) is not None:
                refwd = refwd or m.group() not in (" ", "\t")
                text = text[m.end():]
                continue
            m = _REF_BLOB.match(text)
            if m is not None and text[m.end():].strip(" \t"):
                text = text[m.end():]
                continue
            break
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text, refwd = text[5:-1], True
            continue
        return text, refwd


_PIECES = st.sampled_from(["Re", "re", "FWD", "fw", ":", " ", "\t", "[", "]", "[a]",
                           "[fwd:", "(fwd)", "(FWD)", "x", "y z", "[b] "])


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_base_subject_agrees_with_the_regex_transcription(raw: str) -> None:
    assert base_subject(raw) == _reference_base_subject(raw)
