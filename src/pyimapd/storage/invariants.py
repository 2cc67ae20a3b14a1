"""The invariants of docs/storage.md that ``pyimapd doctor`` checks with the same SQL on
SQLite (:mod:`.sqlite.check`) and PostgreSQL (:mod:`.postgres.check`), whose schemas
name these tables and columns alike: each is a query counting the rows that break it and
the sentence, with ``{n}``, that tells the operator what that means."""

from __future__ import annotations

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
"""RFC 3501 2.3.1.1: UIDs ascend and are never reused."""

MODSEQ_ABOVE_HIGHEST: Invariant = (
    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
    "WHERE m.modseq > b.highestmodseq",
    "{n} messages have a MODSEQ above their mailbox's HIGHESTMODSEQ (clients may "
    "miss changes)",
)
"""RFC 7162 3.1.1: HIGHESTMODSEQ is at least every message's MODSEQ."""

NO_INBOX: Invariant = (
    "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM mailboxes b "
    "WHERE b.user_id = u.id AND b.name = 'INBOX' AND NOT b.noselect)",
    "{n} accounts have no INBOX (delivery to them will fail)",
)
