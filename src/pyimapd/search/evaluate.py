"""The reference SEARCH evaluator (RFC 3501 section 6.4.4): a plain reading of the RFC in
Python, used by the memory backend and as the oracle the SQL compiler is tested against.

Semantics shared with :mod:`pyimapd.search.sql` (both are tested on one table of cases):

* flags and keywords match case-insensitively; ``\\Recent`` is never stored, so a
  :class:`Flag` for it matches nothing (the session turns RECENT into UIDs);
* BEFORE/ON/SINCE compare the calendar day of the internal date in its own UTC offset
  (RFC 3501 and RFC 9051 section 6.4.4: "disregarding time and timezone"; the offset is
  the one APPEND gave, or the server's zone at delivery), SENTBEFORE/SENTON/SENTSINCE
  that of the Date header in the Date's own offset; a message without a valid Date
  header is taken as sent at its internal date (the "sent date" of RFC 5256 section
  2.2, which SORT uses too), see docs/storage.md;
* OLDER/YOUNGER (RFC 5032) arrive as :class:`InternalTime`, an inclusive comparison
  of the internal date's UTC epoch seconds with a fixed moment;
* HEADER/SUBJECT/FROM/... are case-insensitive substrings of one value line of the named
  field (values come decoded from :class:`PreparedMessage.search_headers`, several
  occurrences joined by newlines); an empty string matches when the field is present;
* BODY is a substring of the decoded body text; TEXT matches BODY or any header line
  written ``name: value``, including the header lines of MIME parts and encapsulated
  messages (stored under :data:`~pyimapd.mime.search.PART_HEADERS`, already written
  ``name: value``; HEADER never matches that key);
* case-insensitivity is Unicode ``casefold`` on both sides;
* FUZZY (:class:`Fuzzy`) scores the same texts by trigrams, as :mod:`.fuzzy` defines,
  and :func:`relevancy` combines the scores of a matching message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyimapd.mime.search import PART_HEADERS
from pyimapd.search import fuzzy
from pyimapd.search.ast import (
    All,
    And,
    Body,
    Content,
    Flag,
    Fuzzy,
    Header,
    InternalDate,
    InternalTime,
    Modseq,
    Not,
    Or,
    SaveDate,
    SearchKey,
    SentDate,
    Size,
    Text,
    UidIn,
)


@dataclass(frozen=True, slots=True)
class SearchableMessage:
    """What SEARCH needs of one message. ``headers`` maps a field name (any case) to its
    value lines joined by newlines; ``text`` is the decoded body text."""

    uid: int
    flags: frozenset[str]
    size: int
    internaldate: datetime
    sent_date: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    modseq: int = 0
    content: int = 0
    savedate: datetime | None = None


def fold(text: str) -> str:
    """The case-insensitive form used for every SEARCH string comparison."""
    return text.casefold()


def header_lines(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(folded field name, folded value line)`` pairs: the unit HEADER and TEXT match
    on, identical to the rows the SQL backend stores."""
    return [
        (fold(name), fold(line))
        for name, value in headers.items()
        for line in value.split("\n")
    ]


def compare_day(op: str, day: date, wanted: date) -> bool:
    """BEFORE/ON/SINCE on calendar days (RFC 3501: "disregarding time and timezone")."""
    if op == "before":
        return day < wanted
    if op == "on":
        return day == wanted
    if op == "since":
        return day >= wanted
    raise ValueError(f"bad date operator {op!r}")


def local_day(moment: datetime) -> date:
    """The calendar day of ``moment`` in its own offset (naive counts as UTC)."""
    return moment.date()


