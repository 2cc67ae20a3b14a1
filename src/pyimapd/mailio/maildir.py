"""Maildir and Maildir++: folder layout, file names and flags, for import and export.

How this works: a Maildir is a directory with ``cur``, ``new`` and ``tmp``; each message
is one file. A file in ``cur`` carries its flags after ``:2,`` in its name, as single
letters in ASCII order (D draft, F flagged, P passed, R replied, S seen, T trashed);
lower-case letters are keywords, numbered in the folder's ``dovecot-keywords`` file
(``0 keyword``, ``1 other``... ``a`` is 0). The internal date is the file's mtime.

Folders are found in either layout:

* Maildir++ (Courier, Dovecot, mbsync ``SubFolders Maildir++``): the root is INBOX and a
  folder ``A/B`` is the sub-directory ``.A.B`` of the root, each level's name in
  modified UTF-7 (RFC 3501 section 5.1.3);
* nested (mbsync ``SubFolders Verbatim``): ``A/B`` is the directory ``A/B`` holding its
  own ``cur``/``new``/``tmp``, and ``INBOX`` may be a directory of the root.

Export writes Maildir++. A name component containing ``.`` cannot be a Maildir++ level,
so ``.`` is written as ``&AC4-`` (its modified UTF-7 form), which import turns back.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyimapd.protocol.utf7 import decode_mailbox_name, encode_mailbox_name

INFO_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded", "R": "\\Answered",
              "S": "\\Seen", "T": "\\Deleted"}
FLAG_LETTERS = {flag.lower(): letter for letter, flag in INFO_FLAGS.items()}
KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORDS = 26
_DOT = "&AC4-"


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


@dataclass(frozen=True, slots=True)
class MaildirFile:
    path: Path
    flags: frozenset[str]
    internaldate: datetime
    size: int


def read_keywords(folder: Path) -> list[str]:
    """``dovecot-keywords``: ``N keyword`` lines; index N is the letter ``a`` + N."""
    words = [""] * MAX_KEYWORDS
    try:
        text = (folder / KEYWORDS_FILE).read_text("utf-8", "replace")
    except OSError:
        return words
    for line in text.splitlines():
        index, _, word = line.strip().partition(" ")
        if index.isdigit() and int(index) < MAX_KEYWORDS and word:
            words[int(index)] = word
    return words


def flags_from_name(name: str, keywords: list[str]) -> frozenset[str]:
    """The flags of a file name's ``:2,`` info (``!`` is the separator on some systems)."""
    for sep in (":2,", "!2,"):
        if sep in name:
            info = name.rsplit(sep, 1)[1]
            break
    else:
        return frozenset()
    flags = {INFO_FLAGS[c] for c in info if c in INFO_FLAGS}
    for c in info:
        if "a" <= c <= "z" and keywords[ord(c) - ord("a")]:
            flags.add(keywords[ord(c) - ord("a")])
    return frozenset(flags)


def _order(name: str) -> tuple[int, str]:
    """Delivery order: the leading timestamp of the unique name, then the name."""
    head = re.match(r"\d+", name)
    return (int(head.group()) if head else 0, name)


def list_messages(folder: Path) -> Iterator[MaildirFile]:
    """The messages of one Maildir folder (``new`` and ``cur``), oldest first."""
    keywords = read_keywords(folder)
    names: list[tuple[tuple[int, str], Path]] = []
    for sub in ("new", "cur"):
        with os.scandir(folder / sub) as entries:
            for entry in entries:
                if entry.is_file() and not entry.name.startswith("."):
                    names.append((_order(entry.name), Path(entry.path)))
    names.sort()
    for _, path in names:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue  # moved by a running MUA: it will be under another name
        flags = flags_from_name(path.name, keywords) if path.parent.name == "cur" else frozenset()
        yield MaildirFile(path, flags, datetime.fromtimestamp(st.st_mtime, UTC), st.st_size)


def _decode_level(level: str) -> str:
    """One level of a folder name: modified UTF-7, with ``&AC4-`` standing for ``.``."""
    try:
        return ".".join(decode_mailbox_name(piece) for piece in level.split(_DOT))
    except ValueError:
        return level  # not modified UTF-7: take the name as it is


def discover(root: Path) -> list[tuple[str, Path]]:
    """(mailbox name, folder path) for every Maildir under ``root``, INBOX first."""
    found: list[tuple[str, Path]] = []
    if is_maildir(root):
        found.append(("INBOX", root))
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".") and entry.name not in (".", "..") and is_maildir(entry):
                levels = [_decode_level(p) for p in entry.name[1:].split(".")]
                found.append(("/".join(levels), entry))
    for dirpath, dirnames, _ in os.walk(root):
        path = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in ("cur", "new", "tmp")
                             and not d.startswith("."))
        if path == root or not is_maildir(path):
            continue
        rel = path.relative_to(root).parts
        name = "/".join(_decode_level(p) for p in rel)
        found.append(("INBOX" if name.upper() == "INBOX" else name, path))
    return found


def folder_path(root: Path, mailbox: str) -> Path:
    """Where ``mailbox`` goes in a Maildir++ tree rooted at ``root``."""
    if mailbox.upper() == "INBOX":
        return root
    levels = [encode_mailbox_name(level).replace(".", _DOT) for level in mailbox.split("/")]
    return root / ("." + ".".join(levels))


class MaildirWriter:
    """Creates folders and delivers files the Maildir way: write in ``tmp``, fsync,
    then rename into ``cur`` (atomic: a reader never sees half a message)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        self.count = 0

    def create(self, mailbox: str) -> Path:
        folder = folder_path(self.root, mailbox)
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder != self.root:
            (folder / "maildirfolder").touch()  # Maildir++ marks sub-folders so
        return folder

    def tmp_file(self, folder: Path, uid: int) -> tuple[Path, str]:
        self.count += 1
        unique = f"{int(time.time())}.P{os.getpid()}Q{self.count}U{uid}.{self.host}"
        return folder / "tmp" / unique, unique

    def commit(
        self, folder: Path, tmp: Path, unique: str, size: int, crlf_size: int,
        info: str, internaldate: datetime,
    ) -> Path:
        """``,S=`` is the file's size and ``,W=`` the size with CRLF line endings (what
        IMAP reports): Dovecot and Courier read both from the name."""
        final = folder / "cur" / f"{unique},S={size},W={crlf_size}:2,{info}"
        stamp = internaldate.timestamp()
        os.utime(tmp, (stamp, stamp))
        os.rename(tmp, final)
        return final


def info_letters(flags: frozenset[str], keywords: dict[str, int]) -> str:
    """The ``:2,`` letters for flags; ``keywords`` maps a keyword to its index."""
    letters = {FLAG_LETTERS[f.lower()] for f in flags if f.lower() in FLAG_LETTERS}
    for flag in flags:
        index = keywords.get(flag)
        if index is not None:
            letters.add(chr(ord("a") + index))
    return "".join(sorted(letters))


def write_keywords(folder: Path, keywords: dict[str, int]) -> None:
    lines = [f"{i} {word}\n" for word, i in sorted(keywords.items(), key=lambda x: x[1])]
    (folder / KEYWORDS_FILE).write_text("".join(lines), "utf-8")
