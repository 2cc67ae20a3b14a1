"""PREVIEW (RFC 8970): a short plain-text preview of a message, made once at APPEND.

How this works: the first text/plain part that is not an attachment is decoded (the
same transfer and charset decoding as SEARCH, :mod:`pyimapd.mime.search`), or else the
first text/html part, reduced to its text by the stdlib HTML parser (scripts and styles
dropped). From that text, quoted lines (``>``), the attribution line before them ("On
... wrote:") and everything from the signature separator ``-- `` on are left out, white
space is folded to single spaces, and the result is cut at :data:`LENGTH` characters,
at a word boundary where one is near (section 3.3: SHOULD 200, MUST NOT pass 256). A
message with no such text has the empty preview, which section 3.2 requires then.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import BinaryIO

from pyimapd.mime.model import Part
from pyimapd.mime.search import part_text

LENGTH = 200
"""Preview characters at most (RFC 8970 section 3.3's SHOULD)."""
_READ = 16 * 1024
"""Decoded characters read from the chosen part: enough for 200 after the quotes."""
READ_OCTETS = 64 * 1024
"""Octets of the chosen part a preview made later (FETCH) reads from the store."""
_SPACE = re.compile(r"\s+")
_ATTRIBUTION = re.compile(r"^\s*(on\b.*\bwrote|.*\bschrieb|le\b.*\ba écrit)\s*:\s*$", re.I)


class _Text(HTMLParser):
    """The character data of an HTML part, blocks separated by newlines."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag == "blockquote":
            self._quote += 1  # a quoted reply, as ">" lines are in plain text
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._quote:
            self.out.append(data)


def chosen(root: Part) -> Part | None:
    """The part a preview is made from, None when the message has no text part."""
    html = None
    for part in root.walk():
        if part.children or part.maintype != "text":
            continue
        if part.disposition is not None and part.disposition[0].lower() == "attachment":
            continue
        if part.subtype == "plain":
            return part
        if part.subtype == "html" and html is None:
            html = part
    return html


def make_preview(source: BinaryIO, root: Part) -> str:
    """The preview of the message in ``source`` (whose tree is ``root``); reads at most
    a bounded prefix of one part, so a large message costs no more than a small one."""
    part = chosen(root)
    return "" if part is None else from_part(source, part)


def from_part(source: BinaryIO, part: Part) -> str:
    """The preview from the chosen part, read from ``source`` (the message, or a
    :func:`window` on the start of the part)."""
    text = part_text(source, part, _READ)
    if part.subtype == "html":
        parser = _Text()
        parser.feed(text)
        parser.close()
        text = "".join(parser.out)
    return shorten(text)


class _Window(io.BytesIO):
    """Octets that start at ``offset`` of a message, read as if it were all there."""

    def __init__(self, data: bytes, offset: int) -> None:
        super().__init__(data)
        self._offset = offset

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0:
            return super().seek(max(0, pos - self._offset)) + self._offset
        return super().seek(pos, whence) + self._offset


def window(data: bytes, offset: int) -> BinaryIO:
    return _Window(data, offset)


def shorten(text: str) -> str:
    """Quotes, attribution and signature left out, white space folded, cut to size."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.rstrip() == "--" and line.startswith("--"):
            break  # RFC 3676 section 4.3's "-- " separator (trailing space often lost)
        if line.lstrip().startswith(">"):
            continue
        following = next((n for n in lines[i + 1:] if n.strip()), "")
        if _ATTRIBUTION.match(line) and following.lstrip().startswith(">"):
            continue
        kept.append(line)
    folded = _SPACE.sub(" ", " ".join(kept)).strip()
    if len(folded) <= LENGTH:
        return folded
    cut = folded[:LENGTH]
    space = cut.rfind(" ")
    return cut[:space] if space > LENGTH - 40 else cut