def epoch_seconds(moment: datetime) -> int:
    """Whole UTC seconds since the epoch (naive counts as UTC), as the SQL backends
    store the internal date."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _match_flag(key: Flag, msg: SearchableMessage) -> bool:
    wanted = key.flag.lower()
    has = any(f.lower() == wanted for f in msg.flags) and wanted != "\\recent"
    return has == key.present


def _match_header(key: Header, msg: SearchableMessage) -> bool:
    name, needle = fold(key.name), fold(key.value)
    if name == PART_HEADERS:
        return False
    return any(n == name and needle in v for n, v in header_lines(msg.headers))


def text_line(name: str, value: str) -> str:
    """The line TEXT matches for one ``(folded name, folded value)`` header row."""
    return value if name == PART_HEADERS else f"{name}: {value}"


def _match_text(key: Text, msg: SearchableMessage) -> bool:
    needle = fold(key.value)
    if needle in fold(msg.text):
        return True
    return any(needle in text_line(n, v) for n, v in header_lines(msg.headers))


def fuzzy_score(key: Fuzzy, msg: SearchableMessage) -> int:
    """The score of one fuzzy string key (:mod:`.fuzzy`): the best of the texts the
    exact key looks at (the body, each header line); 100 or 0 for a needle of no
    trigram, which is matched exactly."""
    inner = key.key
    wanted = fuzzy.grams(fold(inner.value))
    if not wanted:
        return 100 if matches(inner, msg) else 0
    texts: list[str] = []
    if isinstance(inner, Body | Text):
        texts.append(fold(msg.text))
    if isinstance(inner, Text):
        texts += [text_line(n, v) for n, v in header_lines(msg.headers)]
    if isinstance(inner, Header):
        name = fold(inner.name)
        texts += [v for n, v in header_lines(msg.headers) if n == name != PART_HEADERS]
    return max((fuzzy.score(t, wanted) for t in texts), default=0)


def relevancy(key: SearchKey, msg: SearchableMessage) -> int:
    """The relevancy score (RFC 6203 section 4) of a message ``key`` matches: a fuzzy
    key's score, 100 for an exact key, the lowest of an AND, the highest matching side
    of an OR."""
    match key:
        case Fuzzy():
            return fuzzy_score(key, msg)
        case And(keys=keys):
            return min((relevancy(k, msg) for k in keys), default=100)
        case Or(left=left, right=right):
            return max(relevancy(k, msg) if matches(k, msg) else 0 for k in (left, right))
    return 100


def matches(key: SearchKey, msg: SearchableMessage) -> bool:
    """Whether ``msg`` satisfies ``key``. Raises ValueError on keys only the session can
    resolve (SeqSet, UidSet, Recent, Within)."""
    match key:
        case All():
            return True
        case Flag():
            return _match_flag(key, msg)
        case UidIn(ranges=ranges):
            return any(lo <= msg.uid <= hi for lo, hi in ranges)
        case Size(larger=larger, octets=octets):
            return msg.size > octets if larger else msg.size < octets
        case InternalDate(op=op, day=day):
            return compare_day(op, local_day(msg.internaldate), day)
        case SaveDate(op=op, day=day):
            saved = msg.savedate if msg.savedate is not None else msg.internaldate
            return compare_day(op, saved.astimezone(UTC).date(), day)
        case SentDate(op=op, day=day):
            sent = msg.sent_date if msg.sent_date is not None else msg.internaldate
            return compare_day(op, local_day(sent), day)
        case Header():
            return _match_header(key, msg)
        case Body(value=value):
            return fold(value) in fold(msg.text)
        case Text():
            return _match_text(key, msg)
        case Modseq(value=value):
            return msg.modseq >= value
        case Content(content=content):
            return msg.content == content
        case InternalTime(older=older, epoch=epoch):
            moment = epoch_seconds(msg.internaldate)
            return moment <= epoch if older else moment >= epoch
        case Fuzzy():
            return fuzzy_score(key, msg) >= fuzzy.THRESHOLD
        case Not(key=inner):
            return not matches(inner, msg)
        case Or(left=left, right=right):
            return matches(left, msg) or matches(right, msg)
        case And(keys=keys):
            return all(matches(k, msg) for k in keys)
    raise ValueError(f"search key {key!r} must be resolved by the session first")
