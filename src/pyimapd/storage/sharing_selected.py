"""The selected state of a mailbox reached through :class:`~pyimapd.storage.sharing.
SharingStore`: the owner's :class:`SelectedMailbox` with the rights RFC 4314 section 4
asks for each command.

How this works: the rights are those the caller had at SELECT (section 5.1.1 allows
caching them until the mailbox is selected again). Reading needs nothing more (``r``
was needed to select). Flags are split into three classes, ``\\Seen`` (``s``),
``\\Deleted`` (``t``) and all the others (``w``); STORE, APPEND and COPY silently leave
out the flags of a class the caller may not change, as section 4 says, and a STORE
that replaces the flags keeps those classes as they are on each message. A COPY or MOVE
into another owner's account, or into a mailbox where not every flag may be set, is
carried out by reading each message and appending it there (through that owner's store,
so it counts against that owner's quota and wakes that owner's sessions); the rest goes
straight to the owner's store, which shares the stored content.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pyimapd.search.ast import SearchKey
from pyimapd.storage.interface import (
    AppendItem,
    AppendResult,
    Changes,
    CopyResult,
    FlagRow,
    FlagUpdate,
    MessageRecord,
    NoPermission,
    NotAllowed,
    SelectedMailbox,
)
from pyimapd.storage.values import merge_ranges, normalize_flags

if TYPE_CHECKING:
    from pyimapd.storage.sharing import Place, SharingStore

FLAG_RIGHTS = "swt"


def flag_right(flag: str) -> str:
    """The right that governs ``flag`` (canonical spelling)."""
    return {"\\Seen": "s", "\\Deleted": "t"}.get(flag, "w")


def allowed_flags(flags: frozenset[str], rights: str) -> frozenset[str]:
    """The flags of ``flags`` the holder of ``rights`` may set."""
    normal = normalize_flags(flags)
    if all(x in rights for x in FLAG_RIGHTS):
        return normal
    return frozenset(f for f in normal if flag_right(f) in rights)


def _ranges(uids: Sequence[int]) -> list[tuple[int, int]]:
    return merge_ranges([(u, u) for u in uids])


class SharedSelected:
    """The :class:`SelectedMailbox` Protocol with the caller's rights."""

    def __init__(self, store: SharingStore, place: Place, inner: SelectedMailbox) -> None:
        self._store = store
        self.place = place
        self.rights = place.rights
        self._inner = inner

    @property
    def name(self) -> str:
        return self.place.outside(self._inner.name)

    @property
    def readonly(self) -> bool:
        return self._inner.readonly

    def _need(self, letters: str) -> None:
        missing = [x for x in letters if x not in self.rights]
        if missing:
            raise NoPermission(f"The {missing[0]} right on {self.name} is needed")

    # --- reading: r was needed to select ----------------------------------------------

    async def poll(self, since_modseq: int, known_max_uid: int, claim_recent: bool) -> Changes:
        return await self._inner.poll(since_modseq, known_max_uid, claim_recent)

    def fetch(
        self, uids: Sequence[tuple[int, int]], with_structure: bool
    ) -> AsyncIterator[MessageRecord]:
        return self._inner.fetch(uids, with_structure)

    def fetch_flags(self, uids: Sequence[tuple[int, int]]) -> AsyncIterator[Sequence[FlagRow]]:
        return self._inner.fetch_flags(uids)

    def read(self, content: int, start: int, length: int) -> AsyncIterator[bytes]:
        return self._inner.read(content, start, length)

    async def read_many(self, ranges: Sequence[tuple[int, int, int]]) -> list[bytes | None]:
        return await self._inner.read_many(ranges)

    async def vanished(self, since_modseq: int, uids: Sequence[tuple[int, int]]) -> list[int]:
        return await self._inner.vanished(since_modseq, uids)

    async def search(self, key: SearchKey) -> list[int]:
        return await self._inner.search(key)

    async def search_scored(self, key: SearchKey) -> list[tuple[int, int]]:
        return await self._inner.search_scored(key)

    # --- flags ------------------------------------------------------------------------

    def _full_flag_rights(self) -> bool:
        return all(x in self.rights for x in FLAG_RIGHTS)

    async def _replacements(
        self, uids: Sequence[int], flags: frozenset[str]
    ) -> dict[frozenset[str], list[int]]:
        """STORE FLAGS with some classes forbidden: each message's new flags are its
        forbidden-class flags as they are plus the allowed ones asked for; grouped by
        result so each group is one store."""
        wanted = allowed_flags(flags, self.rights)
        groups: dict[frozenset[str], list[int]] = {}
        async for page in self._inner.fetch_flags(_ranges(uids)):
            for uid, old, _ in page:
                kept = frozenset(f for f in old if flag_right(f) not in self.rights)
                groups.setdefault(kept | wanted, []).append(uid)
        return groups

    async def store(
        self, uids: Sequence[int], mode: str, flags: frozenset[str]
    ) -> list[FlagUpdate]:
        if self._full_flag_rights():
            return await self._inner.store(uids, mode, flags)
        if mode:
            kept = allowed_flags(flags, self.rights)
            return await self._inner.store(uids, mode, kept) if kept else []
        updates: list[FlagUpdate] = []
        for new, group in (await self._replacements(uids, flags)).items():
            updates += await self._inner.store(group, "", new)
        return sorted(updates, key=lambda u: u.uid)

    async def store_unchanged_since(
        self, uids: Sequence[int], mode: str, flags: frozenset[str], unchangedsince: int
    ) -> tuple[list[FlagUpdate], list[int]]:
        if self._full_flag_rights():
            return await self._inner.store_unchanged_since(uids, mode, flags, unchangedsince)
        groups = ({allowed_flags(flags, self.rights): list(uids)} if mode
                  else await self._replacements(uids, flags))
        updates: list[FlagUpdate] = []
        failed: list[int] = []
        for new, group in groups.items():
            done, refused = await self._inner.store_unchanged_since(
                group, mode, new, unchangedsince)
            updates += done
            failed += refused
        return sorted(updates, key=lambda u: u.uid), sorted(failed)

    # --- copying and removing ---------------------------------------------------------

    async def _transfer(self, uids: Sequence[int], target: Place) -> CopyResult:
        """COPY by reading each message and appending it into the target's account,
        with the flags the caller may set there (section 4)."""
        from pyimapd.delivery import Spool  # the one way a message is prepared for storing

        spools: list[Spool] = []
        items: list[AppendItem] = []
        sources: list[int] = []
        try:
            async for record in self._inner.fetch(_ranges(uids), with_structure=False):
                spool = Spool()
                spools.append(spool)
                async for chunk in self._inner.read(record.content, 0, record.size):
                    spool.feed(chunk)
                prepared = await spool.finish()
                flags = allowed_flags(record.flags, target.rights)
                items.append(AppendItem(prepared, flags, record.internaldate))
                sources.append(record.uid)
            dest = await self._store.owner_store(target.owner)
            results = await dest.append_many(target.mailbox, items)
        finally:
            for spool in spools:
                spool.close()
        validity = results[0].uidvalidity if results else 0
        return CopyResult(validity, tuple(sources), tuple(x.uid for x in results))

    def _direct(self, target: Place) -> bool:
        return target.owner == self.place.owner and all(x in target.rights for x in FLAG_RIGHTS)

    async def copy(self, uids: Sequence[int], dest: str) -> CopyResult:
        """Section 4: ``i`` on the target."""
        target = await self._store.need(dest, "i")
        if self._direct(target):
            return await self._inner.copy(uids, target.mailbox)
        return await self._transfer(uids, target)

    async def move(self, uids: Sequence[int], dest: str) -> CopyResult:
        """RFC 6851 section 3.3 with RFC 4314: ``i`` on the target, and ``t`` and ``e``
        here, since the originals are flagged \\Deleted and expunged."""
        self._need("te")
        target = await self._store.need(dest, "i")
        if self._direct(target):
            return await self._inner.move(uids, target.mailbox)
        if self.readonly:
            raise NotAllowed("Mailbox is read-only")
        result = await self._transfer(uids, target)
        if result.source_uids:
            await self._inner.store(result.source_uids, "+", frozenset({"\\Deleted"}))
            await self._inner.expunge(result.source_uids)
        return result

    async def replace(self, uid: int, dest: str, item: AppendItem) -> tuple[AppendResult, bool]:
        """RFC 8508: ``i`` on the target and ``t e`` here; within one account only."""
        self._need("te")
        target = await self._store.need(dest, "i")
        if target.owner != self.place.owner:
            raise NotAllowed("REPLACE cannot put the message into another account")
        kept = replace(item, flags=allowed_flags(item.flags, target.rights))
        return await self._inner.replace(uid, target.mailbox, kept)

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """Section 4: ``e``."""
        self._need("e")
        return await self._inner.expunge(uids)

    async def close(self) -> None:
        await self._inner.close()
