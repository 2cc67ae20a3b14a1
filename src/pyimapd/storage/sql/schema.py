"""The tables both databases share (docs/storage.md explains every one), written once.

How this works: the DDL below names column types by role (``{id}``, ``{int}``,
``{blob}``...) and each :class:`~.core.Dialect` says how its database spells them:
SQLite's one INTEGER type and ``WITHOUT ROWID`` tables, PostgreSQL's BIGINT, BYTEA,
BOOLEAN and JSONB. The backends' schema modules put around it what only they have
(SQLite's counter row, PostgreSQL's sequence and body chunks, and each one's trigger)
and run the migrations their own way.
"""

from __future__ import annotations

from pyimapd.storage.sql.core import Dialect

_TABLES = """
CREATE TABLE schema_version (version INTEGER NOT NULL);

CREATE TABLE users (
    id {id},
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    secrets {json} NOT NULL DEFAULT '{{}}',  -- JSON: mechanism name -> SASL secret
    created {int} NOT NULL                   -- epoch seconds
);

CREATE TABLE mailboxes (
    id {id},
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                      -- normalised, '/' delimited
    uidvalidity {int} NOT NULL,
    uidnext {int} NOT NULL DEFAULT 1,
    highestmodseq {int} NOT NULL DEFAULT 1,
    recent_floor {int} NOT NULL DEFAULT 0,   -- highest UID already claimed as \\Recent
    noselect {bool} NOT NULL DEFAULT {false},  -- kept only for its inferiors
    special_use TEXT,                        -- RFC 6154 attribute, e.g. '\\Sent'
    UNIQUE (user_id, name)
);

-- Names, not mailboxes: a subscription may outlive its mailbox (RFC 3501 6.3.6).
CREATE TABLE subscriptions (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
){without_rowid};

-- One row per stored message content, shared by every copy. On SQLite the body is
-- the last column, so reading the others never walks its overflow pages.
CREATE TABLE contents (
    id {id},
    size {int} NOT NULL,
    structure {blob} NOT NULL,               -- serialised MIME tree, opaque here
    -- then the casefolded decoded body text, and on SQLite the body itself
    search_text TEXT NOT NULL{body_column}
);

-- Header values SEARCH looks at: one row per value line, casefolded.
CREATE TABLE content_headers (
    content_id {int} NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX content_headers_by_content ON content_headers (content_id, name);

CREATE TABLE messages (
    mailbox_id {int} NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid {int} NOT NULL,
    content_id {int} NOT NULL REFERENCES contents(id),
    sysflags INTEGER NOT NULL DEFAULT 0,     -- Answered 1 Flagged 2 Deleted 4 Seen 8 Draft 16
    keywords TEXT NOT NULL DEFAULT '',       -- space-separated, as first spelled
    internaldate {int} NOT NULL,             -- UTC epoch seconds
    internaldate_offset INTEGER NOT NULL,    -- minutes east of UTC, as given
    size {int} NOT NULL,
    modseq {int} NOT NULL,
    sent_date {int},                         -- Date header, epoch seconds, NULL if none
    sent_date_offset INTEGER,
    PRIMARY KEY (mailbox_id, uid)
){without_rowid};
CREATE INDEX messages_by_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_by_content ON messages (content_id);

-- Expunged UIDs with the MODSEQ of their expunge: poll() and QRESYNC VANISHED.
CREATE TABLE expunged (
    mailbox_id {int} NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid {int} NOT NULL,
    modseq {int} NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
){without_rowid};
CREATE INDEX expunged_by_modseq ON expunged (mailbox_id, modseq);

-- Keywords ever used in a mailbox (the FLAGS response), one per case-folded spelling.
CREATE TABLE mailbox_keywords (
    mailbox_id {int} NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folded TEXT NOT NULL,
    keyword TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folded)
){without_rowid};
"""

_QUOTA = """
-- RFC 9208 limits set by the administrator (pyimapd user quota): KiB of message
-- storage and number of messages over all the account's mailboxes; NULL = unlimited.
ALTER TABLE users ADD COLUMN quota_storage_kib {int};
ALTER TABLE users ADD COLUMN quota_messages {int};
"""

_URLAUTH_KEYS = """
-- RFC 4467 mailbox access keys (URLAUTH's INTERNAL mechanism): one random key per
-- mailbox, made on the first GENURLAUTH, dropped by RESETKEY. A key is only good for the
-- mailbox's UIDVALIDITY it was made under, so a mailbox re-created under a kept
-- \\Noselect row never inherits its predecessor's key; deleting the row drops it.
CREATE TABLE urlauth_keys (
    mailbox_id {int} PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    uidvalidity {int} NOT NULL,
    access_key {blob} NOT NULL
){without_rowid};
"""


