"""Storage routines as generators: one text of every query for SQLite and PostgreSQL.

How this works: a routine (the functions of :mod:`.accounts`, :mod:`.mailboxes`,
:mod:`.messages` and :mod:`.quota`) is a generator function whose first argument is the
:class:`Dialect`. It yields :data:`Op` values, a statement to run (:class:`Query`), a
mailbox to announce once the transaction commits (:class:`Changed`) or a body to store
(:class:`WriteBody`), and receives each statement's result; what it returns is the
routine's result. Routines do no I/O and never see a connection, so the same code runs
on both databases: the SQLite backend drives a routine synchronously on the connection
of the thread it runs on (``storage/sqlite/db.py``), the PostgreSQL backend with awaits
on a pooled asyncpg connection (``storage/postgres/db.py``). A routine calls another
with ``yield from``.

Statements are written with ``?`` placeholders; the PostgreSQL driver numbers them. No
statement has a ``?`` anywhere else: client strings are always parameters. Rows support
both ``row["name"]`` and ``row[0]`` on both databases.

What the two SQL dialects spell differently is in :class:`Dialect`, each with its
reason: row locks (PostgreSQL's writers run concurrently, SQLite has one writer), the
binary collation, JSON columns, arrays against bounded ``IN`` lists, the UIDVALIDITY
counter and SQLite's index hints. Both databases accept the rest as written here:
``RETURNING``, ``ON CONFLICT``, ``FILTER`` on aggregates, ``TRUE``/``FALSE``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, TypeVar

from pyimapd.storage.values import batches

T = TypeVar("T")

Kind = Literal["rows", "tuples", "row", "value", "count", "many"]


@dataclass(frozen=True, slots=True)
class Query:
    """One statement. ``kind`` says what the routine receives back: ``rows`` (a list of
    rows), ``tuples`` (the same, as plain tuples where that is cheaper: for scans of a
    whole mailbox), ``row`` (the first row or None), ``value`` (the first column of the
    first row, or None), ``count`` (rows changed) or ``many`` (``args`` is a list of
    argument tuples, run as one batch; receives None)."""

    sql: str
    args: tuple[Any, ...]
    kind: Kind


@dataclass(frozen=True, slots=True)
class Changed:
    """Mailboxes whose sessions must hear of this transaction once it commits."""

    user: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WriteBody:
    """Stores ``size`` bytes of ``source`` as the body of content ``content_id``: an
    incremental blob on SQLite, rows of ``body_chunks`` on PostgreSQL. Never one
    allocation of the whole message."""

    content_id: int
    source: BinaryIO
    size: int


Op = Query | Changed | WriteBody
Routine = Generator[Op, Any, T]


def rows(sql: str, *args: Any) -> Query:
    return Query(sql, args, "rows")


def tuples(sql: str, *args: Any) -> Query:
    return Query(sql, args, "tuples")


def row(sql: str, *args: Any) -> Query:
    return Query(sql, args, "row")


def value(sql: str, *args: Any) -> Query:
    return Query(sql, args, "value")


def count(sql: str, *args: Any) -> Query:
    return Query(sql, args, "count")


def many(sql: str, args: Iterable[tuple[Any, ...]]) -> Query:
    return Query(sql, tuple(args), "many")


def changed(user: str, names: Iterable[str]) -> Changed:
    return Changed(user, tuple(dict.fromkeys(names)))


@dataclass(frozen=True, slots=True)
class TextIndex:
    """How a database indexes the search text for the text keys (issue 17): SQLite's
    FTS5 trigram tables or PostgreSQL's pg_trgm GIN indexes. The index is only ever a
    filter in front of the exact ``pyimapd_contains`` test (storage/sql/textindex.py),
    so it may return too much but must never miss a match. Each backend package makes
    its own (storage/sqlite/textindex.py, storage/postgres/textindex.py)."""

    name: str
    state: str
    """One row ``(usable, pending)``: whether the index may be used at all, and how
    many contents are not in it yet (they take the exact path only)."""
    pending: str
    """A SELECT of the content ids not in the index yet."""
    add: Callable[[int, str], Generator[Op, Any, None]]
    """The statements indexing a new content, given its id and folded search text,
    run inside its APPEND transaction (none: the database maintains the index)."""
    body: str
    """A SELECT of the content ids whose body text may hold the needle; one ``?`` for
    what :attr:`needle` made. Selects, not conditions, so that a search asking several
    (TEXT: body and header lines; FUZZY: several trigrams) asks their UNION, which
    PostgreSQL's planner estimates as the few rows it is (an OR of two ``IN``s it took
    for most of the mailbox, and hashed every content: 149 ms against 12.5 ms)."""
    lines: str
    """The same for the content's header lines (``name: value``, part header lines)."""
    needle: Callable[[str], str | None]
    """The parameter of :attr:`body` and :attr:`lines` for a folded SEARCH string;
    None when the index cannot serve it (too short for trigrams)."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    lock: str
    """Appended to a SELECT whose rows the transaction must hold until COMMIT. On
    PostgreSQL writers on every node run at once and take turns per row; SQLite has a
    single writer (``BEGIN IMMEDIATE``), so every write already holds everything."""
    binary_order: str
    """ORDER BY by code point: PostgreSQL's default collation is the locale's."""
    json_param: str
    """A JSON parameter: PostgreSQL's ``jsonb`` column wants a cast from text."""
    json_column: str
    """``users.secrets`` read back as text."""
    arrays: bool
    """PostgreSQL takes a UID list as one array parameter (``= ANY(?::bigint[])``);
    SQLite has no arrays and a parameter limit, so lists go in bounded ``IN`` batches."""
    next_uidvalidity: str
    """The statement that takes the next UIDVALIDITY: a sequence on PostgreSQL, a
    counter row on SQLite (which has no sequences)."""
    new_content: str
    """Inserts a ``contents`` row from ``(size, structure, search_text)``, returning its
    id; the body follows with :class:`WriteBody`. SQLite keeps the body in the row (a
    ``zeroblob`` to fill in place), PostgreSQL in ``body_chunks`` rows (a bytea value is
    read and written whole, so one column would be one allocation of the message)."""
    index_hints: bool
    """SQLite's planner needs ``INDEXED BY`` on the MODSEQ scans (it walks the primary
    key instead); PostgreSQL has no such syntax and plans them well."""
    types: Mapping[str, str]
    """How the shared DDL's column roles are spelled (storage/sql/schema.py)."""
    text_index: TextIndex | None = None
    """The full-text index the backend keeps (None: SEARCH takes the exact path)."""

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}" if self.index_hints else ""


