"""``pyimapd doctor`` for SQLite: integrity and the invariants of docs/storage.md, each
problem said in words an operator can act on."""

from __future__ import annotations

import sqlite3

from pyimapd.storage.sqlite import schema

_QUERIES: list[tuple[str, str]] = [
    (
        "SELECT count(*) FROM contents c WHERE NOT EXISTS "
        "(SELECT 1 FROM messages m WHERE m.content_id = c.id)",
        "{n} stored message bodies belong to no message (orphan contents; they waste "
        "space but are harmless)",
    ),
    (
        "SELECT count(*) FROM messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM contents c WHERE c.id = m.content_id)",
        "{n} messages have lost their body (FETCH of them will fail)",
    ),
    (
        "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
        "WHERE m.uid >= b.uidnext",
        "{n} messages have a UID at or above their mailbox's UIDNEXT (clients may see "
        "UIDs reused)",
    ),
    (
        "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
        "WHERE m.modseq > b.highestmodseq",
        "{n} messages have a MODSEQ above their mailbox's HIGHESTMODSEQ (clients may "
        "miss changes)",
    ),
    (
        "SELECT count(*) FROM messages m JOIN contents c ON c.id = m.content_id "
        "WHERE length(c.body) != c.size OR m.size != c.size",
        "{n} messages have a body whose length differs from the recorded size",
    ),
    (
        "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM mailboxes b "
        "WHERE b.user_id = u.id AND b.name = 'INBOX' AND b.noselect = 0)",
        "{n} accounts have no INBOX (delivery to them will fail)",
    ),
]


def check(conn: sqlite3.Connection) -> list[str]:
    """Runs inside one read transaction; an empty list means healthy."""
    problems: list[str] = []
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        shown = "; ".join(str(r) for r in rows[:5])
        problems.append(f"the database file is damaged (integrity_check: {shown}); "
                        "restore it from a backup or try `sqlite3 .recover`")
    bad_keys = conn.execute("PRAGMA foreign_key_check").fetchall()
    if bad_keys:
        tables = sorted({str(r[0]) for r in bad_keys})
        problems.append(f"{len(bad_keys)} rows point to rows that do not exist "
                        f"(foreign keys broken in {', '.join(tables)})")
    version = schema.current_version(conn)
    if version != len(schema.MIGRATIONS):
        problems.append(f"the schema is at version {version}, this pyimapd expects "
                        f"{len(schema.MIGRATIONS)}: run `pyimapd db migrate`")
        return problems
    for sql, text in _QUERIES:
        n = conn.execute(sql).fetchone()[0]
        if n:
            problems.append(text.format(n=n))
    return problems
