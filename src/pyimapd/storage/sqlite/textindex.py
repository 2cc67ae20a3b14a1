"""SQLite's full-text index for SEARCH (issue 17): two FTS5 trigram tables.

How this works: ``content_body_fts`` indexes ``contents.search_text`` (the folded,
decoded body text BODY and TEXT match) and ``content_lines_fts`` the header lines of a
content as TEXT and HEADER see them (``name: value``, part header lines as stored),
joined by newlines. Both are *external content* tables over what is stored already
(``contents`` and the view ``content_lines``), so no text is kept twice, and both use
``detail=none``: the index keeps only which contents hold each trigram, the smallest
FTS5 index and the cheapest to fill. That rules out phrase queries, so a needle is
asked as the AND of its trigrams: every content holding the needle holds all of them,
and the exact test after the filter (search/sql.py) throws out the rest.

What is FTS5's own and so lives here rather than in the SQL core: the virtual tables,
the ``'delete'`` commands an external content table needs (FTS5 cannot see a row go),
the MATCH syntax, and ``text_index_pending``, the contents stored before the index
existed and not indexed yet (PostgreSQL's GIN indexes cover every row by themselves).
New contents are indexed inside their APPEND transaction, so nothing acknowledged is
ever outside the index without being pending; the pending ones are indexed by
``pyimapd index rebuild`` in short transactions, each taking contents out of
``text_index_pending`` as it indexes them, so a kill -9 at any point leaves a state
that SEARCH answers exactly.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from pyimapd.storage.sql.core import SQLITE, Dialect, Routine, TextIndex, count, tuples, value

_LINE = "CASE WHEN h.name = ' parts' THEN h.value ELSE h.name || ': ' || h.value END"
"""A header row as TEXT matches it (search/sql.py's ``_text``)."""


def _lines(content_id: str) -> str:
    """The content's header lines, in the order they were stored: the same expression
    fills the index and feeds its ``'delete'``, which must give FTS5 the same text."""
    return (f"(SELECT group_concat(line, char(10)) FROM (SELECT {_LINE} AS line"
            f" FROM content_headers AS h WHERE h.content_id = {content_id} ORDER BY h.rowid))")


_NOT_PENDING = "NOT EXISTS (SELECT 1 FROM text_index_pending WHERE content_id = {})"

SCHEMA = f"""
-- Contents not in the index yet: those stored before it existed, and those a rebuild
-- is redoing. A content that goes takes its row with it.
CREATE TABLE text_index_pending (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE);
INSERT INTO text_index_pending SELECT id FROM contents;
CREATE VIEW content_lines (id, lines) AS SELECT c.id, {_lines("c.id")} FROM contents AS c;
CREATE VIRTUAL TABLE content_body_fts USING fts5 (search_text, content = 'contents',
    content_rowid = 'id', tokenize = 'trigram', detail = none, columnsize = 0);
CREATE VIRTUAL TABLE content_lines_fts USING fts5 (lines, content = 'content_lines',
    content_rowid = 'id', tokenize = 'trigram', detail = none, columnsize = 0);
-- FTS5 does not see an external content row go: tell it, with the text it indexed.
CREATE TRIGGER contents_text_unindex BEFORE DELETE ON contents
WHEN {_NOT_PENDING.format("OLD.id")}
BEGIN
    INSERT INTO content_body_fts (content_body_fts, rowid, search_text)
        VALUES ('delete', OLD.id, OLD.search_text);
    INSERT INTO content_lines_fts (content_lines_fts, rowid, lines)
        VALUES ('delete', OLD.id, {_lines("OLD.id")});
END;
"""
"""Schema step 6: the tables, empty; every content stored so far is pending."""


def _add(content_id: int, text: str) -> Routine[None]:
    """Indexes a new content (its ``content_headers`` rows are written already)."""
    yield count("INSERT INTO content_body_fts (rowid, search_text) VALUES (?, ?)",
                content_id, text)
    yield count(f"INSERT INTO content_lines_fts (rowid, lines) SELECT ?1, {_lines('?1')}",
                content_id)


MAX_TRIGRAMS = 12
"""Trigrams asked for a long needle, spread over it: each one more narrows the
candidates less and costs one more doclist read."""


def fts_query(needle: str) -> str | None:
    """The FTS5 query that every text holding ``needle`` matches: its trigrams, ANDed
    (``detail=none`` has no phrases). None for a needle of fewer than 3 characters,
    which has no trigram, or one holding NUL (never stored, see messages._text)."""
    if len(needle) < 3 or "\x00" in needle:
        return None
    grams = [needle[i : i + 3] for i in range(len(needle) - 2)]
    if len(grams) > MAX_TRIGRAMS:
        step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
        grams = [grams[round(i * step)] for i in range(MAX_TRIGRAMS)]
    quoted = ['"' + g.replace('"', '""') + '"' for g in dict.fromkeys(grams)]
    return " AND ".join(quoted)


FTS5 = TextIndex(
    name="fts5",
    state="SELECT 1, count(*) FROM text_index_pending",
    pending="SELECT content_id FROM text_index_pending",
    add=_add,
    body="SELECT rowid FROM content_body_fts WHERE content_body_fts MATCH ?",
    lines="SELECT rowid FROM content_lines_fts WHERE content_lines_fts MATCH ?",
    needle=fts_query,
)

DIALECT = replace(SQLITE, text_index=FTS5)
"""The dialect the SQLite backend drives the SQL core with."""

REBUILD_BATCH = 500
"""Contents indexed per write transaction by a rebuild: short enough that APPENDs
waiting for the write lock hardly notice."""

_OF_USER = ("SELECT m.content_id FROM messages AS m JOIN mailboxes AS b ON b.id = m.mailbox_id"
            " JOIN users AS u ON u.id = b.user_id WHERE u.name = ?")


def pending_count(d: Dialect, user: str | None = None) -> Routine[int]:
    """Contents not indexed yet (of ``user``'s messages)."""
    if user is None:
        return int((yield value("SELECT count(*) FROM text_index_pending")))
    return int((yield value(
        f"SELECT count(*) FROM text_index_pending WHERE content_id IN ({_OF_USER})", user)))


def index_batch(d: Dialect, user: str | None = None, limit: int = REBUILD_BATCH) -> Routine[int]:
    """Indexes up to ``limit`` pending contents (of ``user``'s messages), in the
    caller's write transaction; returns how many."""
    where = "" if user is None else f" WHERE content_id IN ({_OF_USER})"
    ids = [r[0] for r in (yield tuples(
        f"SELECT content_id FROM text_index_pending{where} ORDER BY content_id LIMIT ?",
        *(() if user is None else (user,)), limit))]
    for cid in ids:  # out of pending first: the delete trigger then knows it is indexed
        yield count("DELETE FROM text_index_pending WHERE content_id = ?", cid)
        text = yield value("SELECT search_text FROM contents WHERE id = ?", cid)
        yield from _add(cid, text)
    return len(ids)


def reset(d: Dialect) -> Routine[int]:
    """Empties the index and makes every content pending again (a rebuild from
    scratch, for an index found damaged or stale); returns the number now pending."""
    yield count("INSERT INTO content_body_fts (content_body_fts) VALUES ('delete-all')")
    yield count("INSERT INTO content_lines_fts (content_lines_fts) VALUES ('delete-all')")
    yield count("INSERT OR IGNORE INTO text_index_pending SELECT id FROM contents")
    return (yield from pending_count(d))


def damaged(conn: sqlite3.Connection) -> str | None:
    """FTS5's own check of both tables against the text they index (``rank`` 1: the
    external content too), in the caller's transaction; None when healthy. Pending
    contents are not in the index, which the check would count as damage, so it only
    runs with none pending."""
    if conn.execute("SELECT count(*) FROM text_index_pending").fetchone()[0]:
        return None
    for table in ("content_body_fts", "content_lines_fts"):
        try:
            conn.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:  # SQLITE_CORRUPT_VTAB
            return f"{table}: {exc}"
    return None
