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

from pyimapd.mime.address import MISSING_MAILBOX, parse_address_list
from pyimapd.mime.model import Envelope, Part
from pyimapd.mime.search import sent_date
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


def first_mailbox(value: str | None) -> str:
    """``addr-mailbox`` of the first address of an address field as ENVELOPE lists it
    (RFC 3501 section 9): for a field that starts with a group, that is the group's start
    marker, whose addr-mailbox is the group name (``Cc: user2: blah@domain1.org;`` sorts
    as ``user2``, as in Dovecot). The empty string when there is none (section 3: an
    absent header sorts as the empty string, which sorts first)."""
    for _name, _adl, mailbox, _host in parse_address_list(value) or ():
        return "" if mailbox is None or mailbox == MISSING_MAILBOX else mailbox
    return ""


def _value(name: str, env: Envelope, root: Part | None, internaldate: datetime,
           size: int) -> SortValue:
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
    raise ValueError(f"unknown sort key {name!r}")


def sort_values(criteria: Sequence[Criterion], root: Part | None, internaldate: datetime,
                size: int) -> tuple[SortValue, ...]:
    """What the criteria compare of one message, in criteria order. ``root`` is the
    message's stored part tree (None when it has none: every header is then absent)."""
    env = (root.envelope if root is not None else None) or Envelope()
    return tuple(_value(name, env, root, internaldate, size) for name, _ in criteria)


def _nth(i: int) -> Callable[[tuple[int, tuple[SortValue, ...]]], SortValue]:
    """The key of a stable sort pass: the i-th sort value."""
    return lambda message: message[1][i]


def sort_uids(criteria: Sequence[Criterion],
              messages: Sequence[tuple[int, tuple[SortValue, ...]]]) -> list[int]:
    """The UIDs of ``messages`` (``(uid, sort_values(...))`` pairs in mailbox order)
    ordered by the criteria, ties kept in mailbox order."""
    order = list(messages)
    for i in range(len(criteria) - 1, -1, -1):
        order.sort(key=_nth(i), reverse=criteria[i][1])
    return [uid for uid, _ in order]
