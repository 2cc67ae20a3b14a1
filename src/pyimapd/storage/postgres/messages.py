"""Messages on PostgreSQL: APPEND, SELECT, poll, FETCH, STORE, COPY, MOVE, EXPUNGE, SEARCH.

How this works: every function runs in a transaction opened by :class:`~.db.Database`.
A write that changes a mailbox's messages first locks the mailbox row
(``SELECT ... FOR UPDATE``) and then reads, under READ COMMITTED, the latest committed
state: UIDNEXT, HIGHESTMODSEQ and the \\Recent floor come from that locked row, never
from a cache, so writers on any node take turns and allocate distinct, ascending UIDs
and MODSEQs (docs/postgres.md has the full argument). COPY and MOVE lock source and
target in id order, so two crossing copies cannot deadlock.

A selected mailbox is identified by row id *and* the UIDVALIDITY it had at SELECT
(:func:`live_mailbox`). MODSEQ policy is SQLite's: one APPEND, STORE, COPY, MOVE or
EXPUNGE takes one new MODSEQ.

Bodies go to ``body_chunks`` in :data:`~.schema.BODY_CHUNK` rows read straight from the
spool file, and are read back with ``substring`` on the rows that cover the asked range,
so no large message is ever one allocation on either side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from pyimapd.search.ast import SearchKey
from pyimapd.search.evaluate import fold
from pyimapd.storage.interface import (
    AppendItem,
    AppendResult,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MessageRecord,
    NoSuchMailbox,
    PreparedMessage,
    StorageError,
)
from pyimapd.storage.postgres import quota
from pyimapd.storage.postgres.db import Tx
from pyimapd.storage.postgres.mailboxes import bump_modseq, mailbox_row, user_id
from pyimapd.storage.postgres.schema import BODY_CHUNK
from pyimapd.storage.postgres.search import compile_pg
from pyimapd.storage.values import (
    CHUNK_SIZE,
    DELETED_BIT,
    SEEN_BIT,
    apply_store,
    flag_key,
    flags_from_columns,
    flags_to_columns,
    from_epoch,
    keywords_of,
    normalize_flags,
    to_epoch,
)

_MESSAGE_COLUMNS = (
    "m.uid, m.sysflags, m.keywords, m.internaldate, m.internaldate_offset, m.size,"
    " m.modseq, m.content_id"
)
_COPY_COLUMNS = (
    "content_id, sysflags, keywords, internaldate, internaldate_offset, size, sent_date,"
    " sent_date_offset"
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A mailbox row plus its keywords, read in one transaction."""

    mailbox_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    recent_floor: int
    keywords: frozenset[str]


async def _snapshot(tx: Tx, row: asyncpg.Record) -> Snapshot:
    keywords = frozenset(r["keyword"] for r in await tx.fetch(
        "SELECT keyword FROM mailbox_keywords WHERE mailbox_id = $1", row["id"]))
    return Snapshot(
        row["id"], row["name"], row["uidvalidity"], row["uidnext"], row["highestmodseq"],
        row["recent_floor"], keywords,
    )


async def live_mailbox(
    tx: Tx, mailbox_id: int, uidvalidity: int, lock: bool = False
) -> asyncpg.Record:
    """The selected mailbox's row (locked with ``lock``), unless it was deleted or
    re-created since SELECT."""
    suffix = " FOR UPDATE" if lock else ""
    row = await tx.fetchrow(f"SELECT * FROM mailboxes WHERE id = $1{suffix}", mailbox_id)
    if row is None or row["noselect"] or row["uidvalidity"] != uidvalidity:
        raise NoSuchMailbox("The selected mailbox was deleted")
    return row


async def _note_keywords(tx: Tx, mailbox_id: int, flags: Iterable[str]) -> None:
    await tx.executemany(
        "INSERT INTO mailbox_keywords (mailbox_id, folded, keyword) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        [(mailbox_id, flag_key(k), k) for k in keywords_of(flags)],
    )


def _update(row: asyncpg.Record) -> FlagUpdate:
    return FlagUpdate(row["uid"], flags_from_columns(row["sysflags"], row["keywords"]),
                      row["modseq"])


