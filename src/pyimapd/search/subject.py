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

_REFWD_AT = re.compile(_REFWD, re.IGNORECASE)
_BLOB_PREFIX = re.compile(_BLOB)
_FWD_TRAILER = "(fwd)"
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
    forward marker (``subj-refwd``, a ``(fwd)`` trailer or ``[fwd:`` ... ``]``).

    The steps move two indices over the decoded text and slice once at the end: a
    subject is the sender's, and re-slicing (or re-searching from the start) after each
    removed piece made a 100 kB subject of ``(fwd)`` or ``[a]`` cost seconds of CPU.
    """
    text = decoded_subject(raw)
    start, end = 0, len(text)
    refwd = False
    while True:
        end, trailed = _strip_trailers(text, start, end)  # step (2)
        start, led = _strip_leaders(text, start, end)  # steps (3) to (5)
        refwd = refwd or trailed or led
        # step (6)
        if (text[start : start + len(_FWD_HDR)].lower() == _FWD_HDR
                and end - start > len(_FWD_HDR) and text[end - 1] == _FWD_TRL):
            start, end = start + len(_FWD_HDR), end - len(_FWD_TRL)
            refwd = True
            continue
        return text[start:end], refwd


def _strip_trailers(text: str, start: int, end: int) -> tuple[int, bool]:
    """Step (2): the new end after every trailer, and whether one was ``(fwd)``."""
    fwd = False
    while end > start:
        if text[end - 1] in " \t":
            end -= 1
        elif (end - start >= len(_FWD_TRAILER)
              and text[end - len(_FWD_TRAILER) : end].lower() == _FWD_TRAILER):
            end -= len(_FWD_TRAILER)
            fwd = True
        else:
            break
    return end, fwd


def _strip_leaders(text: str, start: int, end: int) -> tuple[int, bool]:
    """Steps (3), (4) and (5): leaders, then one blob if something is left after it.

    A leader is ``*subj-blob subj-refwd`` or one WSP. The blob run is read once: when no
    refwd follows it, step (3) cannot match at any later blob of the same run either (it
    would reach the same end), so step (4) removes the blobs one after another, all of
    them if text follows, all but the last if not. That keeps the work linear where
    retrying the leader at every blob was quadratic.
    """
    refwd = False
    while start < end:
        ends: list[int] = []
        position = start
        while (blob := _BLOB_PREFIX.match(text, position, end)) is not None:
            position = blob.end()
            ends.append(position)
        marker = _REFWD_AT.match(text, position, end)
        if marker is not None:
            start, refwd = marker.end(), True
            continue
        if not ends:
            if text[start] in " \t":
                start += 1
                continue
            break
        if text[position:end].strip(" \t"):
            start = position
            continue
        if len(ends) > 1:
            start = ends[-2]
        break
    return start, refwd


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
