"""The SQLite schema and its migrations (docs/storage.md explains every table).

How this works: the tables are the SQL core's (storage/sql/schema.py) in SQLite's types;
this adds the UIDVALIDITY counter row and the trigger that frees contents. :func:`migrate`
runs once at start-up on the writer connection. It reads ``schema_version`` and applies
the missing steps of :data:`MIGRATIONS` in one ``BEGIN IMMEDIATE`` transaction, so
several processes starting together migrate once.
"""

from __future__ import annotations

import sqlite3
import time

from pyimapd.storage.sql.core import SQLITE
from pyimapd.storage.sql.schema import (
    acl_table,
    dates_previews,
    metadata_table,
    quota_columns,
    sieve_tables,
    tables,
    urlauth_keys,
)
from pyimapd.storage.sqlite import textindex

SCHEMA_V1 = """
-- Global counters. 'uidvalidity' is seeded from the clock and only grows, so every
-- mailbox creation (even under a name used before) gets a UIDVALIDITY never seen.
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
""" + tables(SQLITE) + """
-- A content lives as long as some message refers to it: the mapping through the
-- messages_by_content index is the reference count, so it can never drift.
CREATE TRIGGER messages_free_content AFTER DELETE ON messages
BEGIN
    DELETE FROM contents WHERE id = OLD.content_id
        AND NOT EXISTS (SELECT 1 FROM messages WHERE content_id = OLD.content_id);
END;
"""

MIGRATIONS: list[str] = [
    SCHEMA_V1, quota_columns(SQLITE), urlauth_keys(SQLITE), sieve_tables(SQLITE),
    dates_previews(SQLITE), textindex.SCHEMA, acl_table(SQLITE), metadata_table(SQLITE)]
"""Step ``i`` brings the schema from version ``i`` to ``i + 1``."""


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: sqlite3.Connection) -> None:
    """Brings the database to the newest schema, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        if version > len(MIGRATIONS):
            raise RuntimeError(f"Database schema {version} is newer than this pyimapd")
        for step in range(version, len(MIGRATIONS)):
            _execute_script(conn, MIGRATIONS[step])
            if step == 0:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                conn.execute(
                    "INSERT INTO counters (name, value) VALUES ('uidvalidity', ?)",
                    (int(time.time()),),
                )
            conn.execute("UPDATE schema_version SET version = ?", (step + 1,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Runs the statements of ``script`` one by one: ``executescript`` would COMMIT the
    open transaction first. Statements are split on ``;`` at line ends, except inside
    a trigger body (which ends with ``END;``)."""
    statement: list[str] = []
    in_trigger = False
    for line in script.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        statement.append(line)
        if line.lstrip().upper().startswith("CREATE TRIGGER"):
            in_trigger = True
        stripped = line.strip()
        if stripped.endswith(";") and (not in_trigger or stripped.upper() == "END;"):
            conn.execute("\n".join(statement))
            statement, in_trigger = [], False
