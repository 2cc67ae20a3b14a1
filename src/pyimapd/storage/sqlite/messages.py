"""Messages in SQL: APPEND, SELECT, poll, FETCH, STORE, COPY, EXPUNGE and SEARCH.

How this works: like :mod:`.mailboxes`, every function is synchronous and runs inside a
transaction opened by :class:`~.db.Database`. A selected mailbox is identified by its
row id *and* the UIDVALIDITY it had at SELECT: :func:`live_mailbox` re-reads the row in
every transaction and refuses when it is gone, \\Noselect or re-created, and that row
read is also where UIDNEXT, HIGHESTMODSEQ and the \\Recent floor come from (never from
a Python cache, since other processes write too).

MODSEQ policy (RFC 7162 section 3.1 allows either): one APPEND, one STORE, one COPY or
one EXPUNGE takes one new MODSEQ, shared by all the messages it changed.

Bodies are written with incremental blob I/O: the row is inserted with
``zeroblob(size)``, then filled in 64 KiB chunks straight from the source file, so a
large message is never held in memory and lands in the same transaction (and fsync) as
its metadata.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyimapd.search.ast import SearchKey
from pyimapd.search.evaluate import fold
from pyimapd.search.sql import compile_search
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
from pyimapd.storage.sqlite import quota
from pyimapd.storage.sqlite.mailboxes import bump_modseq, mailbox_row, user_id
from pyimapd.storage.values import (
    CHUNK_SIZE,
    DELETED_BIT,
    SEEN_BIT,
    apply_store,
    batches,
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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A mailbox row plus message data read in one transaction."""

    mailbox_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    recent_floor: int
    keywords: frozenset[str]


def _snapshot(conn: sqlite3.Connection, row: sqlite3.Row) -> Snapshot:
    keywords = frozenset(r[0] for r in conn.execute(
        "SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?", (row["id"],)))
    return Snapshot(
        row["id"], row["name"], row["uidvalidity"], row["uidnext"], row["highestmodseq"],
        row["recent_floor"], keywords,
    )


def live_mailbox(conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int) -> sqlite3.Row:
    """The selected mailbox's row, unless it was deleted or re-created since SELECT."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None or row["noselect"] or row["uidvalidity"] != uidvalidity:
        raise NoSuchMailbox("The selected mailbox was deleted")
    return row


def _note_keywords(conn: sqlite3.Connection, mailbox_id: int, flags: Iterable[str]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, folded, keyword) VALUES (?, ?, ?)",
        [(mailbox_id, flag_key(k), k) for k in keywords_of(flags)],
    )


def _update(row: sqlite3.Row) -> FlagUpdate:
    return FlagUpdate(row["uid"], flags_from_columns(row["sysflags"], row["keywords"]),
                      row["modseq"])


# --- APPEND --------------------------------------------------------------------------------


def write_content(conn: sqlite3.Connection, message: PreparedMessage) -> int:
    """Stores the body, structure and search data; returns the content id."""
    cid = conn.execute(
        "INSERT INTO contents (size, structure, search_text, body)"
        " VALUES (?, ?, ?, zeroblob(?)) RETURNING id",
        (message.size, bytes(message.structure), fold(message.search_text), message.size),
    ).fetchone()[0]
    if message.size > 0:
        source = message.source
        source.seek(0)
        with conn.blobopen("contents", "body", cid) as blob:
            remaining = message.size
            while remaining > 0:
                chunk = source.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise StorageError("Message source is shorter than its declared size")
                blob.write(chunk)
                remaining -= len(chunk)
    conn.executemany(
        "INSERT INTO content_headers (content_id, name, value) VALUES (?, ?, ?)",
        [
            (cid, fold(name), fold(line))
            for name, value in message.search_headers.items()
            for line in value.split("\n")
        ],
    )
    return int(cid)


def append(
    conn: sqlite3.Connection, user: str, name: str, message: PreparedMessage,
    flags: frozenset[str], internaldate: datetime,
) -> tuple[AppendResult, str]:
    results, mailbox = append_many(conn, user, name, [AppendItem(message, flags, internaldate)])
    return results[0], mailbox


def append_many(
    conn: sqlite3.Connection, user: str, name: str, items: Sequence[AppendItem]
) -> tuple[list[AppendResult], str]:
    """APPEND and MULTIAPPEND (RFC 3502): consecutive UIDs and one MODSEQ, in the
    caller's one transaction, after the quota check (RFC 9208)."""
    owner = user_id(conn, user)
    row = mailbox_row(conn, owner, name, NoSuchMailbox)
    quota.check(conn, owner, sum(i.message.size for i in items), len(items))
    if not items:
        return [], row["name"]
    first = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext - ?",
        (len(items), row["id"], len(items)),
    ).fetchone()[0]
    modseq = bump_modseq(conn, row["id"])
    for uid, item in enumerate(items, first):
        message = item.message
        cid = write_content(conn, message)
        flags = normalize_flags(item.flags)
        bits, keywords = flags_to_columns(flags)
        sent = to_epoch(message.sent_date) if message.sent_date is not None else (None, None)
        conn.execute(
            "INSERT INTO messages (mailbox_id, uid, content_id, sysflags, keywords,"
            " internaldate, internaldate_offset, size, modseq, sent_date, sent_date_offset)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row["id"], uid, cid, bits, keywords, *to_epoch(item.internaldate), message.size,
             modseq, *sent),
        )
        _note_keywords(conn, row["id"], flags)
    results = [AppendResult(row["uidvalidity"], first + i) for i in range(len(items))]
    return results, row["name"]


