"""The ESEARCH command of MULTISEARCH (RFC 7377): its command type and the reading of
its arguments; :mod:`pyimapd.protocol.parser` lists it in its command table.

``esearch = "ESEARCH" [SP esearch-source-opts] [SP search-return-opts] SP
search-program`` (section 4), where ``esearch-source-opts = "IN" SP "(" source-mbox
[SP "(" scope-options ")"] ")"`` and ``source-mbox`` is one or more of NOTIFY's
``filter-mailboxes`` (RFC 5465 section 8) except ``selected-delayed``, plus RFC 7377's
``subtree-one``. The grammar is checked here, so its breaches are BAD: an unknown or
unsupported filter, and any scope option (none is defined, so none is supported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyimapd.protocol import commands as c
from pyimapd.protocol.arguments import PartialRange
from pyimapd.protocol.grammar import ParseFailure, Reader
from pyimapd.protocol.notify_parser import parse_mailboxes
from pyimapd.protocol.search_parser import parse_search, parse_search_return
from pyimapd.search.ast import SearchKey

FILTERS = ("SELECTED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "SUBTREE-ONE",
           "MAILBOXES")
"""The source filters ESEARCH takes (section 2: NOTIFY's, without SELECTED-DELAYED,
with SUBTREE-ONE)."""
NAMED = ("SUBTREE", "SUBTREE-ONE", "MAILBOXES")
"""The filters followed by ``one-or-more-mailbox``."""
MAX_FILTERS = 64
"""Filters in one ``IN (...)``; more is refused rather than parsed."""

_IN = re.compile(rb" IN (?=\()", re.IGNORECASE)
_FILTER = re.compile(rb"[A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class MailboxFilter:
    """One ``filter-mailboxes``: the filter (upper case, one of :data:`FILTERS`) and the
    mailboxes SUBTREE, SUBTREE-ONE and MAILBOXES name."""

    filter: str
    mailboxes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Esearch(c.Command):
    """ESEARCH (RFC 7377 section 2). ``sources`` is None without ``IN (...)``: then
    the selected mailbox is searched. ``returns`` is None without RETURN, which means
    ALL, as ``RETURN ()`` does."""

    key: SearchKey
    sources: tuple[MailboxFilter, ...] | None = None
    charset: str | None = None
    returns: frozenset[str] | None = None
    partial: PartialRange | None = None

    def __post_init__(self) -> None:
        c.check_returns(self.returns, self.partial, "ESEARCH")
        if self.returns is not None and {"UPDATE", "CONTEXT"} & self.returns:
            # RFC 5267's contexts follow the selected mailbox of SEARCH and SORT.
            raise c.CommandError("ESEARCH takes no CONTEXT or UPDATE")

    @property
    def only_selected(self) -> bool:
        """Whether only the selected mailbox is searched (no sources, or SELECTED)."""
        return self.sources is None or all(f.filter == "SELECTED" for f in self.sources)


def esearch(r: Reader, tag: str, uid: bool) -> c.Command:
    """``esearch`` as in the module docstring; there is no ``UID ESEARCH`` (the
    results are UIDs anyway), so ``uid`` is always false here."""
    sources = _sources(r) if r.match(_IN) else None
    returns, partial, _ = parse_search_return(r) or (None, None, ())
    key, charset = parse_search(r)
    return Esearch(tag, key, sources, charset, returns, partial)


def _sources(r: Reader) -> tuple[MailboxFilter, ...]:
    """``"(" source-mbox [SP "(" scope-options ")"] ")"`` after ``IN``."""
    r.char(b"(", "source mailboxes")
    filters = [_filter(r)]
    while r.peek() == 0x20:
        r.pos += 1
        if r.peek() == 0x28:
            raise ParseFailure("Unknown ESEARCH scope option: none is supported")
        filters.append(_filter(r))
        if len(filters) > MAX_FILTERS:
            raise ParseFailure(f"More than {MAX_FILTERS} source mailbox filters")
    r.char(b")", "source mailboxes")
    return tuple(filters)


def _filter(r: Reader) -> MailboxFilter:
    m = r.match(_FILTER)
    name = m.group().decode("ascii").upper() if m else ""
    if name == "SELECTED-DELAYED":
        raise ParseFailure("SELECTED-DELAYED is not a source of ESEARCH (RFC 7377 section 2)")
    if name not in FILTERS:
        raise ParseFailure("Unknown source mailbox filter in ESEARCH")
    if name not in NAMED:
        return MailboxFilter(name)
    r.sp("mailboxes")
    return MailboxFilter(name, parse_mailboxes(r))
