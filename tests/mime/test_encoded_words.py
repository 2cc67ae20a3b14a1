"""The linear RFC 2047 decoder for values with many encoded words agrees with the stdlib
(which :func:`decode_words` uses for the usual few words) on every value the grammar
below builds: encoded words in Q and B, several charsets, plain words, blanks."""

from __future__ import annotations

import base64
from email.header import decode_header, make_header

from hypothesis import given
from hypothesis import strategies as st

from pyimapd.mime.search import MAX_LIBRARY_WORDS, _decode_many_words, decode_words

CHARSETS = ["utf-8", "iso-8859-1", "UTF-8", "koi8-r"]


@st.composite
def encoded_word(draw: st.DrawFn) -> str:
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(st.text(alphabet="abcé ü_=?Ж", min_size=1, max_size=6))
    data = text.encode(charset, "replace")
    if draw(st.booleans()):
        payload = base64.b64encode(data).decode()
        return f"=?{charset}?b?{payload}?="
    payload = "".join(chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}" for b in data)
    return f"=?{charset}?q?{payload}?="


plain_word = st.text(alphabet="abcxyz.,", min_size=1, max_size=5)
value = st.lists(st.one_of(encoded_word(), plain_word), min_size=1, max_size=12).flatmap(
    lambda words: st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=len(words),
                           max_size=len(words)).map(
        lambda gaps: "".join(w + g for w, g in zip(words, gaps, strict=True)).rstrip()))


@given(value)
def test_linear_decoder_matches_the_stdlib(text: str) -> None:
    assert _decode_many_words(text) == str(make_header(decode_header(text)))


def test_many_words_take_the_linear_path() -> None:
    word = "=?utf-8?q?=C3?= =?utf-8?q?=A9?= "
    text = (word * (MAX_LIBRARY_WORDS + 1)).rstrip()
    assert decode_words(text.encode()) == "é" * (MAX_LIBRARY_WORDS + 1)
