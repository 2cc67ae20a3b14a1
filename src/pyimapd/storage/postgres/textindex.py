"""PostgreSQL's full-text index for SEARCH (issue 17): pg_trgm GIN indexes.

How this works: two GIN indexes with ``gin_trgm_ops`` serve a literal regular expression
(``~ '***=needle'``; not ``LIKE '%needle%'``, whose recheck backtracks: 2.9 s against
one 4 MB message of ``a`` for a needle of 999 ``a`` and a ``b``, where the regex engine
takes 25 ms, see tests/security/test_work_bounds.py): one on
``contents.search_text`` (the folded body text BODY and TEXT match), one on each
``content_headers`` row as TEXT sees it (``name: value``, part header lines as they
are). The SEARCH compiler asks them as a filter (storage/sql/textindex.py) and keeps
the exact test, so pg_trgm's lossy matches and its word-only trigrams cost a recheck,
never an answer. PostgreSQL keeps a GIN index in step with its table by itself, inside
the writing transaction, so nothing is added to APPEND's statements and no content is
ever pending; what can be wrong is an index that does not exist (a large store whose
migration left it to ``pyimapd index rebuild``) or is invalid (a concurrent build that
was interrupted), which :data:`PG_TRGM`'s state query sees, and then SEARCH takes the
exact path.

What is pg_trgm's own and so lives here rather than in the SQL core: the extension,
the operator class and its schema, ``CREATE INDEX CONCURRENTLY`` (the build that does
not block APPEND, outside any transaction) and the rule of which needles it can serve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import asyncpg

from pyimapd.storage.sql.core import POSTGRES, Routine, TextIndex

LINE = "(CASE WHEN name = ' parts' THEN value ELSE name || ': ' || value END)"
"""A header row as TEXT matches it (search/sql.py's ``_text``); the index is on this
expression, and the filter must spell it the same for the planner to use it."""

INDEXES = {
    "contents_text_trgm": "contents USING gin (search_text {ops})",
    "content_lines_trgm": "content_headers USING gin (" + LINE + " {ops})",
}
"""Index name: what it indexes, with ``{ops}`` the schema-qualified operator class."""

MIGRATION_MAX_CONTENTS = 20_000
"""The migration builds the indexes itself on a store up to this many contents (a few
seconds); a larger one keeps serving while ``pyimapd index rebuild`` builds them
concurrently."""

_OPS = ("SELECT quote_ident(n.nspname) || '.gin_trgm_ops' FROM pg_extension AS e"
        " JOIN pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")



def _create(name: str, what: str) -> str:
    """A PL/pgSQL statement creating one index, ``ops`` holding the operator class."""
    sql = f"CREATE INDEX {name} ON {what.format(ops='%s')}".replace("'", "''")
    return f"        EXECUTE format('{sql}', ops);\n"


MIGRATION = f"""
-- pg_trgm lands in the schema first on the search_path unless an administrator put it
-- elsewhere before; its operator class is named with its schema wherever it is.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
DECLARE ops TEXT := ({_OPS});
BEGIN
    IF (SELECT count(*) FROM contents) <= {MIGRATION_MAX_CONTENTS} THEN
{"".join(_create(name, what) for name, what in INDEXES.items())}    END IF;
END $$;
"""
"""Schema step 7: the extension, and the indexes unless the store is large."""

_WORD_RUN = re.compile(r"[^\W_]{3}")


def literal_regex(needle: str) -> str | None:
    """The needle as a regular expression matching itself (the ``***=`` prefix makes the
    rest a literal, so nothing in it needs escaping), or None when pg_trgm would find no
    trigram in it: it takes them from runs of letters and digits only, and without one
    the index scan would read every entry."""
    if not _WORD_RUN.search(needle):
        return None
    return "***=" + needle


def _add(content_id: int, text: str) -> Routine[None]:
    """Nothing to run: the GIN indexes follow their tables."""
    return
    yield  # a routine of no statement


PG_TRGM = TextIndex(
    name="pg_trgm",
    state=("SELECT count(*) = 2, 0 FROM pg_index WHERE indisvalid AND indexrelid IN"
           " (to_regclass('contents_text_trgm'), to_regclass('content_lines_trgm'))"),
    pending="SELECT 0 WHERE FALSE",  # GIN indexes hold every row: nothing is pending
    add=_add,
    body="SELECT id FROM contents WHERE search_text ~ ?",
    lines=f"SELECT content_id FROM content_headers WHERE {LINE} ~ ?",
    needle=literal_regex,
)

DIALECT = replace(POSTGRES, text_index=PG_TRGM)
"""The dialect the PostgreSQL backend drives the SQL core with."""


async def rebuild(
    conn: asyncpg.Connection, reset: bool, progress: Callable[[int, int], None]
) -> int:
    """Builds the missing or invalid indexes with ``CREATE INDEX CONCURRENTLY``, which
    lets APPEND and SEARCH go on meanwhile (an invalid one, left by an interrupted
    build, is dropped first; with ``reset`` a valid one is rebuilt with ``REINDEX
    CONCURRENTLY``); returns how many it built."""
    ops = await conn.fetchval(_OPS)
    if ops is None:
        raise RuntimeError("pg_trgm is not installed: run `pyimapd db migrate` first")
    built = 0
    progress(0, len(INDEXES))
    for i, (name, what) in enumerate(INDEXES.items()):
        valid = await conn.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", name)
        if valid and reset:
            await conn.execute(f"REINDEX INDEX CONCURRENTLY {name}")
        elif not valid:
            if valid is not None:
                await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            await conn.execute(f"CREATE INDEX CONCURRENTLY {name} ON {what.format(ops=ops)}")
        built += bool(reset or not valid)
        progress(i + 1, len(INDEXES))
    return built
