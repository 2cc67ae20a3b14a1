"""Messages: APPEND, SELECT, poll, FETCH, STORE, COPY, MOVE, EXPUNGE and SEARCH.

How this works: every routine runs in a transaction its backend opened. A write that
changes a mailbox's messages first takes the mailbox row's lock (``live_mailbox(...,
lock=True)``; a no-op under SQLite's single writer) and then reads the latest committed
state: UIDNEXT, HIGHESTMODSEQ and the \\Recent floor come from that row, never from a
Python cache, so writers in any process or on any node take turns and allocate
distinct, ascending UIDs and MODSEQs (docs/postgres.md has the argument). COPY and MOVE
lock source and target in id order, so two crossing copies cannot deadlock.

A selected mailbox is identified by its row id *and* the UIDVALIDITY it had at SELECT:
:func:`live_mailbox` re-reads the row in every transaction and refuses when it is gone,
\\Noselect or re-created.

MODSEQ policy (RFC 7162 section 3.1 allows either): one APPEND, STORE, COPY, MOVE or
EXPUNGE takes one new MODSEQ, shared by all the messages it changed.

Bodies are stored with :class:`~.core.WriteBody` straight from the spool file, before
the mailbox is locked, so a large APPEND holds the lock only for the few statements that
allocate UIDs and MODSEQ. Reading them back is the backends' own (a blob or chunk rows).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyimapd.search.ast import SearchKey
from pyimapd.search.evaluate import fold
from pyimapd.search.sql import compile_relevancy, compile_search, reads_content
from pyimapd.storage.interface import (
    AppendItem,
    AppendResult,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MessageRecord,
    NoSuchMailbox,
    NotAllowed,
    PreparedMessage,
)
from pyimapd.storage.sql import quota
from pyimapd.storage.sql.core import (
    Dialect,
    Routine,
    WriteBody,
    changed,
    count,
    many,
    row,
    rows,
    tuples,
    uid_batches,
    value,
)
from pyimapd.storage.sql.mailboxes import bump_modseq, mailbox_row, record_expunged, user_id
from pyimapd.storage.sql.textindex import index_content, search_filter
from pyimapd.storage.values import (
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
    " m.modseq, m.content_id, COALESCE(m.savedate, m.internaldate) AS savedate"
)
_COPY_FIELDS = ("content_id", "sysflags", "keywords", "internaldate", "internaldate_offset",
                "size", "sent_date", "sent_date_offset")
_COPY_COLUMNS = ", ".join(_COPY_FIELDS)


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


def _snapshot(d: Dialect, box: Any) -> Routine[Snapshot]:
    found = yield tuples("SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?", box["id"])
    return Snapshot(
        box["id"], box["name"], box["uidvalidity"], box["uidnext"], box["highestmodseq"],
        box["recent_floor"], frozenset(r[0] for r in found),
    )


def live_mailbox(d: Dialect, mailbox_id: int, uidvalidity: int, lock: bool = False) -> Routine[Any]:
    """The selected mailbox's row (locked with ``lock``), unless it was deleted or
    re-created since SELECT."""
    box = yield row("SELECT * FROM mailboxes WHERE id = ?" + (d.lock if lock else ""), mailbox_id)
    if box is None or box["noselect"] or box["uidvalidity"] != uidvalidity:
        raise NoSuchMailbox("The selected mailbox was deleted")
    return box


def _note_keywords(d: Dialect, mailbox_id: int, flags: Iterable[str]) -> Routine[None]:
    yield many(
        "INSERT INTO mailbox_keywords (mailbox_id, folded, keyword) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING", [(mailbox_id, flag_key(k), k) for k in keywords_of(flags)])


def _update(r: Any) -> FlagUpdate:
    return FlagUpdate(r[0], flags_from_columns(r[1], r[2]), r[3])


def _select_uids(
    d: Dialect, mailbox_id: int, uids: Sequence[int], columns: str, extra: str = ""
) -> Routine[list[Any]]:
    """Rows for the given UIDs (ascending, unknown ones skipped)."""
    out: list[Any] = []
    for condition, args in uid_batches(d, uids):
        out.extend((yield rows(
            f"SELECT {columns} FROM messages AS m WHERE m.mailbox_id = ? AND {condition}"
            f"{extra} ORDER BY m.uid", mailbox_id, *args)))
    return out


# --- APPEND --------------------------------------------------------------------------------


def _text(text: str) -> str:
    """Folded search text: without NUL, which PostgreSQL refuses in TEXT and a binary
    APPEND (RFC 3516 literal8) may carry; SEARCH cannot ask for it anyway."""
    return fold(text).replace("\x00", "")


def write_content(d: Dialect, message: PreparedMessage) -> Routine[int]:
    """Stores the body, structure and search data; returns the content id."""
    text = _text(message.search_text)
    cid = int((yield value(
        d.new_content, message.size, bytes(message.structure), text,
        None if message.preview is None else message.preview.replace("\x00", ""))))
    yield WriteBody(cid, message.source, message.size)
    yield many(
        "INSERT INTO content_headers (content_id, name, value) VALUES (?, ?, ?)",
        [(cid, _text(name), _text(line))
         for name, text in message.search_headers.items() for line in text.split("\n")])
    yield from index_content(d, cid, text)
    return cid


def append(
    d: Dialect, user: str, name: str, message: PreparedMessage, flags: frozenset[str],
    internaldate: datetime,
) -> Routine[AppendResult]:
    results = yield from append_many(d, user, name, [AppendItem(message, flags, internaldate)])
    return results[0]


def append_many(
    d: Dialect, user: str, name: str, items: Sequence[AppendItem]
) -> Routine[list[AppendResult]]:
    """APPEND and MULTIAPPEND (RFC 3502): consecutive UIDs and one MODSEQ in one
    transaction, after the quota check (RFC 9208), made under the account's lock."""
    owner = yield from user_id(d, user)
    yield from mailbox_row(d, owner, name, NoSuchMailbox)  # fail before writing the body
    if not items:
        return []
    cids = []
    for item in items:
        cids.append((yield from write_content(d, item.message)))
    limits = yield from quota.lock(d, owner)
    box = yield from mailbox_row(d, owner, name, NoSuchMailbox, lock=True)
    yield from quota.check(d, owner, limits, sum(i.message.size for i in items), len(items))
    uids, modseq = yield from _new_uids(d, box["id"], items)
    now = int(time.time())  # RFC 8514 section 3: the moment it is saved here
    records = []
    for uid, item, cid in zip(uids, items, cids, strict=True):
        flags = normalize_flags(item.flags)
        message = item.message
        sent = to_epoch(message.sent_date) if message.sent_date is not None else (None, None)
        records.append((box["id"], uid, cid, *flags_to_columns(flags),
                        *to_epoch(item.internaldate), message.size, modseq, *sent, now))
    yield many(
        "INSERT INTO messages (mailbox_id, uid, content_id, sysflags, keywords,"
        " internaldate, internaldate_offset, size, modseq, sent_date, sent_date_offset,"
        " savedate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
    yield from _note_keywords(d, box["id"], {f for i in items for f in normalize_flags(i.flags)})
    yield changed(user, [box["name"]])
    return [AppendResult(box["uidvalidity"], uid) for uid in uids]


def _new_uids(
    d: Dialect, mailbox_id: int, items: Sequence[AppendItem]
) -> Routine[tuple[list[int], int]]:
    """Takes the UIDs and the MODSEQ for the items of an append: the next ones from
    UIDNEXT with a new MODSEQ, or the ones a migration keeps (issue 20), which must
    ascend above every UID the mailbox has, so that no session ever sees a new message
    below one it knows (RFC 3501 section 2.3.1.1)."""
    kept = [i.uid for i in items if i.uid is not None]
    if not kept:
        counters = yield row(
            "UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1"
            " WHERE id = ? RETURNING uidnext - ?, highestmodseq",
            len(items), mailbox_id, len(items))
        first = int(counters[0])
        return list(range(first, first + len(items))), int(counters[1])
    if len(kept) != len(items) or any(b <= a for a, b in zip(kept, kept[1:], strict=False)):
        raise NotAllowed("Kept UIDs must be given for every message, ascending")
    highest = yield value("SELECT MAX(uid) FROM messages WHERE mailbox_id = ?", mailbox_id)
    if kept[0] < 1 or kept[-1] > 0xFFFFFFFF or (highest is not None and kept[0] <= highest):
        raise NotAllowed(f"UID {kept[0]} is not above the mailbox's highest UID")
    box = yield row("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?", mailbox_id)
    if kept[-1] < box[0]:
        # Below the UIDNEXT a restore took over: these messages were part of the state
        # the old server's HIGHESTMODSEQ describes, so they carry it, and a client that
        # cached it sees nothing new (RFC 7162 CHANGEDSINCE) after the switch.
        return [int(u) for u in kept], int(box[1])
    counters = yield row(
        "UPDATE mailboxes SET uidnext = CASE WHEN uidnext > ? THEN uidnext ELSE ? END,"
        " highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq",
        kept[-1], kept[-1] + 1, mailbox_id)
    return [int(u) for u in kept], int(counters[0])


# --- SELECT and poll -----------------------------------------------------------------------


def select_snapshot(
    d: Dialect, user: str, name: str,
    cached_uids: Callable[[int, int, int], list[int] | None] | None = None,
    limit: int | None = None,
) -> Routine[tuple[Snapshot, list[int], int | None] | None]:
    """The SELECT data: the mailbox, every UID ascending and the first unseen UID.
    ``cached_uids(mailbox id, UIDVALIDITY, HIGHESTMODSEQ)`` may give the UIDs from a
    copy exact at this snapshot's HIGHESTMODSEQ (see storage/sql/flagindex.py). With
    ``limit``, None for a mailbox of more messages than that (for a caller that must
    stay quick)."""
    box = yield from mailbox_row(d, (yield from user_id(d, user)), name)
    uids = None if cached_uids is None else cached_uids(
        box["id"], box["uidvalidity"], box["highestmodseq"])
    if uids is None:
        bound = "" if limit is None else f" LIMIT {int(limit) + 1}"
        found = yield tuples(
            "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid" + bound, box["id"])
        uids = [r[0] for r in found]
    if limit is not None and len(uids) > limit:
        return None
    unseen = yield value(
        f"SELECT min(uid) FROM messages WHERE mailbox_id = ? AND (sysflags & {SEEN_BIT}) = 0",
        box["id"])
    return (yield from _snapshot(d, box)), uids, unseen


def claim_recent(d: Dialect, mailbox_id: int, uidvalidity: int, upto: int) -> Routine[int]:
    """Raises the \\Recent floor to ``upto`` under the row lock and returns the floor it
    had: UIDs above that and up to ``upto`` now belong to the caller alone."""
    box = yield from live_mailbox(d, mailbox_id, uidvalidity, lock=True)
    floor = int(box["recent_floor"])
    if upto > floor:
        yield count("UPDATE mailboxes SET recent_floor = ? WHERE id = ?", upto, mailbox_id)
    return floor


def poll_snapshot(
    d: Dialect, mailbox_id: int, uidvalidity: int, since: int, known_max: int,
    limit: int | None = None,
) -> Routine[tuple[Snapshot, list[FlagUpdate], list[FlagUpdate], list[int]] | None]:
    """``(mailbox, new, flag changes, expunged)`` in one read transaction. Every change
    bumps HIGHESTMODSEQ under the row lock, so when it has not moved (and no UID is
    past what the caller knows) nothing happened: an idle poll is one row read. With
    ``limit``, None when more than that many messages are new, changed or expunged (for
    a caller that must stay quick)."""
    box = yield from live_mailbox(d, mailbox_id, uidvalidity)
    snap = yield from _snapshot(d, box)
    if snap.highestmodseq <= since and snap.uidnext - 1 <= known_max:
        return snap, [], [], []
    bound = "" if limit is None else f" LIMIT {int(limit) + 1}"
    new = [_update(r) for r in (yield tuples(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = ? AND uid > ? ORDER BY uid" + bound, mailbox_id, known_max))]
    # In MODSEQ index order, so that a LIMIT stops early; sorted by UID here.
    changes = [_update(r) for r in (yield tuples(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        + d.indexed_by("messages_by_modseq")
        + " WHERE mailbox_id = ? AND modseq > ? AND uid <= ?" + bound,
        mailbox_id, since, known_max))]
    expunged = [r[0] for r in (yield tuples(
        "SELECT uid FROM expunged" + d.indexed_by("expunged_by_modseq")
        + " WHERE mailbox_id = ? AND modseq > ? AND uid <= ?" + bound,
        mailbox_id, since, known_max))]
    if limit is not None and max(len(new), len(changes), len(expunged)) > limit:
        return None
    changes.sort(key=lambda u: u.uid)
    expunged.sort()
    return snap, new, changes, expunged


# --- FETCH ---------------------------------------------------------------------------------


def fetch_page(
    d: Dialect, mailbox_id: int, lo: int, hi: int, limit: int, with_structure: bool
) -> Routine[list[MessageRecord]]:
    """Up to ``limit`` messages with ``lo <= uid <= hi``, ascending."""
    structure = ", c.structure, c.preview" if with_structure else ""
    join = " JOIN contents AS c ON c.id = m.content_id" if with_structure else ""
    found = yield rows(
        f"SELECT {_MESSAGE_COLUMNS}{structure} FROM messages AS m{join}"
        " WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ?",
        mailbox_id, lo, hi, limit)
    return [
        MessageRecord(
            uid=r["uid"], flags=flags_from_columns(r["sysflags"], r["keywords"]),
            internaldate=from_epoch(r["internaldate"], r["internaldate_offset"]),
            size=r["size"], modseq=r["modseq"], content=r["content_id"],
            structure=bytes(r["structure"]) if with_structure else None,
            savedate=datetime.fromtimestamp(r["savedate"], UTC),
            preview=r["preview"] if with_structure else None,
        )
        for r in found
    ]


def flag_page(
    d: Dialect, mailbox_id: int, lo: int, hi: int, limit: int
) -> Routine[list[FlagRow]]:
    """Up to ``limit`` ``(uid, flags, modseq)`` with ``lo <= uid <= hi``, ascending."""
    found = yield tuples(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        " WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid LIMIT ?",
        mailbox_id, lo, hi, limit)
    return [(uid, flags_from_columns(bits, words), modseq) for uid, bits, words, modseq in found]


@dataclass(frozen=True, slots=True)
class FlagDelta:
    """What changed in a mailbox since a MODSEQ (see storage/sql/flagindex.py)."""

    highestmodseq: int
    changed: list[FlagRow]
    """New messages and flag changes, ascending by UID."""
    expunged: list[int]
    """Ascending."""


def live_modseq(d: Dialect, mailbox_id: int, uidvalidity: int) -> Routine[int]:
    return int((yield from live_mailbox(d, mailbox_id, uidvalidity))["highestmodseq"])


def flag_rows(
    d: Dialect, mailbox_id: int, uidvalidity: int
) -> Routine[tuple[int, array[int], list[frozenset[str]], array[int]]]:
    """Every message's ``(uid, flags, modseq)`` as columns, with the HIGHESTMODSEQ they
    are exact at, from one snapshot."""
    modseq = yield from live_modseq(d, mailbox_id, uidvalidity)
    found = yield tuples(
        "SELECT uid, sysflags, keywords, modseq FROM messages WHERE mailbox_id = ?"
        " ORDER BY uid", mailbox_id)
    return (modseq, array("q", [r[0] for r in found]),
            [flags_from_columns(r[1], r[2]) for r in found], array("q", [r[3] for r in found]))


def flag_delta(
    d: Dialect, mailbox_id: int, uidvalidity: int, since: int, limit: int
) -> Routine[FlagDelta | None]:
    """The changes since ``since`` from one snapshot; None when more than ``limit``
    messages changed (reading everything is then cheaper)."""
    modseq = yield from live_modseq(d, mailbox_id, uidvalidity)
    # In MODSEQ order along its index, so that LIMIT stops early; sorted by UID below.
    changes = list((yield tuples(
        "SELECT uid, sysflags, keywords, modseq FROM messages"
        + d.indexed_by("messages_by_modseq") + " WHERE mailbox_id = ? AND modseq > ? LIMIT ?",
        mailbox_id, since, limit + 1)))
    expunged = [r[0] for r in (yield tuples(
        "SELECT uid FROM expunged" + d.indexed_by("expunged_by_modseq")
        + " WHERE mailbox_id = ? AND modseq > ? LIMIT ?", mailbox_id, since, limit + 1))]
    if len(changes) > limit or len(expunged) > limit:
        return None
    changes.sort()
    expunged.sort()
    return FlagDelta(modseq, [(uid, flags_from_columns(bits, words), m)
                              for uid, bits, words, m in changes], expunged)


# --- STORE, COPY, MOVE, EXPUNGE ------------------------------------------------------------


def store(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], mode: str,
    flags: frozenset[str],
) -> Routine[list[FlagUpdate]]:
    box = yield from live_mailbox(d, mailbox_id, uidvalidity, lock=True)
    flags = normalize_flags(flags)
    after_store: list[tuple[int, frozenset[str]]] = []
    for r in (yield from _select_uids(d, mailbox_id, uids, "m.uid, m.sysflags, m.keywords")):
        current = flags_from_columns(r[1], r[2])
        after = apply_store(current, mode, flags)
        if after is not current:
            after_store.append((r[0], after))
    if not after_store:
        return []
    modseq = yield from bump_modseq(d, mailbox_id)
    yield many(
        "UPDATE messages SET sysflags = ?, keywords = ?, modseq = ?"
        " WHERE mailbox_id = ? AND uid = ?",
        [(*flags_to_columns(after), modseq, mailbox_id, uid) for uid, after in after_store])
    yield from _note_keywords(d, mailbox_id, {f for _, after in after_store for f in after})
    yield changed(user, [box["name"]])
    return [FlagUpdate(uid, after, modseq) for uid, after in after_store]


def store_unchanged_since(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], mode: str,
    flags: frozenset[str], unchangedsince: int,
) -> Routine[tuple[list[FlagUpdate], list[int]]]:
    """The UNCHANGEDSINCE test (RFC 7162 section 3.1.3) and the store in one transaction,
    under the mailbox's lock, so the test cannot race another writer."""
    yield from live_mailbox(d, mailbox_id, uidvalidity, lock=True)
    modified = [r[0] for r in (yield from _select_uids(
        d, mailbox_id, uids, "m.uid", f" AND m.modseq > {int(unchangedsince)}"))]
    failed = set(modified)
    updates = yield from store(d, user, mailbox_id, uidvalidity,
                               [u for u in uids if u not in failed], mode, flags)
    return updates, modified


def vanished(
    d: Dialect, mailbox_id: int, uidvalidity: int, since: int, ranges: Sequence[tuple[int, int]],
) -> Routine[list[int]]:
    """Expunged UIDs in the ranges with a MODSEQ above ``since`` (QRESYNC)."""
    yield from live_mailbox(d, mailbox_id, uidvalidity)
    out: list[int] = []
    for lo, hi in ranges:
        out.extend(r[0] for r in (yield tuples(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND uid BETWEEN ? AND ?"
            " AND modseq > ? ORDER BY uid", mailbox_id, lo, hi, since)))
    return out


def _lock_pair(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, dest: str
) -> Routine[Any]:
    """Locks the selected mailbox and ``dest`` in id order; returns the target's row."""
    target = yield from mailbox_row(d, (yield from user_id(d, user)), dest, NoSuchMailbox)
    locked = {r["id"]: r for r in (yield rows(
        "SELECT * FROM mailboxes WHERE id IN (?, ?) ORDER BY id" + d.lock,
        mailbox_id, target["id"]))}
    source = locked.get(mailbox_id)
    if source is None or source["noselect"] or source["uidvalidity"] != uidvalidity:
        raise NoSuchMailbox("The selected mailbox was deleted")
    again = locked.get(target["id"])
    if again is None or again["noselect"] or again["uidvalidity"] != target["uidvalidity"]:
        raise NoSuchMailbox(f"Mailbox {dest} does not exist")
    return again


def copy(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], dest: str,
    moving: bool = False,
) -> Routine[CopyResult]:
    """COPY (RFC 3501 section 6.4.7) keeping flags and internal date; new UIDs ascend in
    source UID order; the copies share the source's content row. The copies count
    against the quota (RFC 9208), unless ``moving`` (the originals go in the same
    transaction); the account is locked first then (see :mod:`.quota`)."""
    owner = yield from user_id(d, user)
    limits = (yield from quota.lock(d, owner)) if not moving else None
    target = yield from _lock_pair(d, user, mailbox_id, uidvalidity, dest)
    found = yield from _select_uids(d, mailbox_id, uids, "m.uid, " + ", ".join(
        "m." + c for c in _COPY_FIELDS))
    if not found:
        return CopyResult(target["uidvalidity"], (), ())
    if limits is not None:
        yield from quota.check(d, owner, limits, sum(r["size"] for r in found), len(found))
    counters = yield row(
        "UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1"
        " WHERE id = ? RETURNING uidnext - ?, highestmodseq",
        len(found), target["id"], len(found))
    new_uids = list(range(counters[0], counters[0] + len(found)))
    now = int(time.time())  # RFC 8514 section 3: a copy's save date is its own
    yield many(
        f"INSERT INTO messages (mailbox_id, uid, modseq, savedate, {_COPY_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(target["id"], new, counters[1], now, *(r[c] for c in _COPY_FIELDS))
         for new, r in zip(new_uids, found, strict=True)])
    yield from _note_keywords(
        d, target["id"], {k for r in found for k in flags_from_columns(0, r["keywords"])})
    yield changed(user, [target["name"]])
    return CopyResult(target["uidvalidity"], tuple(r["uid"] for r in found), tuple(new_uids))


