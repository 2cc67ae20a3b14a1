"""``pyimapd doctor`` for SQLite: the file's integrity, then the invariants of the SQL
core (storage/sql/check.py) and the two that depend on where SQLite keeps the body."""

from __future__ import annotations

import sqlite3

from pyimapd.storage.sql.check import Invariant, invariants
from pyimapd.storage.sqlite import schema, textindex
from pyimapd.storage.sqlite.db import drive
from pyimapd.storage.sqlite.textindex import DIALECT

_BODIES: list[Invariant] = [
    (
        "SELECT count(*) FROM messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM contents c WHERE c.id = m.content_id)",
        "{n} messages have lost their body (FETCH of them will fail)",
    ),
    (
        "SELECT count(*) FROM messages m JOIN contents c ON c.id = m.content_id "
        "WHERE length(c.body) != c.size OR m.size != c.size",
        "{n} messages have a body whose length differs from the recorded size",
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
    version = schema.current_version(conn)
    if version != len(schema.MIGRATIONS):
        problems.append(f"the schema is at version {version}, this pyimapd expects "
                        f"{len(schema.MIGRATIONS)}: run `pyimapd db migrate`")
        return problems
    problems += drive(conn, invariants(DIALECT, _BODIES), None)
    return problems + text_index_problems(conn)


def text_index_problems(conn: sqlite3.Connection) -> list[str]:
    """Contents left out of the full-text index (after the upgrade that added it), or
    an index that no longer matches the stored text (issue 17)."""
    pending = drive(conn, textindex.pending_count(DIALECT), None)
    if pending:
        return [f"{pending} stored messages are not in the full-text index yet (SEARCH "
                "finds them, without the index's speed): run `pyimapd index rebuild`"]
    damage = textindex.damaged(conn)
    if damage:
        return [f"the full-text index does not match the stored text ({damage}): run "
                "`pyimapd index rebuild --reset`"]
    return []
