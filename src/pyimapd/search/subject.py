"""Base subjects (RFC 5256 section 2.1) and the i;unicode-casemap collation (RFC 5051),
shared by SORT and THREAD.

How this works: :func:`base_subject` follows the seven numbered steps of section 2.1
literally, with one regular expression per ABNF rule of section 5 (``subj-leader``,
``subj-blob``, ``subj-trailer``, ``subj-fwd-hdr``); it also reports whether a step
removed a ``subj-refwd``, a ``(fwd)`` trailer or a ``[fwd: ...]`` wrapper, which is how
THREAD=REFERENCES tells a reply or forward (section 4, step 5). :func:`casemap` turns a
string into the octets that i;unicode-casemap compares as i;octet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pyimapd.mime.search import decode_words

_WSP_RUN = re.compile(r"[ \t\r\n]+")

_BLOB = r"\[[^\[\]]*\][ \t]*"
"""``subj-blob = "[" *BLOBCHAR "]" *WSP``."""

_REFWD = r"(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:"
"""``subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"``."""

_LEADER = re.compile(r"(?:" + _BLOB + r")*" + _REFWD + r"|[ \t]", re.IGNORECASE)
"""``subj-leader = (*subj-blob subj-refwd) / WSP``."""

_BLOB_PREFIX = re.compile(_BLOB)
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])$", re.IGNORECASE)
"""``subj-trailer = "(fwd)" / WSP``, at the end of the subject."""

_FWD_HDR = "[fwd:"
_FWD_TRL = "]"


def decoded_subject(raw: str | None) -> str:
    """Step (1): RFC 2047 words decoded, whitespace runs (tabs, folds) made one space.
    ``raw`` is the stored header value, 8-bit octets as lone surrogates."""
    if not raw:
        return ""
    text = raw
    if "=?" in raw:
        text = decode_words(raw.encode("utf-8", "surrogateescape"))
    return _WSP_RUN.sub(" ", text)


def base_subject(raw: str | None) -> tuple[str, bool]:
    """The base subject of a Subject value, and whether extracting it removed a reply or
    forward marker (``subj-refwd``, a ``(fwd)`` trailer or ``[fwd:`` ... ``]``)."""
    text = decoded_subject(raw)
    refwd = False
    while True:
        text, trailed = _strip_trailers(text)  # step (2)
        refwd = refwd or trailed
        text, led = _strip_leaders(text)  # steps (3) to (5)
        refwd = refwd or led
        # step (6)
        if text[: len(_FWD_HDR)].lower() == _FWD_HDR and text.endswith(_FWD_TRL):
            text = text[len(_FWD_HDR) : -len(_FWD_TRL)]
            refwd = True
            continue
        return text, refwd


def _strip_trailers(text: str) -> tuple[str, bool]:
    fwd = False
    while True:
        m = _TRAILER.search(text)
        if m is None:
            return text, fwd
        fwd = fwd or m.group() not in (" ", "\t")
        text = text[: m.start()]


def _strip_leaders(text: str) -> tuple[str, bool]:
    """Steps (3), (4) and (5): leaders, then one blob if something is left after it."""
    refwd = False
    while True:
        m = _LEADER.match(text)
        if m is not None:
            refwd = refwd or m.group() not in (" ", "\t")
            text = text[m.end() :]
            continue
        m = _BLOB_PREFIX.match(text)
        if m is not None and text[m.end() :].strip(" \t"):
            text = text[m.end() :]
            continue
        return text, refwd


@lru_cache(maxsize=4096)
def _prepared(ch: str) -> str:
    """RFC 5051 step (2) for one code point: its (simple) titlecase, then its full
    compatibility decomposition. A titlecase that is longer than one code point comes
    from SpecialCasing.txt, which UnicodeData.txt's property does not include."""
    title = ch.title()
    if len(title) != 1:
        title = ch
    return unicodedata.normalize("NFKD", title)


def casemap(text: str) -> bytes:
    """The "titlecased canonicalized UTF-8" form of ``text`` (RFC 5051 section 2), to be
    compared as i;octet. Text that is not valid Unicode (8-bit header octets kept as lone
    surrogates) is compared unprepared, as its original octets (step 1b)."""
    if text.isascii():
        return text.upper().encode("ascii")
    try:
        return "".join(_prepared(ch) for ch in text).encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
