"""FETCH and UID FETCH (RFC 3501 sections 6.4.5, 6.4.8 and 7.4.2).

How this works: the messages come from the store page by page, in UID order (which is
sequence-number order). ENVELOPE and BODYSTRUCTURE are built from the MIME part tree
stored at APPEND; ``BODY[section]`` is a byte range of the stored message found in that
tree. Small ranges are read whole; large ones stream from the store to the socket in
chunks, with back-pressure, so a 50 MB message never sits in memory.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING

from pyimapd import mime
from pyimapd.mime import preview
from pyimapd.protocol import commands as c
from pyimapd.protocol import fetch_response as wire
from pyimapd.protocol.responses import ResponseCode, encode_value
from pyimapd.session.handlers import binary, objectid
from pyimapd.session.handlers.condstore import enable_condstore
from pyimapd.session.handlers.message import command_verb
from pyimapd.session.state import ConnectionClosed, Result, bad, no, ok
from pyimapd.session.view import InvalidSequence, SelectedView, flag_atoms, vanished_line
from pyimapd.storage.interface import MessageRecord, StorageError

if TYPE_CHECKING:
    from pyimapd.session.session import Session

STREAM_OVER = 64 * 1024
WRITE_BATCH = 64 * 1024
"""Responses of consecutive messages are joined into one write (up to 128 of them, or
until one is over an eighth of this): one transport write (a send system call) per
message was a tenth of FETCH 1:* (FLAGS)'s CPU."""

_SIMPLE = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "EMAILID",
                     "THREADID", "SAVEDATE"})
"""Sections larger than this are streamed from the store instead of read whole."""

HEADER_READ_MAX = 1024 * 1024
"""HEADER.FIELDS reads the header block to filter it; a header is never larger in practice."""

BATCH = 64
"""Messages whose small sections are read from the store together, in one round trip
(:meth:`SelectedMailbox.read_many`): a header FETCH of new mail made one per message."""
PREFETCH_MAX = 1024 * 1024
"""Bytes read ahead for one batch at most; sections beyond it are read one by one."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_SEEN = frozenset({"\\Seen"})


def format_date_time(d: datetime) -> bytes:
    """``date-time`` of RFC 3501 section 9, in the offset the date was stored with."""
    offset = d.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    text = (
        f'"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year:04d} '
        f'{d.hour:02d}:{d.minute:02d}:{d.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"'
    )
    return text.encode()


def _sets_seen(item: c.FetchItem) -> bool:
    if isinstance(item, c.FetchSection | c.FetchBinary):
        return not item.peek and not getattr(item, "size", False)
    return item.name in ("RFC822", "RFC822.TEXT")


def _needs_tree(item: c.FetchItem) -> bool:
    """The item needs the decoded MIME tree; top-level sections (HEADER, HEADER.FIELDS,
    TEXT, RFC822.HEADER) need only the root's offsets (:func:`mime.loads_root`)."""
    if isinstance(item, c.FetchBinary):
        return True
    if isinstance(item, c.FetchSection):
        return bool(item.part)
    return item.name in ("ENVELOPE", "BODY", "BODYSTRUCTURE")


def _needs_structure(item: c.FetchItem) -> bool:
    if isinstance(item, c.FetchBinary):
        return True
    if isinstance(item, c.FetchSection):
        return bool(item.part or item.text)
    return item.name in ("ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822.HEADER", "RFC822.TEXT",
                         "PREVIEW", "PREVIEW (LAZY)")


_RFC822_SECTIONS = {
    "RFC822": c.FetchSection(peek=False),
    "RFC822.HEADER": c.FetchSection(peek=True, text="HEADER"),
    "RFC822.TEXT": c.FetchSection(peek=False, text="TEXT"),
}


