"""The PostgreSQL schema and its migrations (docs/postgres.md explains the choices).

How this works: the tables are the SQL core's (storage/sql/schema.py) in PostgreSQL's
types, plus the UIDVALIDITY sequence, the trigger that frees contents, the SQL functions
the SEARCH compiler relies on, and ``body_chunks``: a message body is stored as rows of at most
:data:`BODY_CHUNK` bytes, so neither the server nor the client ever holds a large body
in one allocation. Migrations are explicit: ``pyimapd db migrate`` runs :func:`migrate`,
which takes an advisory lock (several nodes may run it at once), applies the missing
steps of :data:`MIGRATIONS` in one transaction and records the version. A server
starting on an older schema stops with :class:`SchemaOutOfDate`, whose text names the
command: a node never changes the schema under its running siblings by itself.
"""

from __future__ import annotations

import time

import asyncpg

from pyimapd.storage.interface import StorageError
from pyimapd.storage.postgres import textindex
from pyimapd.storage.sql.core import POSTGRES
from pyimapd.storage.sql.schema import (
    acl_table,
    dates_previews,
    metadata_table,
    quota_columns,
    sieve_tables,
    tables,
    urlauth_keys,
)

BODY_CHUNK = 256 * 1024
"""Bytes per ``body_chunks`` row: big enough that a 25 MB message is 100 rows, small
enough that reading or writing one is a modest allocation."""

MIGRATE_LOCK = 0x70796D6170  # 'pymap' as an advisory lock key

SCHEMA_V1 = """
-- UIDVALIDITY: a sequence, so creating mailboxes on several nodes never contends on a
-- row. Seeded from the clock, cycling within 32 bits (RFC 3501 nz-number).
CREATE SEQUENCE uidvalidity_seq AS BIGINT MINVALUE 1 MAXVALUE 4294967295 CYCLE;
""" + tables(POSTGRES) + """
-- The body in BODY_CHUNK-byte rows, seq from 0. STORAGE EXTERNAL: no compression
-- attempt (mail is mostly compressed already) and substring() reads only the slices
-- it needs from the TOAST table.
CREATE TABLE body_chunks (
    content_id BIGINT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (content_id, seq)
);
ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A content lives while a message refers to it. The row lock on the content makes two
-- transactions dropping its last two references (in two mailboxes) take turns, so the
-- second one sees the first's delete and frees the content: nothing leaks.
CREATE FUNCTION pyimapd_free_content() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM contents WHERE id = OLD.content_id FOR UPDATE;
    IF NOT EXISTS (SELECT 1 FROM messages WHERE content_id = OLD.content_id) THEN
        DELETE FROM contents WHERE id = OLD.content_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_free_content AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION pyimapd_free_content();

-- SQLite's built-ins as search/sql.py uses them, so one SEARCH compiler serves both
-- backends: instr() is strpos(); date(epoch, 'unixepoch') is the UTC calendar day.
CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT strpos(haystack, needle) $$;
CREATE FUNCTION date(epoch BIGINT, modifier TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN modifier = 'unixepoch'
        THEN to_char(date '1970-01-01' + floor(epoch / 86400.0)::integer, 'YYYY-MM-DD') END $$;
"""

SCHEMA_V3_CONTAINS = """
-- The substring test of search/sql.py. strpos() is Boyer-Moore-Horspool, whose worst
-- case is length(haystack) * length(needle) (14 s for a needle of 60,000 characters
-- against 1 MB): longer needles go to a literal regular expression (***=), which the
-- regex engine runs as a DFA in linear time. SEARCH strings are at most 4,096
-- characters (protocol/search_parser.py), which keeps the regex compile in milliseconds.
CREATE FUNCTION pyimapd_contains(haystack TEXT, needle TEXT) RETURNS BOOLEAN
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(CASE WHEN length(needle) <= 16 THEN strpos(haystack, needle) > 0
        ELSE haystack ~ ('***=' || needle) END, FALSE) $$;
"""

SCHEMA_V8_FUZZY = """
-- FUZZY's score (search/fuzzy.py): the percentage of the trigrams, joined by newlines,
-- found in the text; SQLite's connections define the same function in Python.
CREATE FUNCTION pyimapd_fuzzy(haystack TEXT, grams TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(100 * count(*) FILTER (WHERE strpos(haystack, g) > 0)
        / NULLIF(count(*), 0), 0)::INTEGER
    FROM unnest(string_to_array(grams, E'\\n')) AS g $$;
"""

MIGRATIONS: list[str] = [
    SCHEMA_V1, quota_columns(POSTGRES), SCHEMA_V3_CONTAINS, urlauth_keys(POSTGRES),
    sieve_tables(POSTGRES), dates_previews(POSTGRES), textindex.MIGRATION, SCHEMA_V8_FUZZY,
    acl_table(POSTGRES), metadata_table(POSTGRES)]
"""Step ``i`` brings the schema from version ``i`` to ``i + 1``."""

LATEST = len(MIGRATIONS)


class SchemaOutOfDate(StorageError):
    """The database's schema is not the one this pyimapd was built for."""


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT version FROM schema_version")
    return 0 if version is None else int(version)


async def check(conn: asyncpg.Connection) -> None:
    """Refuses to serve on a schema older or newer than :data:`LATEST`."""
    version = await current_version(conn)
    if version < LATEST:
        raise SchemaOutOfDate(
            f"The PostgreSQL schema is at version {version}, this pyimapd needs {LATEST}:"
            " run `pyimapd db migrate --store <the same postgresql:// URL>` first"
        )
    if version > LATEST:
        raise SchemaOutOfDate(
            f"The PostgreSQL schema is at version {version}, newer than this pyimapd"
            f" ({LATEST}): upgrade pyimapd"
        )


async def migrate(conn: asyncpg.Connection) -> tuple[int, int]:
    """Applies the missing migrations in one transaction; returns ``(from, to)``."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        before = await current_version(conn)
        if before > LATEST:
            raise SchemaOutOfDate(f"Schema version {before} is newer than this pyimapd")
        for step in range(before, LATEST):
            await conn.execute(MIGRATIONS[step])
            if step == 0:
                await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                await conn.execute("SELECT setval('uidvalidity_seq', $1)",
                                   int(time.time()) % 4294967295 or 1)
            await conn.execute("UPDATE schema_version SET version = $1", step + 1)
    return before, LATEST
