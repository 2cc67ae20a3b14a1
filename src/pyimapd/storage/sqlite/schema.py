"""The SQLite schema and its migrations (docs/storage.md explains every table).

How this works: :func:`migrate` runs once at start-up on the writer connection. It reads
``schema_version`` and applies the missing steps of :data:`MIGRATIONS` in one
``BEGIN IMMEDIATE`` transaction, so several processes starting together migrate once.
The logical schema is meant to carry over to PostgreSQL unchanged: plain integer and
text columns, no SQLite-only types, epochs instead of date strings.
"""

from __future__ import annotations

import sqlite3
import time

SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);

-- Global counters. 'uidvalidity' is seeded from the clock and only grows, so every
-- mailbox creation (even under a name used before) gets a UIDVALIDITY never seen.
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    secrets TEXT NOT NULL DEFAULT '{}',      -- JSON: app passwords, TOTP... later
    created INTEGER NOT NULL                 -- epoch seconds
);

CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                      -- normalised, '/' delimited
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    recent_floor INTEGER NOT NULL DEFAULT 0, -- highest UID already claimed as \\Recent
    noselect INTEGER NOT NULL DEFAULT 0,     -- kept only for its inferiors
    special_use TEXT,                        -- RFC 6154 attribute, e.g. '\\Sent'
    UNIQUE (user_id, name)
);

-- Names, not mailboxes: a subscription may outlive its mailbox (RFC 3501 6.3.6).
CREATE TABLE subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

-- One row per stored message content, shared by every copy. The body is the last
-- column so reading the others never walks its overflow pages.
CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    structure BLOB NOT NULL,                 -- serialised MIME tree, opaque here
    search_text TEXT NOT NULL,               -- casefolded decoded body text
    body BLOB NOT NULL                       -- written and read with incremental blob I/O
);

-- Header values SEARCH looks at: one row per value line, casefolded.
CREATE TABLE content_headers (
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX content_headers_by_content ON content_headers (content_id, name);

CREATE TABLE messages (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    sysflags INTEGER NOT NULL DEFAULT 0,     -- bits: Answered 1 Flagged 2 Deleted 4 Seen 8 Draft 16
    keywords TEXT NOT NULL DEFAULT '',       -- space-separated, as first spelled
    internaldate INTEGER NOT NULL,           -- UTC epoch seconds
    internaldate_offset INTEGER NOT NULL,    -- minutes east of UTC, as given
    size INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    sent_date INTEGER,                       -- Date header, epoch seconds, NULL if none
    sent_date_offset INTEGER,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_by_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_by_content ON messages (content_id);

-- Expunged UIDs with the MODSEQ of their expunge: poll() and QRESYNC VANISHED.
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_by_modseq ON expunged (mailbox_id, modseq);

-- Keywords ever used in a mailbox (the FLAGS response), one per case-folded spelling.
CREATE TABLE mailbox_keywords (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folded TEXT NOT NULL,
    keyword TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folded)
) WITHOUT ROWID;

-- A content lives as long as some message refers to it: the mapping through the
-- messages_by_content index is the reference count, so it can never drift.
CREATE TRIGGER messages_free_content AFTER DELETE ON messages
BEGIN
    DELETE FROM contents WHERE id = OLD.content_id
        AND NOT EXISTS (SELECT 1 FROM messages WHERE content_id = OLD.content_id);
END;
"""

SCHEMA_V2_QUOTA = """
-- RFC 9208 limits set by the administrator (pyimapd user quota): KiB of message
-- storage and number of messages over all the account's mailboxes; NULL = unlimited.
ALTER TABLE users ADD COLUMN quota_storage_kib INTEGER;
ALTER TABLE users ADD COLUMN quota_messages INTEGER;
"""

MIGRATIONS: list[str] = [SCHEMA_V1, SCHEMA_V2_QUOTA]
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


def next_uidvalidity(conn: sqlite3.Connection) -> int:
    """Takes the next UIDVALIDITY (inside the caller's write transaction). Kept within
    32 bits as RFC 3501 requires (nz-number), wrapping to 1 in the far future."""
    row = conn.execute(
        "UPDATE counters SET value = CASE WHEN value >= 4294967295 THEN 1 ELSE value + 1 END"
        " WHERE name = 'uidvalidity' RETURNING value"
    ).fetchone()
    return int(row[0])
