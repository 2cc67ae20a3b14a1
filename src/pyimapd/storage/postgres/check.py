"""``pyimapd doctor`` for PostgreSQL: the invariants of docs/storage.md, each problem
said in words an operator can act on.

How this works: :func:`check` runs in one REPEATABLE READ, READ ONLY transaction
(:meth:`~.db.Database.read`), so every query sees the same snapshot and a busy server
cannot make a healthy store look damaged (an APPEND writes its content, chunks and
message in one transaction). PostgreSQL has no ``PRAGMA integrity_check``: its own
storage is its business (checksums, ``amcheck``), so this checks what pyimapd relies on.

* Bodies. ``read_range`` finds byte ``b`` of a body in chunk ``b // BODY_CHUNK``, so the
  chunks of a content must be numbered from 0 without gaps, all full but the last, and
  sum to ``contents.size`` (which must equal ``messages.size``). Contents no message
  refers to are orphans; the ``messages_free_content`` trigger must be enabled, or every
  expunge leaves one.
* The rest are the SQL core's (storage/sql/check.py).
"""

from __future__ import annotations

from pyimapd.storage.postgres import schema
from pyimapd.storage.postgres.db import Tx, drive
from pyimapd.storage.postgres.schema import BODY_CHUNK
from pyimapd.storage.postgres.textindex import DIALECT
from pyimapd.storage.sql.check import Invariant, invariants
from pyimapd.storage.sql.textindex import status

_CHUNKS = (
    "SELECT content_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi,"
    " sum(octet_length(data)) AS total,"
    " count(*) FILTER (WHERE octet_length(data) <> ?) AS partial,"
    " bool_or(octet_length(data) <> ? AND seq = last) AS last_partial"
    " FROM (SELECT content_id, seq, data, max(seq) OVER (PARTITION BY content_id) AS last"
    "       FROM body_chunks) AS chunk GROUP BY content_id"
)
"""Per content: how many chunks, their numbering, total length and how many are not
full (at most one, the last). ``octet_length`` of a TOASTed value reads only its
pointer, so this does not fetch the bodies."""

_BODIES: list[Invariant] = [
    (
        "SELECT count(*) FROM body_chunks b WHERE NOT EXISTS "
        "(SELECT 1 FROM contents c WHERE c.id = b.content_id)",
        "{n} body chunks belong to no stored message (orphan chunks; they waste space "
        "but are harmless)",
    ),
    (
        "SELECT count(*) FROM messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM contents c WHERE c.id = m.content_id) OR (m.size > 0 AND NOT "
        "EXISTS (SELECT 1 FROM body_chunks b WHERE b.content_id = m.content_id))",
        "{n} messages have lost their body (FETCH of them will fail)",
    ),
    (
        f"SELECT count(*) FROM messages m JOIN contents c ON c.id = m.content_id "
        f"JOIN ({_CHUNKS}) k ON k.content_id = c.id WHERE k.total <> c.size "
        f"OR m.size <> c.size",
        "{n} messages have a body whose length differs from the recorded size (FETCH "
        "of them returns the wrong bytes)",
    ),
    (
        f"SELECT count(*) FROM ({_CHUNKS}) k WHERE k.lo <> 0 OR k.hi <> k.n - 1 "
        f"OR k.partial > 1 OR (k.partial = 1 AND NOT k.last_partial)",
        "{n} stored message bodies have missing, extra or short chunks (FETCH of parts "
        "of them returns the wrong bytes)",
    ),
]


async def _version_problem(tx: Tx) -> str | None:
    version = await schema.current_version(tx.conn)
    if version < schema.LATEST:
        return (f"the schema is at version {version}, this pyimapd expects "
                f"{schema.LATEST}: run `pyimapd db migrate --store <the same URL>`")
    if version > schema.LATEST:
        return (f"the schema is at version {version}, newer than this pyimapd "
                f"({schema.LATEST}): upgrade pyimapd")
    return None


async def _trigger_problem(tx: Tx) -> str | None:
    disabled = await tx.fetchval(
        "SELECT tgenabled = 'D' FROM pg_trigger WHERE tgrelid = to_regclass('messages')"
        " AND tgname = 'messages_free_content'"
    )
    if disabled is None or disabled:
        what = "is missing" if disabled is None else "is disabled"
        return (f"the trigger that frees the bodies of expunged messages {what}: every "
                "expunge now leaves an orphan body (`ALTER TABLE messages ENABLE TRIGGER "
                "messages_free_content`, or recreate it from a fresh schema)")
    return None


async def check(tx: Tx) -> list[str]:
    """Every problem found, in words; an empty list means healthy. Stops after the
    version check when the schema is not the expected one (the queries assume it)."""
    version = await _version_problem(tx)
    if version is not None:
        return [version]
    trigger = await _trigger_problem(tx)
    problems = [] if trigger is None else [trigger]
    usable, _pending = await drive(tx, status(DIALECT))
    if not usable:
        problems.append("the full-text indexes (pg_trgm) are missing or invalid, so text "
                        "SEARCH reads every message: run `pyimapd index rebuild`")
    # a chunk query has two ? (both BODY_CHUNK); the others none
    return problems + await drive(tx, invariants(DIALECT, _BODIES, BODY_CHUNK, BODY_CHUNK))
