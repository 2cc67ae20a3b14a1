"""The values inside commands: sequence sets, PARTIAL ranges and FETCH items.

Why a module of their own: they are what several layers share without the commands
around them (the grammar reads sequence sets, the FETCH parser and IMAP URLs build
sections, the FETCH handler and the URL reader locate them), and like the commands they
validate when built, raising :class:`CommandError`. :mod:`pyimapd.protocol.commands`
re-exports every name, so ``commands.FetchSection`` and the rest keep working.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

STAR = 0
"""Stands for ``*`` in a sequence set; 0 is never a valid nz-number (RFC 3501 section 9)."""


class CommandError(ValueError):
    """A command that is syntactically well formed but semantically invalid."""


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """``sequence-set`` of RFC 3501 section 9, kept as written: ranges may be reversed.

    Each range is ``(first, last)`` with :data:`STAR` for ``*``; a single number ``n`` is
    ``(n, n)``. ``saved`` is true for the SEARCHRES ``$`` marker (RFC 5182).
    """

    ranges: tuple[tuple[int, int], ...]
    saved: bool = False

    def __post_init__(self) -> None:
        if not self.ranges and not self.saved:
            raise CommandError("empty sequence set")
        for lo, hi in self.ranges:
            if lo < 0 or hi < 0:
                raise CommandError("negative number in sequence set")

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Concrete, sorted, merged ranges with ``*`` replaced by ``largest``.

        RFC 3501 section 9: "*" is the largest number in use, and ``a:b`` equals ``b:a``.
        """
        spans = []
        for lo, hi in self.ranges:
            lo = largest if lo == STAR else lo
            hi = largest if hi == STAR else hi
            if lo > hi:
                lo, hi = hi, lo
            spans.append((lo, hi))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return merged

    def iter_values(self, largest: int) -> Iterator[int]:
        for lo, hi in self.resolve(largest):
            yield from range(lo, hi + 1)

    def __str__(self) -> str:
        def one(n: int) -> str:
            return "*" if n == STAR else str(n)

        return ",".join(one(lo) if lo == hi else f"{one(lo)}:{one(hi)}" for lo, hi in self.ranges)


MAX_PARTIAL = 4294967295
"""``nz-number`` is 32-bit (RFC 9051 section 9)."""


@dataclass(frozen=True, slots=True)
class PartialRange:
    """``partial-range`` of RFC 9394 section 4, kept as written (the PARTIAL response
    item echoes it): ``first:last`` with both positive (``partial-range-first``, counted
    from the first result) or both negative (``partial-range-last``, -1 is the last
    result); ``500:400`` means ``400:500``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first == 0 or self.last == 0 or (self.first < 0) != (self.last < 0):
            raise CommandError("invalid partial range")
        if max(abs(self.first), abs(self.last)) > MAX_PARTIAL:
            raise CommandError("invalid partial range")

    def __str__(self) -> str:
        return f"{self.first}:{self.last}"

    def select(self, results: Sequence[int]) -> list[int]:
        """The results at the range's positions, in the order given. A range reaching
        past either end gets what there is (section 3.1), possibly nothing."""
        lo, hi = sorted((abs(self.first), abs(self.last)))
        n = len(results)
        if self.first > 0:
            return list(results[lo - 1 : hi])
        end = n - lo + 1  # -lo is results[n - lo]; the slice ends after it
        return list(results[max(n - hi, 0) : end]) if end > 0 else []


FETCH_ATTRS = frozenset(
    {
        "FLAGS",
        "UID",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
        "PREVIEW",
        "PREVIEW (LAZY)",
    }
)
"""``PREVIEW (LAZY)`` is RFC 8970's ``"PREVIEW" SP "(" preview-mod ")"`` with its one
modifier, kept as one fetch-att spelling (the parser folds repeats and case)."""


@dataclass(frozen=True, slots=True)
class FetchAttr:
    """A simple fetch-att: one of :data:`FETCH_ATTRS`. Macros are expanded by the parser."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in FETCH_ATTRS:
            raise CommandError(f"unknown fetch attribute {self.name}")


SECTION_TEXTS = frozenset({"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"})


@dataclass(frozen=True, slots=True)
class FetchSection:
    """``BODY[section]<partial>`` and ``BODY.PEEK[...]`` (RFC 3501 section 6.4.5).

    ``part`` is the dotted part number, ``()`` for the whole message. ``text`` is one of
    :data:`SECTION_TEXTS`; ``fields`` are the upper-cased header names of HEADER.FIELDS
    and HEADER.FIELDS.NOT. ``partial`` is ``(offset, count)``.
    """

    peek: bool
    part: tuple[int, ...] = ()
    text: str = ""
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.text not in SECTION_TEXTS:
            raise CommandError(f"unknown section text {self.text}")
        if self.text == "MIME" and not self.part:
            raise CommandError("MIME needs a part number")
        if self.text.startswith("HEADER.FIELDS") and not self.fields:
            raise CommandError("HEADER.FIELDS needs at least one field name")
        if any(p <= 0 for p in self.part):
            raise CommandError("part numbers start at 1")
        if self.partial is not None and (self.partial[0] < 0 or self.partial[1] <= 0):
            raise CommandError("invalid partial range")

    def section_spec(self) -> str:
        """The section as the response names it: ``1.HEADER.FIELDS (FROM TO)``."""
        parts = [".".join(str(p) for p in self.part)] if self.part else []
        if self.text:
            parts.append(self.text)
        spec = ".".join(parts)
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchBinary:
    """``BINARY[part]<partial>``, ``BINARY.PEEK[...]`` and ``BINARY.SIZE[part]`` (RFC 3516
    section 4.2): the part's content with its transfer encoding undone. ``part`` is
    ``()`` for the whole message; ``size`` asks for BINARY.SIZE (never with ``partial``)."""

    peek: bool
    part: tuple[int, ...] = ()
    partial: tuple[int, int] | None = None
    size: bool = False

    def __post_init__(self) -> None:
        if any(p <= 0 for p in self.part):
            raise CommandError("part numbers start at 1")
        if self.partial is not None and (self.partial[0] < 0 or self.partial[1] <= 0):
            raise CommandError("invalid partial range")
        if self.size and self.partial is not None:
            raise CommandError("BINARY.SIZE takes no partial range")


FetchItem = FetchAttr | FetchSection | FetchBinary