def _remove(d: Dialect, mailbox_id: int, gone: Sequence[int]) -> Routine[int]:
    """Deletes the messages and records them as expunged under one new MODSEQ."""
    modseq = yield from bump_modseq(d, mailbox_id)
    for condition, args in uid_batches(d, gone):
        yield count(f"DELETE FROM messages AS m WHERE m.mailbox_id = ? AND {condition}",
                    mailbox_id, *args)
    yield from record_expunged(d, mailbox_id, gone, modseq)
    return modseq


def move(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int], dest: str
) -> Routine[CopyResult]:
    """MOVE (RFC 6851): :func:`copy` then the removal of the originals, in one
    transaction, so a message is in exactly one of the mailboxes at any time."""
    copied = yield from copy(d, user, mailbox_id, uidvalidity, uids, dest, moving=True)
    if not copied.source_uids:
        return copied
    box = yield from live_mailbox(d, mailbox_id, uidvalidity)
    modseq = yield from _remove(d, mailbox_id, copied.source_uids)
    yield changed(user, [box["name"]])
    return CopyResult(copied.uidvalidity, copied.source_uids, copied.dest_uids, modseq)


def replace(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uid: int, dest: str,
    item: AppendItem,
) -> Routine[tuple[AppendResult, bool]]:
    """REPLACE (RFC 8508 section 3.4): the append and the removal in one transaction,
    so that the old message goes only if the new one is stored."""
    results = yield from append_many(d, user, dest, [item])
    box = yield from live_mailbox(d, mailbox_id, uidvalidity, lock=True)
    found = yield from _select_uids(d, mailbox_id, [uid], "m.uid", "")
    if not found:
        return results[0], False
    yield from _remove(d, mailbox_id, [uid])
    yield changed(user, [box["name"]])
    return results[0], True