# --- SELECT and poll -----------------------------------------------------------------------


def select_snapshot(
    conn: sqlite3.Connection, user: str, name: str,
    cached_uids: Callable[[int, int, int], list[int] | None] | None = None,
    limit: int | None = None,
) -> tuple[Snapshot, list[int], int | None] | None:
    """The SELECT data: the mailbox, every UID ascending and the first unseen UID.
    ``cached_uids(mailbox id, UIDVALIDITY, HIGHESTMODSEQ)`` may give the UIDs from a
    copy exact at this snapshot's HIGHESTMODSEQ (see :mod:`.flagindex`). With ``limit``,
    None for a mailbox of more messages than that (for a caller that must stay quick)."""
    row = mailbox_row(conn, user_id(conn, user), name)
    uids = None if cached_uids is None else cached_uids(
        row["id"], row["uidvalidity"], row["highestmodseq"])
    if uids is None:
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: one per message of the mailbox
        query = "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid"
        if limit is not None:
            query += f" LIMIT {int(limit) + 1}"
        uids = [uid for (uid,) in cursor.execute(query, (row["id"],))]
    if limit is not None and len(uids) > limit:
        return None
    unseen = conn.execute(
        f"SELECT min(uid) FROM messages WHERE mailbox_id = ? AND (sysflags & {SEEN_BIT}) = 0",
        (row["id"],),
    ).fetchone()[0]
    return _snapshot(conn, row), uids, unseen


def claim_recent(conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, upto: int) -> int:
    """Raises the \\Recent floor to ``upto`` (in a write transaction) and returns the
    floor it had: UIDs above that and up to ``upto`` now belong to the caller alone."""
    row = live_mailbox(conn, mailbox_id, uidvalidity)
    floor = int(row["recent_floor"])
    if upto > floor:
        conn.execute("UPDATE mailboxes SET recent_floor = ? WHERE id = ?", (upto, mailbox_id))
    return floor


