"""``pyimapd doctor`` for SQLite: integrity and the invariants of docs/storage.md, each
problem said in words an operator can act on."""

from __future__ import annotations

import sqlite3

from pyimapd.storage.invariants import (
    MODSEQ_ABOVE_HIGHEST,
    NO_INBOX,
    ORPHAN_CONTENTS,
    UID_AT_UIDNEXT,
    Invariant,
)
from pyimapd.storage.sqlite import schema

_QUERIES: list[Invariant] = [
    ORPHAN_CONTENTS,
    (
        "SELECT count(*) FROM messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM contents c WHERE c.id = m.content_id)",
        "{n} messages have lost their body (FETCH of them will fail)",
    ),
    UID_AT_UIDNEXT,
    MODSEQ_ABOVE_HIGHEST,
    (
        "SELECT count(*) FROM messages m JOIN contents c ON c.id = m.content_id "
        "WHERE length(c.body) != c.size OR m.size != c.size",
        "{n} messages have a body whose length differs from the recorded size",
    ),
    NO_INBOX,
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