def expunge(
    d: Dialect, user: str, mailbox_id: int, uidvalidity: int, uids: Sequence[int] | None
) -> Routine[list[int]]:
    box = yield from live_mailbox(d, mailbox_id, uidvalidity, lock=True)
    deleted = f" AND (m.sysflags & {DELETED_BIT}) != 0"
    if uids is None:
        found = yield tuples(
            f"SELECT m.uid FROM messages AS m WHERE m.mailbox_id = ?{deleted} ORDER BY m.uid",
            mailbox_id)
    else:
        found = yield from _select_uids(d, mailbox_id, uids, "m.uid", deleted)
    gone = [r[0] for r in found]
    if gone:
        yield from _remove(d, mailbox_id, gone)
        yield changed(user, [box["name"]])
    return gone


# --- SEARCH --------------------------------------------------------------------------------


def _contents_join(key: SearchKey) -> str:
    return " JOIN contents AS c ON c.id = m.content_id" if reads_content(key) else ""


def search(d: Dialect, mailbox_id: int, uidvalidity: int, key: SearchKey) -> Routine[list[int]]:
    yield from live_mailbox(d, mailbox_id, uidvalidity)
    condition, params = compile_search(key, (yield from search_filter(d)))
    found = yield tuples(
        f"SELECT m.uid FROM messages AS m{_contents_join(key)}"
        f" WHERE m.mailbox_id = ? AND ({condition}) ORDER BY m.uid", mailbox_id, *params)
    return [r[0] for r in found]


def search_scored(
    d: Dialect, mailbox_id: int, uidvalidity: int, key: SearchKey
) -> Routine[list[tuple[int, int]]]:
    """:func:`search` with each message's relevancy score (RFC 6203), ascending by UID."""
    yield from live_mailbox(d, mailbox_id, uidvalidity)
    condition, params = compile_search(key, (yield from search_filter(d)))
    columns, combine = compile_relevancy(key)
    selected = "".join(f", {sql}" for sql, _ in columns)
    found = yield tuples(
        f"SELECT m.uid{selected} FROM messages AS m{_contents_join(key)}"
        f" WHERE m.mailbox_id = ? AND ({condition}) ORDER BY m.uid",
        *[p for _, ps in columns for p in ps], mailbox_id, *params)
    return [(r[0], combine(r[1:])) for r in found]