_SIEVE = """
-- Sieve scripts (RFC 5228), managed over ManageSieve (RFC 5804) and run at delivery: at
-- most one active per user (checked by the routines, which change it in one
-- transaction).
CREATE TABLE sieve_scripts (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    script TEXT NOT NULL,
    active {bool} NOT NULL DEFAULT {false},
    PRIMARY KEY (user_id, name)
){without_rowid};

-- What delivery must remember between messages: a vacation reply sent to a sender
-- (RFC 5230 section 4.2, one per :days) and a duplicate seen (RFC 7352), each a key
-- (a hash the caller makes) valid until an epoch second.
CREATE TABLE sieve_tracking (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    tracking_key {blob} NOT NULL,
    expires {int} NOT NULL,
    PRIMARY KEY (user_id, kind, tracking_key)
){without_rowid};
"""


def tables(d: Dialect) -> str:
    """Schema version 1's tables, in ``d``'s types."""
    return _TABLES.format(**d.types)


def quota_columns(d: Dialect) -> str:
    """Schema version 2: the quota limits."""
    return _QUOTA.format(**d.types)


def urlauth_keys(d: Dialect) -> str:
    """The URLAUTH key table (schema version 3 on SQLite, 4 on PostgreSQL)."""
    return _URLAUTH_KEYS.format(**d.types)


_DATES_PREVIEWS = """
-- RFC 8514 SAVEDATE: when the message was saved into its mailbox (epoch seconds; a
-- copy gets its own). NULL for rows from before this step: they read as their
-- INTERNALDATE, the best there is (docs/storage.md).
ALTER TABLE messages ADD COLUMN savedate {int};
-- RFC 8970 PREVIEW, made once at APPEND (mime/preview.py); NULL for older contents,
-- whose preview FETCH makes when asked (and PREVIEW (LAZY) answers NIL).
ALTER TABLE contents ADD COLUMN preview TEXT;
"""


def dates_previews(d: Dialect) -> str:
    """SAVEDATE and PREVIEW columns (schema version 5 on SQLite, 6 on PostgreSQL)."""
    return _DATES_PREVIEWS.format(**d.types)


_ACL = """
-- RFC 4314 access control lists: one row per (mailbox, identifier); identifiers are
-- user names, 'anyone', or '-name' for negative rights. Rights are canonical letter
-- strings (storage/rights.py). A RENAME keeps the mailbox row and so its ACL; a DELETE
-- drops it (the cascade, or storage/sql/mailboxes.py for a name kept as \\Noselect).
CREATE TABLE acl (
    mailbox_id {int} NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    rights TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, identifier)
){without_rowid};
-- LIST across namespaces: the entries that name a user (or anyone).
CREATE INDEX acl_by_identifier ON acl (identifier);
"""


def acl_table(d: Dialect) -> str:
    """The ACL table (schema version 7 on SQLite, 10 on PostgreSQL)."""
    return _ACL.format(**d.types)


_METADATA = """
-- RFC 5464 METADATA: a mailbox's entries (mailbox_id set; user_id is its owner) and a
-- user's /private server entries (mailbox_id NULL; user_id is that user). ``private``
-- is the user a /private entry belongs to, '' for /shared; ``entry`` is the full name
-- in lower case (storage/metadata.py). A RENAME keeps the mailbox row and so its
-- entries; a DELETE drops them (the cascade, or storage/sql/mailboxes.py for a name
-- kept as \\Noselect).
CREATE TABLE metadata (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mailbox_id {int} REFERENCES mailboxes(id) ON DELETE CASCADE,
    private TEXT NOT NULL,
    entry TEXT NOT NULL,
    value {blob} NOT NULL
);
CREATE UNIQUE INDEX metadata_key ON metadata (user_id, COALESCE(mailbox_id, 0), private, entry);
CREATE INDEX metadata_by_mailbox ON metadata (mailbox_id);
"""


def metadata_table(d: Dialect) -> str:
    """The METADATA table (the step after :func:`acl_table`)."""
    return _METADATA.format(**d.types)


def sieve_tables(d: Dialect) -> str:
    """Sieve scripts and delivery tracking (schema version 4 on SQLite, 5 on PostgreSQL)."""
    return _SIEVE.format(**d.types)