SQLITE = Dialect(
    name="sqlite",
    lock="",
    binary_order="",
    json_param="?",
    json_column="secrets",
    arrays=False,
    next_uidvalidity=(
        "UPDATE counters SET value = CASE WHEN value >= 4294967295 THEN 1 ELSE value + 1"
        " END WHERE name = 'uidvalidity' RETURNING value"
    ),
    new_content=(
        "INSERT INTO contents (size, structure, search_text, preview, body)"
        " VALUES (?, ?, ?, ?, zeroblob(?1)) RETURNING id"
    ),
    index_hints=True,
    types={  # one INTEGER type; clustered tables without a rowid where keyed
        "id": "INTEGER PRIMARY KEY", "int": "INTEGER", "blob": "BLOB", "bool": "INTEGER",
        "false": "0", "json": "TEXT", "without_rowid": " WITHOUT ROWID",
        "body_column": ",\n    body BLOB NOT NULL",
    },
)

POSTGRES = Dialect(
    name="postgres",
    lock=" FOR UPDATE",
    binary_order=' COLLATE "C"',
    json_param="?::text::jsonb",
    json_column="secrets::text AS secrets",
    arrays=True,
    next_uidvalidity="SELECT nextval('uidvalidity_seq')",
    new_content=(
        "INSERT INTO contents (size, structure, search_text, preview) VALUES (?, ?, ?, ?)"
        " RETURNING id"
    ),
    index_hints=False,
    types={  # 64-bit counters; the body lives in body_chunks (postgres/schema.py)
        "id": "BIGSERIAL PRIMARY KEY", "int": "BIGINT", "blob": "BYTEA", "bool": "BOOLEAN",
        "false": "FALSE", "json": "JSONB", "without_rowid": "", "body_column": "",
    },
)

def uid_batches(d: Dialect, uids: Sequence[int]) -> list[tuple[str, tuple[Any, ...]]]:
    """``(condition on m.uid, its arguments)`` covering ``uids``: one array condition on
    PostgreSQL, bounded ``IN`` lists on SQLite. The UIDs are sorted and distinct."""
    ordered = sorted(set(uids))
    if d.arrays:
        return [("m.uid = ANY(?::bigint[])", (ordered,))]
    return [(f"m.uid IN ({','.join('?' * len(batch))})", tuple(batch))
            for batch in batches(ordered)]
