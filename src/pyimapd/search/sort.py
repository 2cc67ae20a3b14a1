"""SORT (RFC 5256 section 3): the sort key of one message, and the ordering.

How this works: the session reads the matching messages one by one and keeps, per
message, only a tuple of the values its sort criteria compare (:func:`sort_values`):
integers for dates and sizes, i;unicode-casemap octets (RFC 5051) for strings. The
ordering (:func:`sort_uids`) is a chain of stable sorts from the last criterion to the
first, over a list that starts in mailbox order: each criterion, REVERSE or not, keeps
the order of the criteria after it among its ties, and the mailbox order (the implicit
"sequence number" criterion) breaks every remaining tie, as section 3 requires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pyimapd.mime.address import MISSING_DOMAIN, MISSING_MAILBOX, Address, parse_address_list
from pyimapd.mime.model import Envelope, Part
from pyimapd.mime.search import decode_words, sent_date
from pyimapd.search.evaluate import epoch_seconds as timestamp
from pyimapd.search.subject import base_subject, casemap

SortValue = int | bytes
Criterion = tuple[str, bool]
"""A ``sort-key`` name (RFC 5256 section 5) and whether REVERSE precedes it."""


def sent_time(root: Part | None, internaldate: datetime) -> int:
    """The "sent date" of section 2.2: the Date header normalised to UTC, or the
    INTERNALDATE when the Date header is missing or cannot be parsed."""
    sent = sent_date(root) if root is not None else None
    return timestamp(sent if sent is not None else internaldate)


def first_address(value: str | None) -> Address | None:
    """The first address of an address field as ENVELOPE gives it (RFC 3501 section
    7.4.2). For a field that starts with a group that is the group's start marker
    (``(NIL NIL "user2" NIL)`` for ``Cc: user2: blah@domain1.org;``), whose addr-mailbox
    is the group name: RFC 5256 section 3 sorts by "the first cc address" of the
    envelope, and Dovecot sorts such a field as ``user2`` (measured by the differential
    test). None when the field is absent or empty."""
    return next(iter(parse_address_list(value) or ()), None)


def first_mailbox(value: str | None) -> str:
    """``addr-mailbox`` of the first address of an address field (RFC 3501 section 9);
    the empty string when there is none (section 3: an absent header sorts as the empty
    string, which sorts first)."""
    address = first_address(value)
    if address is None or address[2] == MISSING_MAILBOX:
        return ""
    return address[2] or ""


def display_value(value: str | None) -> str:
    """The DISPLAY sort value (RFC 5957 sections 3 and 4) of the first address of an
    address field: its ``addr-name`` RFC 2047 decoded (RFC 5255 section 4.6) when that
    is not empty, else ``addr-mailbox@addr-host``, else ``addr-mailbox``, else the empty
    string. The MISSING_* placeholders stand for the NIL parts of a broken address
    (``To: user``), so they count as absent here rather than sorting as text."""
    address = first_address(value)
    if address is None:
        return ""
    name, _adl, mailbox, host = address
    if name:
        decoded = decode_words(name.encode("utf-8", "surrogateescape")) if "=?" in name else name
        if decoded.strip():
            return decoded
    box = None if mailbox == MISSING_MAILBOX else mailbox
    if box and host and host != MISSING_DOMAIN:
        return f"{box}@{host}"
    return box or ""


def _value(name: str, env: Envelope, root: Part | None, internaldate: datetime,
           size: int, relevancy: int) -> SortValue:
    if name == "RELEVANCY":  # RFC 6203 section 4: the most relevant first
        return -relevancy
    if name == "ARRIVAL":
        return timestamp(internaldate)
    if name == "DATE":
        return sent_time(root, internaldate)
    if name == "SIZE":
        return size
    if name == "SUBJECT":
        return casemap(base_subject(env.subject)[0])
    if name == "FROM":
        return casemap(first_mailbox(env.from_))
    if name == "TO":
        return casemap(first_mailbox(env.to))
    if name == "CC":
        return casemap(first_mailbox(env.cc))
    if name == "DISPLAYFROM":  # RFC 5957 section 4
        return casemap(display_value(env.from_))
    if name == "DISPLAYTO":
        return casemap(display_value(env.to))
    raise ValueError(f"unknown sort key {name!r}")


def sort_values(criteria: Sequence[Criterion], root: Part | None, internaldate: datetime,
                size: int, relevancy: int = 100) -> tuple[SortValue, ...]:
    """What the criteria compare of one message, in criteria order. ``root`` is the
    message's stored part tree (None when it has none: every header is then absent);
    ``relevancy`` its FUZZY score for the search at hand."""
    env = (root.envelope if root is not None else None) or Envelope()
    return tuple(_value(name, env, root, internaldate, size, relevancy)
                 for name, _ in criteria)


def _nth(i: int) -> Callable[[tuple[int, tuple[SortValue, ...]]], SortValue]:
    """The key of a stable sort pass: the i-th sort value."""
    return lambda message: message[1][i]


def sort_keyed(criteria: Sequence[Criterion],
               messages: Sequence[tuple[int, tuple[SortValue, ...]]],
               ) -> list[tuple[int, tuple[SortValue, ...]]]:
    """``messages`` (``(uid, sort_values(...))`` pairs in mailbox order) ordered by the
    criteria, ties kept in mailbox order."""
    order = list(messages)
    for i in range(len(criteria) - 1, -1, -1):
        order.sort(key=_nth(i), reverse=criteria[i][1])
    return order


def sort_uids(criteria: Sequence[Criterion],
              messages: Sequence[tuple[int, tuple[SortValue, ...]]]) -> list[int]:
    """The UIDs of :func:`sort_keyed`'s order."""
    return [uid for uid, _ in sort_keyed(criteria, messages)]