# --- APPEND --------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Folded search text for a TEXT column: PostgreSQL refuses NUL, which a binary
    APPEND (RFC 3516 literal8) may carry; SEARCH cannot ask for it anyway."""
    return fold(value).replace("\x00", "")


async def write_content(tx: Tx, message: PreparedMessage) -> int:
    """Stores the body in chunks, the structure and the search data; returns the id."""
    cid = int(await tx.fetchval(
        "INSERT INTO contents (size, structure, search_text) VALUES ($1, $2, $3) RETURNING id",
        message.size, bytes(message.structure), _text(message.search_text),
    ))
    source = message.source
    source.seek(0)
    remaining, seq = message.size, 0
    while remaining > 0:
        chunk = source.read(min(BODY_CHUNK, remaining))
        if not chunk:
            raise StorageError("Message source is shorter than its declared size")
        await tx.execute(
            "INSERT INTO body_chunks (content_id, seq, data) VALUES ($1, $2, $3)", cid, seq, chunk
        )
        remaining -= len(chunk)
        seq += 1
    await tx.executemany(
        "INSERT INTO content_headers (content_id, name, value) VALUES ($1, $2, $3)",
        [
            (cid, _text(name), _text(line))
            for name, value in message.search_headers.items()
            for line in value.split("\n")
        ],
    )
    return cid


async def append(
    tx: Tx, user: str, name: str, message: PreparedMessage, flags: frozenset[str],
    internaldate: datetime,
) -> AppendResult:
    return (await append_many(tx, user, name, [AppendItem(message, flags, internaldate)]))[0]


async def append_many(
    tx: Tx, user: str, name: str, items: Sequence[AppendItem]
) -> list[AppendResult]:
    """APPEND and MULTIAPPEND (RFC 3502): consecutive UIDs and one MODSEQ in one
    transaction. The bodies are written before the mailbox is locked, so a large APPEND
    holds the lock only for the few statements that allocate UIDs and MODSEQ; the quota
    (RFC 9208) is checked under the account's lock, taken before the mailbox's."""
    owner = await user_id(tx, user)
    await mailbox_row(tx, owner, name, NoSuchMailbox)  # fail before writing the body
    if not items:
        return []
    cids = [await write_content(tx, item.message) for item in items]
    limits = await quota.lock(tx, owner)
    row = await mailbox_row(tx, owner, name, NoSuchMailbox, lock=True)
    await quota.check(tx, owner, limits, sum(i.message.size for i in items), len(items))
    counters = await tx.fetchrow(
        "UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1"
        " WHERE id = $1 RETURNING uidnext - $2 AS first, highestmodseq", row["id"], len(items),
    )
    assert counters is not None
    first = counters["first"]
    for uid, item, cid in zip(range(first, first + len(items)), items, cids, strict=True):
        flags = normalize_flags(item.flags)
        bits, keywords = flags_to_columns(flags)
        message = item.message
        sent = to_epoch(message.sent_date) if message.sent_date is not None else (None, None)
        await tx.execute(
            "INSERT INTO messages (mailbox_id, uid, content_id, sysflags, keywords,"
            " internaldate, internaldate_offset, size, modseq, sent_date, sent_date_offset)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            row["id"], uid, cid, bits, keywords, *to_epoch(item.internaldate), message.size,
            counters["highestmodseq"], *sent,
        )
        await _note_keywords(tx, row["id"], flags)
    tx.changed(user, [row["name"]])
    return [AppendResult(row["uidvalidity"], first + i) for i in range(len(items))]


# --- SELECT and poll -----------------------------------------------------------------------


async def select_snapshot(
    tx: Tx, user: str, name: str
) -> tuple[Snapshot, list[int], int | None]:
    """The SELECT data: the mailbox, every UID ascending and the first unseen UID."""
    row = await mailbox_row(tx, await user_id(tx, user), name)
    uids = [r["uid"] for r in await tx.fetch(
        "SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid", row["id"])]
    unseen = await tx.fetchval(
        f"SELECT min(uid) FROM messages WHERE mailbox_id = $1 AND (sysflags & {SEEN_BIT}) = 0",
        row["id"],
    )
    return await _snapshot(tx, row), uids, unseen


async def claim_recent(tx: Tx, mailbox_id: int, uidvalidity: int, upto: int) -> int:
    """Raises the \\Recent floor to ``upto`` under the row lock and returns the floor it
    had: UIDs above that and up to ``upto`` now belong to the caller alone."""
    row = await live_mailbox(tx, mailbox_id, uidvalidity, lock=True)
    floor = int(row["recent_floor"])
    if upto > floor:
        await tx.execute("UPDATE mailboxes SET recent_floor = $1 WHERE id = $2", upto, mailbox_id)
    return floor


async def poll_snapshot(
    tx: Tx, mailbox_id: int, uidvalidity: int, since: int, known_max: int
) -> tuple[Snapshot, list[FlagUpdate], list[FlagUpdate], list[int]]:
    """``(mailbox, new, flag changes, expunged)`` in one snapshot. Every change bumps
    HIGHESTMODSEQ under the row lock, so an unchanged one means nothing happened."""
    row = await live_mailbox(tx, mailbox_id, uidvalidity)
    snap = await _snapshot(tx, row)
    if snap.highestmodseq <= since and snap.uidnext - 1 <= known_max:
        return snap, [], [], []
    new = [_update(r) for r in await tx.fetch(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = $1 AND uid > $2 ORDER BY uid", mailbox_id, known_max)]
    changed = [_update(r) for r in await tx.fetch(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = $1 AND modseq > $2 AND uid <= $3 ORDER BY uid",
        mailbox_id, since, known_max)]
    expunged = [r["uid"] for r in await tx.fetch(
        "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 AND uid <= $3"
        " ORDER BY uid", mailbox_id, since, known_max)]
    return snap, new, changed, expunged


# --- FETCH ---------------------------------------------------------------------------------


async def fetch_page(
    tx: Tx, mailbox_id: int, lo: int, hi: int, limit: int, with_structure: bool
) -> list[MessageRecord]:
    """Up to ``limit`` messages with ``lo <= uid <= hi``, ascending."""
    structure = ", c.structure" if with_structure else ""
    join = " JOIN contents AS c ON c.id = m.content_id" if with_structure else ""
    rows = await tx.fetch(
        f"SELECT {_MESSAGE_COLUMNS}{structure} FROM messages AS m{join}"
        " WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3 ORDER BY m.uid LIMIT $4",
        mailbox_id, lo, hi, limit,
    )
    return [
        MessageRecord(
            uid=r["uid"], flags=flags_from_columns(r["sysflags"], r["keywords"]),
            internaldate=from_epoch(r["internaldate"], r["internaldate_offset"]),
            size=r["size"], modseq=r["modseq"], content=r["content_id"],
            structure=bytes(r["structure"]) if with_structure else None,
        )
        for r in rows
    ]


async def flag_page(
    tx: Tx, mailbox_id: int, lo: int, hi: int, limit: int
) -> list[FlagRow]:
    """Up to ``limit`` ``(uid, flags, modseq)`` with ``lo <= uid <= hi``, ascending."""
    rows = await tx.fetch(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 ORDER BY uid LIMIT $4",
        mailbox_id, lo, hi, limit,
    )
    return [(r[0], flags_from_columns(r[1], r[2]), r[3]) for r in rows]


async def read_range(tx: Tx, content: int, start: int, end: int) -> list[bytes]:
    """The bytes ``[start, end)`` of a body (clipped to its size), in pieces of at most
    64 KiB. Only the covering chunk rows are read, each with ``substring`` so that
    PostgreSQL fetches just the slices it needs."""
    size = await tx.fetchval("SELECT size FROM contents WHERE id = $1", content)
    if size is None:
        raise StorageError("Message no longer exists")
    end = min(end, int(size))
    if start >= end:
        return []
    rows = await tx.fetch(
        "SELECT substring(data FROM (greatest($2 - seq * $4, 0) + 1)::integer"
        " FOR (least($3 - seq * $4, $4) - greatest($2 - seq * $4, 0))::integer) AS part"
        " FROM body_chunks WHERE content_id = $1 AND seq BETWEEN $5 AND $6 ORDER BY seq",
        content, start, end, BODY_CHUNK, start // BODY_CHUNK, (end - 1) // BODY_CHUNK,
    )
    pieces: list[bytes] = []
    for r in rows:
        part = r["part"]
        pieces.extend(part[i:i + CHUNK_SIZE] for i in range(0, len(part), CHUNK_SIZE))
    return pieces


async def read_ranges(
    tx: Tx, ranges: Sequence[tuple[int, int, int]]
) -> list[bytes | None]:
    """``[start, end)`` of each ``(content, start, end)`` in one transaction; None for
    a missing body."""
    out: list[bytes | None] = []
    for content, start, end in ranges:
        try:
            out.append(b"".join(await read_range(tx, content, start, end)))
        except StorageError:
            out.append(None)
    return out


# --- STORE, COPY, MOVE, EXPUNGE ------------------------------------------------------------


async def store(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], mode: str,
    flags: frozenset[str],
) -> list[FlagUpdate]:
    row = await live_mailbox(tx, mailbox_id, uidvalidity, lock=True)
    flags = normalize_flags(flags)
    changed: list[tuple[int, frozenset[str]]] = []
    for r in await tx.fetch(
        "SELECT uid, sysflags, keywords FROM messages WHERE mailbox_id = $1"
        " AND uid = ANY($2::bigint[]) ORDER BY uid", mailbox_id, sorted(set(uids)),
    ):
        current = flags_from_columns(r["sysflags"], r["keywords"])
        after = apply_store(current, mode, flags)
        if after is not current:
            changed.append((r["uid"], after))
    if not changed:
        return []
    modseq = await bump_modseq(tx, mailbox_id)
    await tx.executemany(
        "UPDATE messages SET sysflags = $1, keywords = $2, modseq = $3"
        " WHERE mailbox_id = $4 AND uid = $5",
        [(*flags_to_columns(after), modseq, mailbox_id, uid) for uid, after in changed],
    )
    await _note_keywords(tx, mailbox_id, {flag for _, after in changed for flag in after})
    tx.changed(user, [row["name"]])
    return [FlagUpdate(uid, after, modseq) for uid, after in changed]


async def store_unchanged_since(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], mode: str,
    flags: frozenset[str], unchangedsince: int,
) -> tuple[list[FlagUpdate], list[int]]:
    """The UNCHANGEDSINCE test (RFC 7162 section 3.1.3) and the store in one transaction;
    :func:`store` locks the mailbox row first, so the test cannot race another writer."""
    await live_mailbox(tx, mailbox_id, uidvalidity, lock=True)
    modified = [r["uid"] for r in await tx.fetch(
        "SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])"
        " AND modseq > $3 ORDER BY uid", mailbox_id, sorted(set(uids)), unchangedsince)]
    failed = set(modified)
    passed = [u for u in uids if u not in failed]
    updates = await store(tx, user, mailbox_id, uidvalidity, passed, mode, flags)
    return updates, modified


async def vanished(
    tx: Tx, mailbox_id: int, uidvalidity: int, since: int, ranges: Sequence[tuple[int, int]],
) -> list[int]:
    """Expunged UIDs in the ranges with a MODSEQ above ``since`` (QRESYNC)."""
    await live_mailbox(tx, mailbox_id, uidvalidity)
    out: list[int] = []
    for lo, hi in ranges:
        out.extend(r["uid"] for r in await tx.fetch(
            "SELECT uid FROM expunged WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3"
            " AND modseq > $4 ORDER BY uid", mailbox_id, lo, hi, since))
    return out


async def _lock_pair(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, dest: str
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """Locks the selected mailbox and ``dest`` in id order; returns their rows."""
    target = await mailbox_row(tx, await user_id(tx, user), dest, NoSuchMailbox)
    ids = sorted({mailbox_id, target["id"]})
    rows = {r["id"]: r for r in await tx.fetch(
        "SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids)}
    source = rows.get(mailbox_id)
    if source is None or source["noselect"] or source["uidvalidity"] != uidvalidity:
        raise NoSuchMailbox("The selected mailbox was deleted")
    locked = rows.get(target["id"])
    if locked is None or locked["noselect"] or locked["uidvalidity"] != target["uidvalidity"]:
        raise NoSuchMailbox(f"Mailbox {dest} does not exist")
    return source, locked


async def copy(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], dest: str,
    moving: bool = False,
) -> CopyResult:
    """COPY (RFC 3501 section 6.4.7) keeping flags and internal date; new UIDs ascend in
    source UID order; the copies share the source's content row. The copies count
    against the quota (RFC 9208), unless ``moving`` (the originals go in the same
    transaction); the account is locked first then (see :mod:`.quota`)."""
    owner = await user_id(tx, user)
    limits = await quota.lock(tx, owner) if not moving else None
    _, target = await _lock_pair(tx, user, mailbox_id, uidvalidity, dest)
    rows = await tx.fetch(
        f"SELECT uid, {_COPY_COLUMNS} FROM messages WHERE mailbox_id = $1"
        " AND uid = ANY($2::bigint[]) ORDER BY uid", mailbox_id, sorted(set(uids)),
    )
    if not rows:
        return CopyResult(target["uidvalidity"], (), ())
    if limits is not None:
        await quota.check(tx, owner, limits, sum(r["size"] for r in rows), len(rows))
    counters = await tx.fetchrow(
        "UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1"
        " WHERE id = $1 RETURNING uidnext - $2 AS first, highestmodseq", target["id"], len(rows),
    )
    assert counters is not None
    new_uids = list(range(counters["first"], counters["first"] + len(rows)))
    await tx.executemany(
        f"INSERT INTO messages (mailbox_id, uid, modseq, {_COPY_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [
            (target["id"], new, counters["highestmodseq"], *(r[c] for c in _COPY_FIELDS))
            for new, r in zip(new_uids, rows, strict=True)
        ],
    )
    await _note_keywords(
        tx, target["id"], {k for r in rows for k in flags_from_columns(0, r["keywords"])}
    )
    tx.changed(user, [target["name"]])
    return CopyResult(target["uidvalidity"], tuple(r["uid"] for r in rows), tuple(new_uids))


_COPY_FIELDS = [c.strip() for c in _COPY_COLUMNS.split(",")]


async def _remove(tx: Tx, mailbox_id: int, gone: Sequence[int]) -> int:
    """Deletes the messages and records them as expunged under one new MODSEQ."""
    modseq = await bump_modseq(tx, mailbox_id)
    await tx.execute(
        "DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])",
        mailbox_id, list(gone),
    )
    await tx.execute(
        "INSERT INTO expunged (mailbox_id, uid, modseq)"
        " SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u"
        " ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
        mailbox_id, list(gone), modseq,
    )
    return modseq


async def move(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], dest: str
) -> CopyResult:
    """MOVE (RFC 6851): :func:`copy` then the removal of the originals, in one
    transaction, so a message is in exactly one of the mailboxes at any time."""
    copied = await copy(tx, user, mailbox_id, uidvalidity, uids, dest, moving=True)
    if not copied.source_uids:
        return copied
    row = await live_mailbox(tx, mailbox_id, uidvalidity)
    modseq = await _remove(tx, mailbox_id, copied.source_uids)
    tx.changed(user, [row["name"]])
    return CopyResult(copied.uidvalidity, copied.source_uids, copied.dest_uids, modseq)


async def expunge(
    tx: Tx, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int] | None
) -> list[int]:
    row = await live_mailbox(tx, mailbox_id, uidvalidity, lock=True)
    deleted = f"(sysflags & {DELETED_BIT}) != 0"
    if uids is None:
        found = await tx.fetch(
            f"SELECT uid FROM messages WHERE mailbox_id = $1 AND {deleted} ORDER BY uid",
            mailbox_id)
    else:
        found = await tx.fetch(
            f"SELECT uid FROM messages WHERE mailbox_id = $1 AND {deleted}"
            " AND uid = ANY($2::bigint[]) ORDER BY uid", mailbox_id, sorted(set(uids)))
    gone = [r["uid"] for r in found]
    if gone:
        await _remove(tx, mailbox_id, gone)
        tx.changed(user, [row["name"]])
    return gone


# --- SEARCH --------------------------------------------------------------------------------


async def search(tx: Tx, mailbox_id: int, uidvalidity: int, key: SearchKey) -> list[int]:
    await live_mailbox(tx, mailbox_id, uidvalidity)
    condition, params = compile_pg(key, 2)
    rows = await tx.fetch(
        "SELECT m.uid FROM messages AS m JOIN contents AS c ON c.id = m.content_id"
        f" WHERE m.mailbox_id = $1 AND ({condition}) ORDER BY m.uid", mailbox_id, *params,
    )
    return [r["uid"] for r in rows]