_NOT_REV2 = frozenset(c.FetchAttr(n) for n in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"))


async def fetch(session: Session, command: c.Fetch) -> Result:
    view = session.require_view()
    try:
        uids = view.resolve(command.sequence, command.uid)
    except InvalidSequence as exc:
        return bad(str(exc))
    if command.partial is not None:
        # RFC 9394 section 3.3: only the messages at these positions among the UIDs
        # named (in UID order, so -1 is the highest), before CHANGEDSINCE filters them
        # (section 3.4) and before \Seen is set on any.
        uids = command.partial.select(uids)
    items = list(command.items)
    if session.rev2 and any(i in _NOT_REV2 for i in items):
        # RFC 9051 Appendix E item 18: rev2's fetch-att has no RFC822, RFC822.HEADER
        # or RFC822.TEXT (BODY[], BODY.PEEK[HEADER] and BODY[TEXT] say the same).
        return bad("RFC822, RFC822.HEADER and RFC822.TEXT are not part of IMAP4rev2")
    if command.uid and _UID not in items and not view.uidonly:
        items.insert(0, _UID)  # UIDFETCH is about the UID already (RFC 9586 section 3.3)
    since = command.changedsince
    if since is not None or _MODSEQ in items:
        enable_condstore(session)  # RFC 7162 section 3.1's enabling commands
        if _MODSEQ not in items:
            items.append(_MODSEQ)
    if command.vanished:
        if "QRESYNC" not in session.enabled:
            return bad("VANISHED needs ENABLE QRESYNC first")
        await _vanished(session, view, command.sequence, since or 0)
    newly_seen: set[int] = set()
    if not view.readonly and any(_sets_seen(i) for i in items):
        await _check_binary(view, uids, items)
        # \Seen is set before the data goes out, so the FETCH reports it (section 6.4.5).
        for update in await view.mailbox.store(uids, "+", _SEEN):
            view.note_own_change(update.uid, update.modseq)
            newly_seen.add(update.uid)
    structure = any(_needs_structure(i) for i in items)
    # Only attributes of the message record (the common flag resync): each response is
    # built without a coroutine or the MIME tree.
    simple = not newly_seen and all(
        isinstance(i, c.FetchAttr) and i.name in _SIMPLE for i in items)
    if simple and all(i.name in _FLAG_ITEMS for i in items):  # type: ignore[union-attr]
        found = await _fetch_flags(session, view, uids, items, since)
    else:
        found = await _fetch_records(session, view, uids, items, since, structure,
                                     simple, newly_seen)
    view.note_read()  # no older poll may report these messages after this (issue 15)
    if found < len(uids) and not command.uid:
        text = "Some of the requested messages no longer exist"
        return no(text, ResponseCode("EXPUNGEISSUED"))
    return ok(f"{command_verb(command)} completed")


async def push_fetch(
    session: Session, view: SelectedView, uids: list[int], items: tuple[c.FetchItem, ...],
) -> None:
    """An unsolicited FETCH of new messages, for NOTIFY's MessageNew attributes (RFC
    5465 section 5.2) and UPDATE's (section 7). It never sets \\Seen, whatever the
    items (the client "SHOULD NOT" ask for ones that would): an event is not a read.
    UID comes first, so the client can place the message whatever its number (under
    UIDONLY the response's own number is the UID)."""
    others = [i for i in items if i != _UID]
    # UIDFETCH names the message itself: its UID item only when asked for.
    wanted = (list(items) or [_UID]) if view.uidonly else [_UID, *others]
    if view.condstore and _MODSEQ not in wanted:
        wanted.append(_MODSEQ)  # RFC 7162 section 3.2.4: unsolicited FETCH carries it
    simple = all(isinstance(i, c.FetchAttr) and i.name in _SIMPLE for i in wanted)
    structure = any(_needs_structure(i) for i in wanted)
    await _fetch_records(session, view, uids, wanted, None, structure, simple, set())


_FLAG_ITEMS = {"UID": (b"UID %d", 1), "FLAGS": (b"%s", 2), "MODSEQ": (b"MODSEQ (%d)", 3)}
"""Items :func:`_fetch_flags` answers: their format and their index in the tuple
``(msn, uid, "FLAGS (...)" bytes, modseq)`` it builds per message."""


async def _fetch_flags(
    session: Session, view: SelectedView, uids: list[int], items: list[c.FetchItem],
    since: int | None,
) -> int:
    """FETCH of UID, FLAGS and MODSEQ only: the flag resync clients run on every SELECT,
    over the whole mailbox. It reads pages of bare rows and fills one format per line;
    the sequence number comes from walking the view along the ascending UIDs."""
    names = [i.name for i in items]  # type: ignore[union-attr]
    line = wire.line_format([_FLAG_ITEMS[n][0] for n in names], view.numbering)
    pick = itemgetter(int(view.uidonly), *[_FLAG_ITEMS[n][1] for n in names])  # MSN or UID
    known, recent, size = view.uids, view.recent, len(view.uids)
    encoded = _EncodedFlags(session, view)
    found = at = 0  # ``at``: where the next UID is expected in ``known``
    async for page in view.mailbox.fetch_flags(view.uid_ranges(uids)):
        n, listed = len(page), [row[0] for row in page]
        if since is None and listed == known[at:at + n] and recent.isdisjoint(listed):
            # The usual page: exactly the next messages of the view, none \Recent.
            out = [line % pick((msn, uid, encoded[flags], modseq))
                   for msn, (uid, flags, modseq) in enumerate(page, at + 1)]
            at += n
            found += n
        else:
            out = []
            for uid, flags, modseq in page:
                if at >= size or known[at] != uid:
                    at = bisect_left(known, uid, at)
                    if at == size or known[at] != uid:
                        continue  # not in this session's view (yet)
                at += 1
                found += 1
                if since is None or modseq > since:
                    item = encoded[flags]  # announces a new keyword first
                    if uid in recent:
                        item = _flags_item(flags, True)
                    out.append(line % pick((at, uid, item, modseq)))
        if out:
            session.write(b"".join(out))
            await session.io.drain()
    return found


class _EncodedFlags(dict[frozenset[str], bytes]):
    """``FLAGS (...)`` per flag set (without \\Recent), filled on first use. A flag set
    first met may hold a keyword the session has not been told of: the FLAGS update is
    written then, ahead of the page of FETCH lines that will use it."""

    def __init__(self, session: Session, view: SelectedView) -> None:
        super().__init__()
        self.session, self.view = session, view

    def __missing__(self, flags: frozenset[str]) -> bytes:
        announce = self.view.announce(flags)
        if announce:
            self.session.write(b"".join(announce))
        item = self[flags] = _flags_item(flags, False)
        return item


async def _fetch_records(
    session: Session, view: SelectedView, uids: list[int], items: list[c.FetchItem],
    since: int | None, structure: bool, simple: bool, newly_seen: set[int],
) -> int:
    found = 0
    pending = _Out()  # whole responses not yet written (see WRITE_BATCH)
    batch: list[tuple[int, MessageRecord]] = []
    try:
        async for record in view.mailbox.fetch(view.uid_ranges(uids), structure):
            msn = view.msn_of(record.uid)
            if msn is None:
                continue
            found += 1
            if since is not None and record.modseq <= since:
                continue
            pending.extend(view.announce(record.flags))  # before the FETCH that shows them
            if simple:
                pending.append(wire.line(
                    view.numbering.number(msn, record.uid),
                    [_simple(view, record, None, i.name) for i in items],  # type: ignore[union-attr]
                    view.numbering))
                _write_full(session, pending)
                continue
            batch.append((msn, record))
            if len(batch) >= BATCH:
                found -= await _write_batch(session, view, batch, items, newly_seen, pending)
                batch.clear()
        if batch:
            found -= await _write_batch(session, view, batch, items, newly_seen, pending)
    finally:
        if pending:
            session.write(b"".join(pending))
    return found


def _write_full(session: Session, pending: _Out) -> None:
    if pending and (len(pending) >= 128 or len(pending[-1]) >= WRITE_BATCH // 8):
        session.write(b"".join(pending))
        pending.clear()


async def _write_batch(
    session: Session, view: SelectedView, batch: list[tuple[int, MessageRecord]],
    items: list[c.FetchItem], newly_seen: set[int], pending: _Out,
) -> int:
    """The responses of a batch of messages, their small top-level sections read from
    the store in one go first; returns how many of the messages turned out expunged.
    Each structure is decoded once, for both (what :func:`_implied` adds needs none)."""
    tree = any(_needs_tree(i) for i in items)
    roots = [_root(record, tree) for _, record in batch]
    ranges = _prefetch_ranges(batch, roots, items)
    prefetched: dict[tuple[int, int, int], bytes | None] = {}
    if ranges:
        prefetched = dict(zip(ranges, await view.mailbox.read_many(ranges), strict=True))
    gone = 0
    for (msn, record), root in zip(batch, roots, strict=True):
        extra = _implied(view, items) if record.uid in newly_seen else []
        try:
            await _write_message(session, view, msn, record, root, [*items, *extra],
                                 pending, prefetched)
        except StorageError:
            # Expunged by another session between the listing and the read of its body,
            # before anything of it was written: as if already gone (RFC 2180 section
            # 4.1.2), so FETCH ends NO [EXPUNGEISSUED] and UID FETCH omits it.
            gone += 1
        _write_full(session, pending)
    return gone


def _prefetch_ranges(
    batch: list[tuple[int, MessageRecord]], roots: list[mime.Part | None],
    items: list[c.FetchItem],
) -> list[tuple[int, int, int]]:
    """``(content, start, end)`` of the small top-level sections the batch will send,
    up to :data:`PREFETCH_MAX` bytes in all."""
    sections = [s for s in map(_top_section, items) if s is not None]
    ranges: list[tuple[int, int, int]] = []
    total = 0
    for (_, record), root in zip(batch, roots, strict=True):
        for section in sections:
            span = _range(record, root, section)
            if span is None or span[1] - span[0] > STREAM_OVER:
                continue
            total += span[1] - span[0]
            if total > PREFETCH_MAX:
                return ranges
            ranges.append((record.content, *span))
    return ranges


def _top_section(item: c.FetchItem) -> c.FetchSection | None:
    if isinstance(item, c.FetchAttr):
        return _RFC822_SECTIONS.get(item.name)
    if isinstance(item, c.FetchSection) and not item.part:
        return item
    return None


def _root(record: MessageRecord, tree: bool) -> mime.Part | None:
    if record.structure is None:
        return None
    return mime.loads(record.structure) if tree else mime.loads_root(record.structure)


def _range(
    record: MessageRecord, root: mime.Part | None, section: c.FetchSection
) -> tuple[int, int] | None:
    """The bytes of the stored message that ``section`` is sent from (for HEADER.FIELDS,
    the header block to filter); None when the message has no such section."""
    if not section.part and not section.text:
        found: mime.Section | None = mime.Section(0, record.size, False)
    else:
        assert root is not None
        found = mime.locate(root, section.part, section.text)
    if found is None:
        return None
    if section.text.startswith("HEADER.FIELDS"):
        return found.start, min(found.end, found.start + HEADER_READ_MAX)
    return _clip(found.start, found.end, section.partial)


_MODSEQ = c.FetchAttr("MODSEQ")
_FLAGS = c.FetchAttr("FLAGS")
_UID = c.FetchAttr("UID")


async def _check_binary(view: SelectedView, uids: list[int], items: list[c.FetchItem]) -> None:
    """A BINARY that sets \\Seen on a part it cannot decode fails the whole FETCH with
    UNKNOWN-CTE (RFC 3516 section 4.3), so that failure is found before \\Seen is set:
    a failed FETCH changes nothing. Only for BINARY without PEEK, which is rare, so the
    extra pass over the messages' structures costs the common FETCH nothing."""
    wanted = [i for i in items if isinstance(i, c.FetchBinary) and _sets_seen(i)]
    if not wanted:
        return
    async for record in view.mailbox.fetch(view.uid_ranges(uids), True):
        if record.structure is not None:
            binary.check(mime.loads(record.structure), wanted)


def _implied(view: SelectedView, items: list[c.FetchItem]) -> list[c.FetchItem]:
    """A FETCH that sets \\Seen also reports the new FLAGS (RFC 3501 section 6.4.5),
    with UID and MODSEQ once CONDSTORE is on (RFC 7162 section 3.2.4)."""
    wanted = [_FLAGS, _UID, _MODSEQ] if view.condstore else [_FLAGS]
    return [item for item in wanted if item not in items
            and not (item == _UID and view.uidonly)]


async def _vanished(
    session: Session, view: SelectedView, sequence: c.SequenceSet, since: int
) -> None:
    """UID FETCH (CHANGEDSINCE n VANISHED), RFC 7162 section 3.2.6: the UIDs of the set
    expunged since n, as VANISHED (EARLIER) before any FETCH. UIDs this session still
    shows are left for its ordinary VANISHED, so none is reported twice."""
    if sequence.saved:
        return
    largest = max(view.uidnext - 1, view.uids[-1] if view.uids else 0)
    gone = [u for u in await view.mailbox.vanished(since, sequence.resolve(largest))
            if view.msn_of(u) is None]
    if gone:
        session.write(vanished_line(gone, earlier=True))


async def _write_message(
    session: Session,
    view: SelectedView,
    msn: int,
    record: MessageRecord,
    root: mime.Part | None,
    wanted: list[c.FetchItem],
    pending: _Out,
    prefetched: dict[tuple[int, int, int], bytes | None],
) -> None:
    """Appends the response to ``pending``, unless a large section is streamed: then
    ``pending`` and the start of this response are written first."""
    binary.check(root, wanted)  # UNKNOWN-CTE fails the FETCH before any output (RFC 3516)
    out = _Out([wire.begin(view.numbering.number(msn, record.uid), view.numbering)])
    out.pending = pending
    out.prefetched = prefetched
    try:
        await _fill(session, view, record, root, wanted, out)
    except StorageError as exc:
        if out.flushed:
            # Part of this FETCH response, maybe half a literal, is on the wire: no
            # response can follow it, so the connection ends (the client reconnects).
            session.log.warning("message %d vanished while streaming: %s", record.uid, exc)
            raise ConnectionClosed() from exc
        raise
    out.append(wire.END)
    pending.append(b"".join(out))


class _Out(list[bytes]):
    """The FETCH response being built; ``flushed`` once part of it was written;
    ``pending``: earlier responses that must go out before it."""

    flushed = False
    pending: _Out | None = None
    prefetched: dict[tuple[int, int, int], bytes | None] | None = None
    """Sections already read for this message's batch (see :func:`_write_batch`)."""


async def _fill(
    session: Session,
    view: SelectedView,
    record: MessageRecord,
    root: mime.Part | None,
    wanted: list[c.FetchItem],
    out: _Out,
) -> None:
    for index, item in enumerate(wanted):
        if index:
            out.append(wire.SEP)
        if isinstance(item, c.FetchBinary):
            await binary.write(session, view, record, root, item, out)
            continue
        if isinstance(item, c.FetchAttr) and item.name.startswith("PREVIEW"):
            out.append(b"PREVIEW " + await _preview(view, record, root, item.name != "PREVIEW"))
            continue
        if isinstance(item, c.FetchAttr) and item.name not in _RFC822_SECTIONS:
            out.append(_simple(view, record, root, item.name))
            continue
        if isinstance(item, c.FetchAttr):
            label, section = item.name.encode(), _RFC822_SECTIONS[item.name]
        else:
            label, section = _section_label(item), item
        out.append(label + b" ")
        await _write_section(session, view, record, root, section, out)


def _simple(
    view: SelectedView, record: MessageRecord, root: mime.Part | None, name: str
) -> bytes:
    if name == "FLAGS":
        return _flags_item(record.flags, record.uid in view.recent)
    if name == "UID":
        return b"UID %d" % record.uid
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + format_date_time(record.internaldate)
    if name == "SAVEDATE":  # RFC 8514 section 4.2
        return b"SAVEDATE " + (b"NIL" if record.savedate is None
                               else format_date_time(record.savedate))
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % record.size
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % record.modseq
    if name == "EMAILID":  # RFC 8474 section 5.3
        return b"EMAILID (%s)" % objectid.emailid(record.content).encode("ascii")
    if name == "THREADID":
        return b"THREADID NIL"
    assert root is not None
    if name == "ENVELOPE":
        return b"ENVELOPE " + encode_value(mime.envelope_value(root))
    if name == "BODY":
        return b"BODY " + encode_value(mime.bodystructure_value(root, extensible=False))
    return b"BODYSTRUCTURE " + encode_value(mime.bodystructure_value(root, extensible=True))


async def _preview(
    view: SelectedView, record: MessageRecord, root: mime.Part | None, lazy: bool
) -> bytes:
    """RFC 8970 section 3.2: the stored preview; one made now from the start of the
    chosen part for content stored before previews were (never NIL unless LAZY)."""
    if record.preview is not None:
        return encode_value(record.preview)
    if lazy:
        return b"NIL"
    assert root is not None
    part = preview.chosen(root)
    if part is None:
        return b'""'
    end = min(part.end, part.body_start + preview.READ_OCTETS)
    chunks = [c async for c in view.mailbox.read(record.content, part.body_start,
                                                  end - part.body_start)]
    source = preview.window(b"".join(chunks), part.body_start)
    return encode_value(await asyncio.to_thread(preview.from_part, source, part))


@lru_cache(maxsize=4096)
def _flags_item(flags: frozenset[str], recent: bool) -> bytes:
    """``FLAGS (...)``: a mailbox has few distinct flag sets, so each is encoded once."""
    return b"FLAGS " + encode_value(flag_atoms(flags, recent))


def _section_label(section: c.FetchSection) -> bytes:
    """RFC 3501 section 7.4.2: the partial range is reported by its origin only."""
    label = f"BODY[{section.section_spec()}]"
    if section.partial is not None:
        label += f"<{section.partial[0]}>"
    return label.encode()


def _clip(start: int, end: int, partial: tuple[int, int] | None) -> tuple[int, int]:
    if partial is None:
        return start, end
    offset, count = partial
    lo = min(start + offset, end)
    return lo, min(lo + count, end)


async def _read(
    view: SelectedView, record: MessageRecord, start: int, end: int, out: _Out
) -> bytes:
    if out.prefetched and (data := out.prefetched.get((record.content, start, end))) is not None:
        return data
    chunks = [chunk async for chunk in view.mailbox.read(record.content, start, end - start)]
    return b"".join(chunks)


async def _write_section(
    session: Session,
    view: SelectedView,
    record: MessageRecord,
    root: mime.Part | None,
    section: c.FetchSection,
    out: _Out,
) -> None:
    """Appends the section's literal to ``out``, or streams it when it is large."""
    span = _range(record, root, section)
    if span is None:
        # A section the message does not have: an empty string, as Dovecot sends; some
        # clients cannot take NIL where they asked for body text (RFC 3501 allows both).
        out.append(b'""')
        return
    start, end = span
    if section.text.startswith("HEADER.FIELDS"):
        header = await _read(view, record, start, end, out)
        data = mime.filter_header_fields(
            header, section.fields, exclude=section.text.endswith(".NOT")
        )
        if section.partial is not None:
            lo, hi = _clip(0, len(data), section.partial)
            data = data[lo:hi]
        out.append(wire.literal(data))
        return
    if end - start <= STREAM_OVER:
        data = await _read(view, record, start, end, out)
        out.append(wire.literal(data))
        return
    chunks = aiter(view.mailbox.read(record.content, start, end - start))
    first = await anext(chunks, b"")  # a vanished body fails here, before any output
    out.append(wire.literal_prefix(end - start))
    if out.pending:
        session.write(b"".join(out.pending))
        out.pending.clear()
    session.write(b"".join(out) + first)
    out.clear()
    out.flushed = True
    async for chunk in chunks:
        session.write(chunk)
        await session.io.drain()
