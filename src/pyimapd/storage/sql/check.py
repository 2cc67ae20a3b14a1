"""``pyimapd doctor``: the invariants of docs/storage.md, one query each on both
databases (whose schemas are one: storage/sql/schema.py). Each is a query counting the
rows that break it and the sentence, with ``{n}``, that tells the operator what that
means. The backends add what only they can check: SQLite's ``integrity_check``, and
PostgreSQL's body chunks and its content-freeing trigger.

* References. The foreign keys forbid dangling rows, but they can be bypassed (SQLite
  with ``foreign_keys`` off, PostgreSQL with ``session_replication_role = replica``, a
  restore without constraints); each reference is checked with an anti-join.
* Counters. No UID at or above UIDNEXT, no MODSEQ (of a message or an expunge record)
  above HIGHESTMODSEQ: clients cache by them (RFC 3501 2.3.1.1, RFC 7162 3.1).
* Accounts. Every user has a selectable INBOX; a \\Noselect mailbox holds no message.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyimapd.storage.sql.core import Dialect, Routine, value

Invariant = tuple[str, str]

ORPHAN_CONTENTS: Invariant = (
    "SELECT count(*) FROM contents c WHERE NOT EXISTS "
    "(SELECT 1 FROM messages m WHERE m.content_id = c.id)",
    "{n} stored message bodies belong to no message (orphan contents; they waste "
    "space but are harmless)",
)

UID_AT_UIDNEXT: Invariant = (
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
    "WHERE m.uid >= b.uidnext",
    "{n} messages have a UID at or above their mailbox's UIDNEXT (clients may see "
    "UIDs reused)",
)

MODSEQ_ABOVE_HIGHEST: Invariant = (
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
    "WHERE m.modseq > b.highestmodseq",
    "{n} messages have a MODSEQ above their mailbox's HIGHESTMODSEQ (clients may "
    "miss changes)",
)

EXPUNGE_ABOVE: Invariant = (
    "SELECT count(*) FROM expunged e JOIN mailboxes b ON b.id = e.mailbox_id "
    "WHERE e.modseq > b.highestmodseq OR e.uid >= b.uidnext",
    "{n} expunge records are above their mailbox's HIGHESTMODSEQ or UIDNEXT "
    "(clients resynchronising with QRESYNC may miss expunges)",
)

IN_NOSELECT: Invariant = (
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
    "WHERE b.noselect",
    "{n} messages are in \\Noselect mailboxes (no client can see them)",
)

NO_INBOX: Invariant = (
    "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM mailboxes b "
    "WHERE b.user_id = u.id AND b.name = 'INBOX' AND NOT b.noselect)",
    "{n} accounts have no INBOX (delivery to them will fail)",
)

REFERENCES: list[tuple[str, str, str]] = [
    ("mailboxes", "user_id", "users"),
    ("subscriptions", "user_id", "users"),
    ("messages", "mailbox_id", "mailboxes"),
    ("expunged", "mailbox_id", "mailboxes"),
    ("mailbox_keywords", "mailbox_id", "mailboxes"),
    ("content_headers", "content_id", "contents"),
]
"""Child table, column, parent table (``id``): broken references reported together.
``messages.content_id`` has its own sentence (the backends': where the body lives)."""


def _references() -> Routine[str | None]:
    broken: dict[str, int] = {}
    for child, column, parent in REFERENCES:
        n = int((yield value(
            f"SELECT count(*) FROM {child} x WHERE NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.id = x.{column})")))
        if n:
            broken[child] = broken.get(child, 0) + n
    if not broken:
        return None
    return (f"{sum(broken.values())} rows point to rows that do not exist (references "
            f"broken in {', '.join(sorted(broken))})")


def invariants(
    d: Dialect, own: Sequence[Invariant], *args: object
) -> Routine[list[str]]:
    """Every broken invariant in words, the backend's ``own`` among them (a query of
    those with a ``?`` gets ``args``); run in one read snapshot."""
    problems: list[str] = []
    references = yield from _references()
    if references is not None:
        problems.append(references)
    for sql, text in [ORPHAN_CONTENTS, *own, UID_AT_UIDNEXT, MODSEQ_ABOVE_HIGHEST,
                      EXPUNGE_ABOVE, IN_NOSELECT, NO_INBOX]:
        n = int((yield value(sql, *(args if "?" in sql else ()))))
        if n:
            problems.append(text.format(n=n))
    return problems
