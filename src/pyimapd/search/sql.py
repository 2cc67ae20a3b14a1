"""Compiles a SEARCH key tree to a SQL condition for the database backends.

How this works: :func:`compile_search` walks the tree and returns ``(sql, params)``, a
condition with ``?`` placeholders to be put in a WHERE clause of a query shaped like::

    SELECT m.uid FROM messages AS m JOIN contents AS c ON c.id = m.content_id
    WHERE m.mailbox_id = ? AND (<condition>) ORDER BY m.uid

Aliases and columns the condition relies on (the schema in docs/storage.md):

* ``m`` = ``messages``: ``uid``, ``sysflags`` (system flag bits, see
  :data:`pyimapd.storage.values.SYSTEM_BITS`), ``keywords`` (space-separated),
  ``size``, ``internaldate`` / ``internaldate_offset`` (UTC epoch seconds / minutes east
  of UTC), ``sent_date`` / ``sent_date_offset`` (the same, NULL without a valid Date header),
  ``content_id``;
* ``c`` = ``contents``: ``search_text`` (casefolded decoded body text);
* ``content_headers`` (``content_id``, ``name``, ``value``): one row per header value
  line, name and value casefolded; queried in correlated subqueries.

Every leaf yields 0 or 1, never NULL, so NOT behaves as in the reference evaluator
(:mod:`pyimapd.search.evaluate`, whose semantics this follows case for case). Strings
are matched with ``pyimapd_contains(haystack, needle)`` on text casefolded in Python on
both sides, which avoids LIKE's escaping and its ASCII-only case folding. Neither
database's built-in substring search is linear (SQLite's ``instr`` compares at every
offset, PostgreSQL's ``strpos`` is Boyer-Moore-Horspool: a needle ``b`` + 60,000 ``a``
against 1 MB of ``a`` took 14 s there), so each backend defines the function with a
linear matcher: SQLite's calls Python's ``in`` (two-way search), PostgreSQL's uses a
literal regular expression (``***=``, a DFA) for needles over 16 characters.
With a ``text_filter`` (the database's full-text index, storage/sql/textindex.py), each
BODY, TEXT and HEADER test is put behind the index's candidates:
``(m.content_id IN (candidates) AND exact)``.
The filter may let through contents that do not match, never stop one that does, so
the answer is the exact path's; it only spares the exact test on most rows.
FUZZY (:mod:`pyimapd.search.fuzzy`) is ``pyimapd_fuzzy(text, trigrams) >= 50`` on the
same texts, behind the index's filter for :func:`~pyimapd.search.fuzzy.filter_grams`;
:func:`compile_relevancy` gives the score of a matching row.
UID ranges are inlined as integer literals (after ``int()``), so a long UID list
cannot exceed SQLite's parameter limit.
Constants are ``TRUE``/``FALSE`` (SQLite 3.23+ knows them, PostgreSQL needs them). The
PostgreSQL backend runs the same SQL: its schema defines ``pyimapd_contains`` and
``date(bigint, text)`` to mean what SQLite's built-ins mean here, and it numbers the
``?`` placeholders as in every statement of the SQL core (:mod:`pyimapd.storage.sql.core`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    holds,
)
from pyimapd.search.evaluate import fold
from pyimapd.storage.values import SYSTEM_BITS, canonical_flag

DAY_SQL = "date({col} + 60 * {col}_offset, 'unixepoch')"
"""The calendar day of an epoch column in its own stored offset, as ``YYYY-MM-DD``."""

SAVE_DAY_SQL = "date(COALESCE(m.savedate, m.internaldate), 'unixepoch')"
"""The UTC day of the save date (storage/sql/schema.py: NULL before it was kept)."""

CONTAINS = "pyimapd_contains({}, ?)"
"""Whether the text column holds the parameter as a substring (both sides casefolded);
a boolean in both databases (see the module docstring for why it is not ``instr``)."""



def contains(haystack: str | None, needle: str) -> bool:
    """SQLite's ``pyimapd_contains``: CPython's ``in`` switches to the two-way algorithm
    when a search does too much work, so it stays linear on any needle."""
    return haystack is not None and needle in haystack


_DAY_OPS = {"before": "<", "on": "=", "since": ">="}

Compiled = tuple[str, list[Any]]

TextFilter = Callable[[str, str], Compiled | None]
"""``(what, folded needle) -> SELECT or None``: what is ``"body"`` (the decoded body
text) or ``"lines"`` (the header lines TEXT and HEADER look at); the SELECT gives the
id of every content whose text holds the needle (and maybe others); None when the index
cannot tell. Several are asked as one ``m.content_id IN (... UNION ...)``."""


def _candidates(filters: list[Compiled]) -> Compiled:
    """The condition that the message's content is among the filters' selects."""
    return ("(m.content_id IN (" + " UNION ".join(f[0] for f in filters) + "))",
            [p for f in filters for p in f[1]])


def reads_content(key: SearchKey) -> bool:
    """Whether the condition of ``key`` reads ``c`` (``contents``): the query joins it
    only then, which for flag and header keys saves a lookup per message (SEEN over
    100,000 messages: 23 ms to 7 ms on SQLite)."""
    return holds(key, Body) or holds(key, Text) or holds(key, Fuzzy)


def compile_search(key: SearchKey, text_filter: TextFilter | None = None) -> Compiled:
    """``(sql, params)`` for ``key``, behind ``text_filter`` where it serves. Raises
    ValueError on keys only the session can resolve (SeqSet, UidSet, Recent, Within)."""
    exact = _exact(key, text_filter)
    if text_filter is None or not isinstance(key, Body | Text | Header):
        return exact
    needle = fold(key.value)
    kinds = {Body: ("body",), Text: ("body", "lines"), Header: ("lines",)}[type(key)]
    filters = [text_filter(kind, needle) for kind in kinds] if needle else [None]
    if None in filters:
        return exact
    sql, params = _candidates([f for f in filters if f is not None])
    return f"({sql} AND {exact[0]})", params + exact[1]


def _exact(key: SearchKey, text_filter: TextFilter | None) -> Compiled:
    """The condition for ``key`` itself; its sub-keys go through :func:`compile_search`."""
    match key:
        case All():
            return "TRUE", []
        case Flag():
            return _flag(key)
        case UidIn(ranges=ranges):
            return _uids(ranges)
        case Size(larger=larger, octets=octets):
            return ("(m.size > ?)" if larger else "(m.size < ?)"), [int(octets)]
        case InternalDate(op=op, day=day):
            return _day("m.internaldate", op), [day.isoformat()]
        case SaveDate(op=op, day=day):
            return (f"({SAVE_DAY_SQL} {_DAY_OPS[op]} ?)"), [day.isoformat()]
        case SentDate(op=op, day=day):  # no (valid) Date header: the internal date
            sent, internal = _day("m.sent_date", op), _day("m.internaldate", op)
            return (f"(CASE WHEN m.sent_date IS NOT NULL THEN {sent} ELSE {internal} END)",
                    [day.isoformat(), day.isoformat()])
        case Header():
            return _header(key)
        case Body(value=value):
            return f"({CONTAINS.format('c.search_text')})", [fold(value)]
        case Text(value=value):
            return _text(fold(value))
        case Modseq(value=value):
            return "(m.modseq >= ?)", [int(value)]
        case Content(content=content):
            return "(m.content_id = ?)", [int(content)]
        case InternalTime(older=older, epoch=epoch):
            return ("(m.internaldate <= ?)" if older else "(m.internaldate >= ?)"), [int(epoch)]
        case Fuzzy():
            return _fuzzy(key, text_filter)
        case Not(key=inner):
            sql, params = compile_search(inner, text_filter)
            return f"(NOT {sql})", params
        case Or(left=left, right=right):
            return _join("OR", (left, right), "FALSE", text_filter)
        case And(keys=keys):
            return _join("AND", keys, "TRUE", text_filter)
    raise ValueError(f"search key {key!r} must be resolved by the session first")


def _flag(key: Flag) -> Compiled:
    """System flags test their bit; anything else is a keyword, matched as a whole word
    of the space-separated ``keywords`` column (keywords are ASCII atoms, so SQL
    ``lower`` folds them fully). ``\\Recent`` is never stored: it matches nothing."""
    flag = canonical_flag(key.flag)
    bit = SYSTEM_BITS.get(flag)
    params: list[Any] = []
    if bit is not None:
        sql = f"((m.sysflags & {bit}) != 0)"
    elif flag.lower() == "\\recent":
        sql = "FALSE"
    else:
        # Most messages have no keyword: the empty test spares them the function call
        # (KEYWORD over 100,000 messages: 35 ms to 12 ms on SQLite).
        sql = "(m.keywords != '' AND " + CONTAINS.format("' ' || lower(m.keywords) || ' '") + ")"
        params = [f" {flag.lower()} "]
    return (sql if key.present else f"(NOT {sql})"), params


def _uids(ranges: tuple[tuple[int, int], ...]) -> Compiled:
    if not ranges:
        return "FALSE", []
    terms = []
    for lo, hi in ranges:
        lo, hi = int(lo), int(hi)
        terms.append(f"m.uid = {lo}" if lo == hi else f"m.uid BETWEEN {lo} AND {hi}")
    return _balanced("OR", terms), []


def _day(column: str, op: str) -> str:
    if op not in _DAY_OPS:
        raise ValueError(f"bad date operator {op!r}")
    return f"({DAY_SQL.format(col=column)} {_DAY_OPS[op]} ?)"


def _header(key: Header) -> Compiled:
    name = fold(key.name)
    if name == PART_HEADERS:  # not a field name a client can send (see evaluate)
        return "0", []
    sql = (
        "EXISTS (SELECT 1 FROM content_headers AS h WHERE h.content_id = m.content_id"
        f" AND h.name = ? AND {CONTAINS.format('h.value')})"
    )
    return sql, [name, fold(key.value)]


def _text(needle: str) -> Compiled:
    """Body text, or a header row as ``name: value`` (part-header rows as they are)."""
    row = "CASE WHEN h.name = ? THEN h.value ELSE h.name || ': ' || h.value END"
    sql = (
        f"({CONTAINS.format('c.search_text')} OR EXISTS (SELECT 1 FROM content_headers"
        f" AS h WHERE h.content_id = m.content_id AND {CONTAINS.format(row)}))"
    )
    return sql, [needle, PART_HEADERS, needle]


def _fuzzy(key: Fuzzy, text_filter: TextFilter | None) -> Compiled:
    """A fuzzy string key: one of its texts scores the threshold; behind the index's
    test for texts holding one of the filter trigrams, when it has one."""
    inner = key.key
    wanted = fuzzy.grams(fold(inner.value))
    if not wanted:
        return compile_search(inner, text_filter)
    scores = _fuzzy_scores(inner, wanted)
    condition = _balanced("OR", [f"({sql} >= {fuzzy.THRESHOLD})" for sql, _ in scores])
    params = [p for _, ps in scores for p in ps]
    if text_filter is None:
        return condition, params
    kinds = ("lines",) if isinstance(inner, Header) else ("body",)
    kinds += ("lines",) if isinstance(inner, Text) else ()
    filters = [text_filter(kind, g) for g in fuzzy.filter_grams(wanted) for kind in kinds]
    served = [f for f in filters if f is not None]
    if len(served) < len(filters):
        return condition, params
    sql, filter_params = _candidates(served)
    return f"({sql} AND {condition})", filter_params + params


_LINES_SCORE = ("COALESCE((SELECT max(pyimapd_fuzzy({line}, ?)) FROM content_headers AS h"
                " WHERE h.content_id = m.content_id{name}), 0)")


def _fuzzy_scores(inner: Header | Body | Text, wanted: tuple[str, ...]) -> list[Compiled]:
    """The scores of the texts one fuzzy key looks at, whose best is the key's score
    (evaluate.fuzzy_score): the body, the best header line, or both for TEXT."""
    joined = "\n".join(wanted)
    body: Compiled = ("pyimapd_fuzzy(c.search_text, ?)", [joined])
    if isinstance(inner, Body):
        return [body]
    if isinstance(inner, Header):
        name = fold(inner.name)
        if name == PART_HEADERS:
            return [("0", [])]
        return [(_LINES_SCORE.format(line="h.value", name=" AND h.name = ?"), [joined, name])]
    row = "CASE WHEN h.name = ? THEN h.value ELSE h.name || ': ' || h.value END"
    return [body, (_LINES_SCORE.format(line=row, name=""), [PART_HEADERS, joined])]


Row = Sequence[Any]


def compile_relevancy(key: SearchKey) -> tuple[list[Compiled], Callable[[Row], int]]:
    """How to score a row ``key`` matches (RFC 6203 section 4, as evaluate.relevancy):
    the columns to select (the fuzzy keys' text scores, and whether each side of an OR
    holding one matches) and the function that combines a row of them into its score;
    combining in Python keeps the SQL linear in the size of the key."""
    columns: list[Compiled] = []

    def column(compiled: Compiled) -> int:
        columns.append(compiled)
        return len(columns) - 1

    def build(k: SearchKey) -> Callable[[Row], int]:
        match k:
            case Fuzzy(key=inner) if fuzzy.grams(fold(inner.value)):
                at = [column(c) for c in _fuzzy_scores(inner, fuzzy.grams(fold(inner.value)))]
                return lambda r: max(int(r[i]) for i in at)
            case And(keys=keys) if holds(k, Fuzzy):
                parts = [build(sub) for sub in keys if holds(sub, Fuzzy)]
                return lambda r: min(part(r) for part in parts)
            case Or(left=left, right=right) if holds(k, Fuzzy):
                sides = []
                for side in (left, right):
                    cond, params = compile_search(side)
                    sides.append((column((f"(CASE WHEN {cond} THEN 1 ELSE 0 END)", params)),
                                  build(side)))
                return lambda r: max(score(r) if r[i] else 0 for i, score in sides)
        return lambda r: 100

    return columns, build(key)


def _join(
    op: str, keys: tuple[SearchKey, ...], empty: str, text_filter: TextFilter | None
) -> Compiled:
    if not keys:
        return empty, []
    parts, params = [], []
    for k in keys:
        sql, p = compile_search(k, text_filter)
        parts.append(sql)
        params.extend(p)
    return _balanced(op, parts), params


_FAN_OUT = 16


def _balanced(op: str, parts: list[str]) -> str:
    """``(a op b op ...)`` grouped 16 at a time: SQLite parses a flat chain as a tree as
    deep as it is long and refuses past 1000 (``SEARCH 1 2 3 ... 5000`` did that), while
    grouping keeps both the expression depth and the parentheses logarithmic."""
    while len(parts) > _FAN_OUT:
        parts = [
            "(" + f" {op} ".join(parts[i : i + _FAN_OUT]) + ")"
            for i in range(0, len(parts), _FAN_OUT)
        ]
    return "(" + f" {op} ".join(parts) + ")"