def poll_snapshot(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, since: int, known_max: int,
    limit: int | None = None,
) -> tuple[Snapshot, list[FlagUpdate], list[FlagUpdate], list[int]] | None:
    """``(mailbox, new, flag changes, expunged)`` in one read transaction. When
    HIGHESTMODSEQ has not moved nothing else can have (every change bumps it), so an
    idle poll costs one row read. With ``limit``, None when more than that many
    messages are new, changed or expunged (for a caller that must stay quick)."""
    row = live_mailbox(conn, mailbox_id, uidvalidity)
    snap = _snapshot(conn, row)
    if snap.highestmodseq <= since:  # APPEND, COPY and EXPUNGE bump it too
        return snap, [], [], []
    bound = "" if limit is None else f" LIMIT {int(limit) + 1}"
    new = [_update(r) for r in conn.execute(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = ? AND uid > ? ORDER BY uid" + bound, (mailbox_id, known_max))]
    # INDEXED BY: left to itself SQLite walks the primary key (every message up to
    # known_max, to save a sort) where the MODSEQ index finds the few changed rows. In
    # index order, so that a LIMIT stops early; sorted by UID here.
    changed = [_update(r) for r in conn.execute(
        "SELECT uid, sysflags, keywords, modseq FROM messages INDEXED BY messages_by_modseq"
        " WHERE mailbox_id = ? AND modseq > ? AND uid <= ?" + bound,
        (mailbox_id, since, known_max))]
    expunged = [r[0] for r in conn.execute(
        "SELECT uid FROM expunged INDEXED BY expunged_by_modseq"
        " WHERE mailbox_id = ? AND modseq > ? AND uid <= ?" + bound,
        (mailbox_id, since, known_max))]
    if limit is not None and max(len(new), len(changed), len(expunged)) > limit:
        return None
    changed.sort(key=lambda u: u.uid)
    expunged.sort()
    return snap, new, changed, expunged


# --- FETCH ---------------------------------------------------------------------------------


def fetch_page(
    conn: sqlite3.Connection, mailbox_id: int, lo: int, hi: int, limit: int,
    with_structure: bool,
) -> list[MessageRecord]:
    """Up to ``limit`` messages with ``lo <= uid <= hi``, ascending."""
    structure = ", c.structure" if with_structure else ""
    join = " JOIN contents AS c ON c.id = m.content_id" if with_structure else ""
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS}{structure} FROM messages AS m{join}"
        " WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ?",
        (mailbox_id, lo, hi, limit),
    ).fetchall()
    return [
        MessageRecord(
            uid=r["uid"], flags=flags_from_columns(r["sysflags"], r["keywords"]),
            internaldate=from_epoch(r["internaldate"], r["internaldate_offset"]),
            size=r["size"], modseq=r["modseq"], content=r["content_id"],
            structure=bytes(r["structure"]) if with_structure else None,
        )
        for r in rows
    ]


