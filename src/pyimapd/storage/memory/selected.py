"""The selected state of the in-memory backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from pyimapd.search.ast import SearchKey
from pyimapd.search.evaluate import SearchableMessage, matches, relevancy
from pyimapd.storage.interface import (
    AppendItem,
    AppendResult,
    Changes,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MessageRecord,
    NoSuchMailbox,
    NotAllowed,
    StorageError,
)
from pyimapd.storage.memory.state import (
    _add_message,
    _Mailbox,
    _Message,
    _note_keywords,
)
from pyimapd.storage.values import (
    CHUNK_SIZE,
    apply_store,
    merge_ranges,
    normalize_flags,
)

if TYPE_CHECKING:
    from pyimapd.storage.memory.backend import MemoryMailStore


class MemorySelected:
    """The selected state (the :class:`SelectedMailbox` Protocol)."""

    def __init__(self, store: MemoryMailStore, mailbox: _Mailbox, readonly: bool) -> None:
        self._store = store
        self._state = store._state
        self._mailbox = mailbox
        self._uidvalidity = mailbox.uidvalidity
        self.readonly = readonly
        self.name = mailbox.name

    def _live(self) -> _Mailbox:
        """The mailbox, unless it was deleted or re-created since SELECT."""
        mailbox = self._mailbox
        account = self._state.accounts.get(self._store.user)
        if (
            account is None
            or account.mailboxes.get(mailbox.name) is not mailbox
            or mailbox.noselect
            or mailbox.uidvalidity != self._uidvalidity
        ):
            raise NoSuchMailbox(f"Mailbox {mailbox.name} was deleted")
        self.name = mailbox.name  # follows a RENAME
        return mailbox

    def _writable(self) -> _Mailbox:
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")
        return self._live()

    def _notify(self) -> None:
        self._store._changes.notify(self._store.user, self._mailbox.name)

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        mailbox = self._live()
        new, flags = [], []
        for msg in mailbox.messages.values():
            update = FlagUpdate(msg.uid, msg.flags, msg.modseq)
            if msg.uid > known_max_uid:
                new.append(update)
            elif msg.modseq > since_modseq:
                flags.append(update)
        expunged = sorted(
            uid for uid, modseq in mailbox.expunged.items()
            if uid <= known_max_uid and modseq > since_modseq
        )
        recent = frozenset(u.uid for u in new if u.uid > mailbox.recent_floor)
        if claim_recent and not self.readonly and new:
            mailbox.recent_floor = max(mailbox.recent_floor, new[-1].uid)
        return Changes(
            highestmodseq=mailbox.highestmodseq, new=tuple(new), flags=tuple(flags),
            expunged=tuple(expunged), recent=recent,
            keywords=frozenset(mailbox.keywords.values()), uidnext=mailbox.uidnext,
        )

    async def fetch(
        self, uids: Sequence[tuple[int, int]], with_structure: bool
    ) -> AsyncIterator[MessageRecord]:
        mailbox = self._mailbox
        for lo, hi in merge_ranges(uids):
            wanted = [uid for uid in mailbox.messages if lo <= uid <= hi]
            for uid in wanted:
                msg = mailbox.messages.get(uid)
                if msg is None:
                    continue
                structure = self._state.contents[msg.content].structure
                yield MessageRecord(
                    uid=msg.uid, flags=msg.flags, internaldate=msg.internaldate,
                    size=msg.size, modseq=msg.modseq, content=msg.content,
                    structure=structure if with_structure else None,
                    savedate=msg.savedate,
                    preview=self._state.contents[msg.content].preview if with_structure
                    else None,
                )

    async def fetch_flags(
        self, uids: Sequence[tuple[int, int]]
    ) -> AsyncIterator[Sequence[FlagRow]]:
        # One page: everything is in memory here anyway.
        page = [(r.uid, r.flags, r.modseq) async for r in self.fetch(uids, False)]
        if page:
            yield page

    async def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        stored = self._state.contents.get(content)
        if stored is None:
            raise StorageError("Message no longer exists")
        data = stored.data
        end = min(len(data), start + max(length, 0))
        for pos in range(max(start, 0), end, CHUNK_SIZE):
            yield data[pos:min(pos + CHUNK_SIZE, end)]

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        found = [(self._state.contents.get(c), s, e) for c, s, e in ranges]
        return [None if got is None else got.data[max(s, 0):max(e, 0)] for got, s, e in found]

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        """All messages changed by one STORE share one new MODSEQ (RFC 7162 section 3.1
        allows it, and it is what the SQL backends do)."""
        mailbox = self._writable()
        flags = normalize_flags(flags)
        changed: list[tuple[_Message, frozenset[str]]] = []
        for uid in sorted(set(uids)):
            msg = mailbox.messages.get(uid)
            if msg is not None:
                after = apply_store(msg.flags, mode, flags)
                if after is not msg.flags:
                    changed.append((msg, after))
        if not changed:
            return []
        mailbox.highestmodseq += 1
        for msg, after in changed:
            msg.flags, msg.modseq = after, mailbox.highestmodseq
            _note_keywords(mailbox, after)
        self._notify()
        return [FlagUpdate(m.uid, m.flags, m.modseq) for m, _ in changed]

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        """No await between the test and the store, so the pair is atomic."""
        mailbox = self._writable()
        wanted = sorted(set(uids))
        modified = [u for u in wanted if u in mailbox.messages
                    and mailbox.messages[u].modseq > unchangedsince]
        failed = set(modified)
        passed = [u for u in wanted if u not in failed]
        return await self.store(passed, mode, flags), modified

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        mailbox = self._live()
        ranges = merge_ranges(uids)
        return sorted(
            uid for uid, modseq in mailbox.expunged.items()
            if modseq > since_modseq and any(lo <= uid <= hi for lo, hi in ranges)
        )

    async def copy(self, uids: Sequence[int], dest: str, moving: bool = False) -> CopyResult:
        """``moving``: the copies replace the originals, so the usage does not grow."""
        source = self._live()
        target = self._store._selectable(dest, NoSuchMailbox)
        msgs = [source.messages[u] for u in sorted(set(uids)) if u in source.messages]
        if not msgs:
            return CopyResult(target.uidvalidity, (), ())
        if not moving:
            self._store._account.check_addition(sum(m.size for m in msgs), len(msgs))
        target.highestmodseq += 1
        new_uids = [
            _add_message(
                self._state, target, m.content, m.flags, m.internaldate, m.sent_date,
                target.highestmodseq,
            )
            for m in msgs
        ]
        self._store._changes.notify(self._store.user, target.name)
        return CopyResult(target.uidvalidity, tuple(m.uid for m in msgs), tuple(new_uids))

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        """Copy and removal happen between two awaits, so atomically."""
        source = self._writable()
        copied = await self.copy(uids, dest, moving=True)
        if not copied.source_uids:
            return copied
        source.highestmodseq += 1
        for uid in copied.source_uids:
            msg = source.messages.pop(uid)
            source.expunged[uid] = source.highestmodseq
            self._state.release(msg.content)
        self._notify()
        return CopyResult(copied.uidvalidity, copied.source_uids, copied.dest_uids,
                          source.highestmodseq)

    async def replace(self, uid: int, dest: str, item: AppendItem) -> tuple[AppendResult, bool]:
        """append_many never awaits, so the append and the removal are one step."""
        source = self._writable()
        result = (await self._store.append_many(dest, [item]))[0]
        msg = source.messages.pop(uid, None)
        if msg is None:
            return result, False
        source.highestmodseq += 1
        source.expunged[uid] = source.highestmodseq
        self._state.release(msg.content)
        self._notify()
        return result, True

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        mailbox = self._writable()
        candidates = mailbox.messages.keys() if uids is None else set(uids)
        gone = sorted(
            uid for uid in candidates
            if uid in mailbox.messages and "\\Deleted" in mailbox.messages[uid].flags
        )
        if not gone:
            return []
        mailbox.highestmodseq += 1
        for uid in gone:
            msg = mailbox.messages.pop(uid)
            mailbox.expunged[uid] = mailbox.highestmodseq
            self._state.release(msg.content)
        self._notify()
        return gone

    async def search(self, key: SearchKey) -> list[int]:
        return [uid for uid, _ in self._matching(key, scored=False)]

    async def search_scored(self, key: SearchKey) -> list[tuple[int, int]]:
        return self._matching(key, scored=True)

    def _matching(self, key: SearchKey, scored: bool) -> list[tuple[int, int]]:
        mailbox = self._live()
        result = []
        for msg in mailbox.messages.values():
            content = self._state.contents[msg.content]
            searchable = SearchableMessage(
                uid=msg.uid, flags=msg.flags, size=msg.size, internaldate=msg.internaldate,
                sent_date=msg.sent_date, headers=content.headers, text=content.text,
                modseq=msg.modseq, content=msg.content, savedate=msg.savedate,
            )
            if matches(key, searchable):
                result.append((msg.uid, relevancy(key, searchable) if scored else 100))
        return result

    async def close(self) -> None:
        pass

