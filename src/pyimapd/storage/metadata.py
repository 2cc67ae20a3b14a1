"""METADATA (RFC 5464): the settings, the refusals and the rules shared by every backend.

How this works: an entry is stored under its full name in lower case (section 3.2:
entry names are case-insensitive), with the user a ``/private`` entry belongs to, or
``""`` for a ``/shared`` one. Backends keep the entries of a mailbox (they go with the
mailbox row: RENAME keeps them, DELETE drops them) and each user's ``/private`` server
entries; they return every entry a user can see and apply a batch of changes at once.
What a GETMETADATA returns of them (DEPTH, MAXSIZE) is worked out here, in one place;
the rights are checked by :class:`~pyimapd.storage.sharing.SharingStore`.

Server ``/shared`` entries are not stored: they are ``[metadata] admin`` (the
read-only ``/shared/admin`` of section 3.2.1.1) and ``comment``, set by the
administrator in the configuration; SETMETADATA of a server ``/shared`` entry is
refused with ``NO [NOPERM]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyimapd.storage.records import StorageError

PRIVATE = "/private"
SHARED = "/shared"

INFINITY = -1
"""``DEPTH infinity``."""


@dataclass(frozen=True, slots=True)
class MetadataSettings:
    """``[metadata]``. ``max_size``: octets of one value (section 4.3's MAXSIZE; the
    RFC's floor is 1024); ``max_entries``: entries per mailbox (or server) and scope,
    the ``/shared`` ones and each user's ``/private`` ones counted apart (the floor is
    10); ``admin``: the server's ``/shared/admin``, a URI such as ``mailto:...``;
    ``comment``: the server's ``/shared/comment``."""

    max_size: int = 64 * 1024
    max_entries: int = 100
    admin: str = ""
    comment: str = ""

    def __post_init__(self) -> None:
        if self.max_size < 1024 or self.max_entries < 10:
            raise ValueError("RFC 5464 section 4.1: max_size >= 1024, max_entries >= 10")

    def server_shared(self) -> dict[str, bytes]:
        """The server's ``/shared`` entries, from the configuration."""
        found = {"/shared/admin": self.admin, "/shared/comment": self.comment}
        return {k: v.encode("utf-8") for k, v in found.items() if v}


class MetadataTooBig(StorageError):
    """Section 4.3: ``NO [METADATA MAXSIZE n]``, n the largest value accepted."""

    def __init__(self, limit: int) -> None:
        super().__init__("Metadata value too large")
        self.code = f"METADATA MAXSIZE {limit}"


class MetadataTooMany(StorageError):
    """Section 4.3: ``NO [METADATA TOOMANY]``."""

    code = "METADATA TOOMANY"

    def __init__(self) -> None:
        super().__init__("Too many metadata entries")


def owner_of(entry: str, user: str) -> str:
    """Who a stored entry belongs to: ``user`` for ``/private``, ``""`` for
    ``/shared``."""
    return user if is_private(entry) else ""


def is_private(entry: str) -> bool:
    return entry == PRIVATE or entry.startswith(PRIVATE + "/")


def select(
    entries: Mapping[str, bytes], requested: Iterable[str], depth: int
) -> list[tuple[str, bytes]]:
    """What GETMETADATA returns (section 4.2.2): each requested entry that exists, plus
    those below it up to ``depth`` levels (:data:`INFINITY` for all), once each, in
    the order requested (below an entry: by name)."""
    out: dict[str, bytes] = {}
    for name in requested:
        if name in entries:
            out.setdefault(name, entries[name])
        if depth == 0:
            continue
        prefix = name + "/"
        for found in sorted(entries):
            if found.startswith(prefix):
                levels = found[len(prefix):].count("/") + 1
                if depth == INFINITY or levels <= depth:
                    out.setdefault(found, entries[found])
    return list(out.items())


def limit(
    found: list[tuple[str, bytes]], maxsize: int | None
) -> tuple[list[tuple[str, bytes]], int]:
    """MAXSIZE (section 4.2.1): the entries of at most ``maxsize`` octets, and the size
    of the largest one left out (0 for none: no LONGENTRIES code)."""
    if maxsize is None:
        return found, 0
    kept = [(k, v) for k, v in found if len(v) <= maxsize]
    longest = max((len(v) for _, v in found if len(v) > maxsize), default=0)
    return kept, longest


def check_count(
    current: Iterable[str], changes: Mapping[str, bytes | None], max_entries: int
) -> None:
    """Raises MetadataTooMany when ``changes`` would leave more than ``max_entries`` in
    a scope (``/shared``, or one user's ``/private``) to which they add an entry."""
    after = set(current)
    for name, value in changes.items():
        if value is None:
            after.discard(name)
        else:
            after.add(name)
    before = set(current)
    for scope_private in (False, True):
        added = any(is_private(n) == scope_private for n in after - before)
        if added and sum(is_private(n) == scope_private for n in after) > max_entries:
            raise MetadataTooMany()