def flag_page(
    conn: sqlite3.Connection, mailbox_id: int, lo: int, hi: int, limit: int
) -> list[FlagRow]:
    """Up to ``limit`` ``(uid, flags, modseq)`` with ``lo <= uid <= hi``, ascending; plain
    tuples (no ``sqlite3.Row``) since this runs once per message of a whole mailbox."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid LIMIT ?",
        (mailbox_id, lo, hi, limit),
    ).fetchall()
    return [(uid, flags_from_columns(bits, words), modseq) for uid, bits, words, modseq in rows]


def read_chunks(
    conn: sqlite3.Connection, content: int, start: int, end: int, count: int
) -> list[bytes]:
    """Up to ``count`` chunks of at most 64 KiB from ``[start, end)`` of a body."""
    try:
        blob = conn.blobopen("contents", "body", content, readonly=True)
    except sqlite3.OperationalError as exc:
        raise StorageError("Message no longer exists") from exc
    chunks: list[bytes] = []
    with blob:
        end = min(end, len(blob))
        if start >= end:
            return chunks
        blob.seek(start)
        while start < end and len(chunks) < count:
            n = min(CHUNK_SIZE, end - start)
            chunks.append(blob.read(n))
            start += n
    return chunks


@dataclass(frozen=True, slots=True)
class FlagDelta:
    """What changed in a mailbox since a MODSEQ (see :mod:`.flagindex`)."""

    highestmodseq: int
    changed: list[FlagRow]
    """New messages and flag changes, ascending by UID."""
    expunged: list[int]
    """Ascending."""


def live_modseq(conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int) -> int:
    return int(live_mailbox(conn, mailbox_id, uidvalidity)["highestmodseq"])


def flag_rows(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int
) -> tuple[int, array[int], list[frozenset[str]], array[int]]:
    """Every message's ``(uid, flags, modseq)`` as columns, with the HIGHESTMODSEQ they
    are exact at, from one snapshot."""
    modseq = int(live_mailbox(conn, mailbox_id, uidvalidity)["highestmodseq"])
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        "SELECT uid, sysflags, keywords, modseq FROM messages WHERE mailbox_id = ?"
        " ORDER BY uid", (mailbox_id,)).fetchall()
    return (modseq, array("q", [r[0] for r in rows]),
            [flags_from_columns(r[1], r[2]) for r in rows], array("q", [r[3] for r in rows]))


def flag_delta(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, since: int, limit: int
) -> FlagDelta | None:
    """The changes since ``since`` from one snapshot; None when more than ``limit``
    messages changed (reading everything is then cheaper)."""
    modseq = int(live_mailbox(conn, mailbox_id, uidvalidity)["highestmodseq"])
    cursor = conn.cursor()
    cursor.row_factory = None
    # In MODSEQ order along its index, so that LIMIT stops early; sorted by UID below.
    changed = cursor.execute(
        "SELECT uid, sysflags, keywords, modseq FROM messages INDEXED BY messages_by_modseq"
        " WHERE mailbox_id = ? AND modseq > ? LIMIT ?",
        (mailbox_id, since, limit + 1)).fetchall()
    expunged = [uid for (uid,) in cursor.execute(
        "SELECT uid FROM expunged INDEXED BY expunged_by_modseq"
        " WHERE mailbox_id = ? AND modseq > ? LIMIT ?",
        (mailbox_id, since, limit + 1))]
    if len(changed) > limit or len(expunged) > limit:
        return None
    changed.sort()
    expunged.sort()
    return FlagDelta(modseq, [(uid, flags_from_columns(bits, words), m)
                              for uid, bits, words, m in changed], expunged)


def read_ranges(
    conn: sqlite3.Connection, ranges: Sequence[tuple[int, int, int]]
) -> list[bytes | None]:
    """``[start, end)`` of each ``(content, start, end)``; None for a missing body."""
    out: list[bytes | None] = []
    for content, start, end in ranges:
        try:
            blob = conn.blobopen("contents", "body", content, readonly=True)
        except sqlite3.OperationalError:
            out.append(None)
            continue
        with blob:
            end = min(end, len(blob))
            if start >= end:
                out.append(b"")
                continue
            blob.seek(start)
            out.append(blob.read(end - start))
    return out


# --- STORE, COPY, EXPUNGE ------------------------------------------------------------------


def _select_uids(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], columns: str,
    extra: str = "",
) -> list[sqlite3.Row]:
    """Rows for the given UIDs (ascending, unknown ones skipped), in bounded IN lists."""
    rows: list[sqlite3.Row] = []
    for batch in batches(sorted(set(uids))):
        marks = ",".join("?" * len(batch))
        rows.extend(conn.execute(
            f"SELECT {columns} FROM messages AS m WHERE m.mailbox_id = ?"
            f" AND m.uid IN ({marks}){extra} ORDER BY m.uid",
            (mailbox_id, *batch),
        ))
    return rows


def store(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, uids: Sequence[int],
    mode: str, flags: frozenset[str],
) -> tuple[list[FlagUpdate], str]:
    row = live_mailbox(conn, mailbox_id, uidvalidity)
    flags = normalize_flags(flags)
    changed: list[tuple[int, frozenset[str]]] = []
    for r in _select_uids(conn, mailbox_id, uids, "m.uid, m.sysflags, m.keywords"):
        current = flags_from_columns(r["sysflags"], r["keywords"])
        after = apply_store(current, mode, flags)
        if after is not current:
            changed.append((r["uid"], after))
    if not changed:
        return [], row["name"]
    modseq = bump_modseq(conn, mailbox_id)
    conn.executemany(
        "UPDATE messages SET sysflags = ?, keywords = ?, modseq = ?"
        " WHERE mailbox_id = ? AND uid = ?",
        [(*flags_to_columns(after), modseq, mailbox_id, uid) for uid, after in changed],
    )
    _note_keywords(conn, mailbox_id, {flag for _, after in changed for flag in after})
    return [FlagUpdate(uid, after, modseq) for uid, after in changed], row["name"]


def store_unchanged_since(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, uids: Sequence[int],
    mode: str, flags: frozenset[str], unchangedsince: int,
) -> tuple[list[FlagUpdate], list[int], str]:
    """The UNCHANGEDSINCE test and the store in one write transaction (RFC 7162 3.1.3)."""
    live_mailbox(conn, mailbox_id, uidvalidity)
    modified = [r[0] for r in _select_uids(
        conn, mailbox_id, uids, "m.uid", f" AND m.modseq > {int(unchangedsince)}")]
    gone = set(modified)
    updates, name = store(conn, mailbox_id, uidvalidity,
                          [u for u in uids if u not in gone], mode, flags)
    return updates, modified, name


def vanished(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, since: int,
    ranges: Sequence[tuple[int, int]],
) -> list[int]:
    """Expunged UIDs in the ranges with a MODSEQ above ``since`` (QRESYNC)."""
    live_mailbox(conn, mailbox_id, uidvalidity)
    out: list[int] = []
    for lo, hi in ranges:
        out.extend(r[0] for r in conn.execute(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND uid BETWEEN ? AND ?"
            " AND modseq > ? ORDER BY uid", (mailbox_id, lo, hi, since)))
    return out


def copy(
    conn: sqlite3.Connection, user: str, mailbox_id: int, uidvalidity: int,
    uids: Sequence[int], dest: str, moving: bool = False,
) -> tuple[CopyResult, str]:
    """COPY (RFC 3501 section 6.4.7) keeping flags and internal date; new UIDs ascend in
    source UID order; the copies share the source's content row. The copies count
    against the quota (RFC 9208), unless ``moving`` (the originals go in the same
    transaction)."""
    live_mailbox(conn, mailbox_id, uidvalidity)
    target = mailbox_row(conn, user_id(conn, user), dest, NoSuchMailbox)
    columns = (
        "m.uid, m.content_id, m.sysflags, m.keywords, m.internaldate, m.internaldate_offset,"
        " m.size, m.sent_date, m.sent_date_offset"
    )
    rows = _select_uids(conn, mailbox_id, uids, columns)
    if not rows:
        return CopyResult(target["uidvalidity"], (), ()), target["name"]
    if not moving:
        quota.check(conn, target["user_id"], sum(r["size"] for r in rows), len(rows))
    first = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext - ?",
        (len(rows), target["id"], len(rows)),
    ).fetchone()[0]
    modseq = bump_modseq(conn, target["id"])
    new_uids = list(range(first, first + len(rows)))
    conn.executemany(
        "INSERT INTO messages (mailbox_id, uid, content_id, sysflags, keywords, internaldate,"
        " internaldate_offset, size, modseq, sent_date, sent_date_offset)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (target["id"], new, r["content_id"], r["sysflags"], r["keywords"],
             r["internaldate"], r["internaldate_offset"], r["size"], modseq, r["sent_date"],
             r["sent_date_offset"])
            for new, r in zip(new_uids, rows, strict=True)
        ],
    )
    for r in rows:
        _note_keywords(conn, target["id"], flags_from_columns(0, r["keywords"]))
    result = CopyResult(target["uidvalidity"], tuple(r["uid"] for r in rows), tuple(new_uids))
    return result, target["name"]


def expunge(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, uids: Sequence[int] | None
) -> tuple[list[int], str]:
    row = live_mailbox(conn, mailbox_id, uidvalidity)
    deleted = f" AND (m.sysflags & {DELETED_BIT}) != 0"
    if uids is None:
        gone = [r[0] for r in conn.execute(
            f"SELECT m.uid FROM messages AS m WHERE m.mailbox_id = ?{deleted} ORDER BY m.uid",
            (mailbox_id,))]
    else:
        gone = [r[0] for r in _select_uids(conn, mailbox_id, uids, "m.uid", deleted)]
    if not gone:
        return [], row["name"]
    _remove(conn, mailbox_id, gone)
    return gone, row["name"]


def _remove(conn: sqlite3.Connection, mailbox_id: int, gone: Sequence[int]) -> int:
    """Deletes the messages and records them as expunged under one new MODSEQ."""
    modseq = bump_modseq(conn, mailbox_id)
    conn.executemany(
        "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", [(mailbox_id, u) for u in gone]
    )
    conn.executemany(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
        [(mailbox_id, u, modseq) for u in gone],
    )
    return modseq


def move(
    conn: sqlite3.Connection, user: str, mailbox_id: int, uidvalidity: int,
    uids: Sequence[int], dest: str,
) -> tuple[CopyResult, str, str]:
    """MOVE (RFC 6851): :func:`copy` then the removal of the originals, in the caller's
    one transaction, so a message is in exactly one of the mailboxes at any time.
    Returns the result, the target's name and the source's."""
    copied, target = copy(conn, user, mailbox_id, uidvalidity, uids, dest, moving=True)
    row = live_mailbox(conn, mailbox_id, uidvalidity)
    if not copied.source_uids:
        return copied, target, row["name"]
    modseq = _remove(conn, mailbox_id, copied.source_uids)
    result = CopyResult(copied.uidvalidity, copied.source_uids, copied.dest_uids, modseq)
    return result, target, row["name"]


# --- SEARCH --------------------------------------------------------------------------------


def search(
    conn: sqlite3.Connection, mailbox_id: int, uidvalidity: int, key: SearchKey
) -> list[int]:
    live_mailbox(conn, mailbox_id, uidvalidity)
    condition, params = compile_search(key)
    rows = conn.execute(
        "SELECT m.uid FROM messages AS m JOIN contents AS c ON c.id = m.content_id"
        f" WHERE m.mailbox_id = ? AND ({condition}) ORDER BY m.uid",
        (mailbox_id, *params),
    )
    return [r[0] for r in rows]
