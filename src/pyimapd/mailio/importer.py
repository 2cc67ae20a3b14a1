"""``pyimapd import USER PATH``: mbox files and Maildir / Maildir++ trees into the store.

How this works: the source is read one message at a time (:mod:`.mbox` streams the file;
:mod:`.maildir` lists file names only), each message is spooled and parsed by
:class:`~pyimapd.delivery.Spool` and stored through :class:`~pyimapd.delivery.Delivery`,
the same path LMTP uses, with the flags and internal date the source records. Memory
stays bounded whatever the size of the source: one message is in flight at a time, and
large ones go through a temporary file.

A Dovecot Maildir (a folder with ``dovecot-uidlist``) keeps its UIDs (issue 20): each
such folder becomes a mailbox with Dovecot's UIDVALIDITY, next UID and (from
``doveadm``) HIGHESTMODSEQ, and each message is stored under its Dovecot UID, so that
clients switching servers keep their caches (:mod:`.dovecot`). This happens when
``keep_uids`` is True, or when it is None (the default) and the target mailbox is new
or empty; a re-run resumes: a mailbox that already has the UIDVALIDITY gets only the
UIDs it lacks. Dovecot's ``subscriptions`` file is applied too.

``skip_existing`` makes a re-run idempotent: before a mailbox is filled, the Message-IDs
already in it are collected from the stored MIME structures (no message bodies are read),
and a message whose Message-ID is among them, or was imported earlier in this run, is
skipped. Messages without a Message-ID cannot be matched and are always imported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pyimapd import mime
from pyimapd.delivery import Delivery, Spool, Target
from pyimapd.mailio import dovecot, maildir, mbox
from pyimapd.mailio.progress import Progress
from pyimapd.storage.interface import (
    AppendItem,
    Backend,
    MailboxExists,
    MailStore,
    NoSuchMailbox,
    NotAllowed,
    PreparedMessage,
    StorageError,
)

log = logging.getLogger("pyimapd.import")

FEED_CHUNK = 64 * 1024


@dataclass
class ImportStats:
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    per_mailbox: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the operator should know that is not an error (UIDs not kept, and why)."""


@dataclass
class _Source:
    """One message to store: its chunks are read lazily, once."""

    chunks: Iterator[bytes]
    flags: frozenset[str]
    internaldate: datetime | None


def _batched(lines: Iterator[bytes], head: bytes = b"") -> Iterator[bytes]:
    buf = bytearray(head)
    for line in lines:
        buf += line
        if len(buf) >= FEED_CHUNK:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fp:
        while chunk := fp.read(FEED_CHUNK):
            yield chunk


def message_id(prepared: PreparedMessage) -> str | None:
    envelope = mime.loads(prepared.structure).envelope
    value = envelope.message_id if envelope is not None else None
    return " ".join(value.split()) if value else None


async def existing_message_ids(store: MailStore, mailbox: str) -> set[str]:
    """Message-IDs in a mailbox, read from the stored structures, page by page."""
    selected, info = await store.select(mailbox, readonly=True)
    ids: set[str] = set()
    try:
        if info.uids:
            async for record in selected.fetch([(1, max(info.uids))], with_structure=True):
                if record.structure is None:
                    continue
                envelope = mime.loads(record.structure).envelope
                if envelope is not None and envelope.message_id:
                    ids.add(" ".join(envelope.message_id.split()))
    finally:
        await selected.close()
    return ids


class Importer:
    """Imports into one account. ``mailbox`` is where an mbox or a folder-less Maildir
    goes (default INBOX); a Maildir++ tree keeps its folder names."""

    def __init__(
        self,
        backend: Backend,
        user: str,
        skip_existing: bool = False,
        mailbox: str | None = None,
        tmp_dir: Path | None = None,
        progress: bool = True,
        keep_uids: bool | None = None,
        modseqs: dict[str, int] | None = None,
    ) -> None:
        self.backend = backend
        self.user = user
        self.skip_existing = skip_existing
        self.mailbox = mailbox
        self.tmp_dir = tmp_dir
        self.show_progress = progress
        self.keep_uids = keep_uids
        """True: keep Dovecot's UIDs or fail; None: where possible; False: never."""
        self.modseqs = modseqs or {}
        """HIGHESTMODSEQ per mailbox on the old server (dovecot.highest_modseqs)."""
        self.kept = False
        self.stats = ImportStats()
        self.delivery = Delivery(backend, keep_open=True)
        self._seen: set[str] = set()

    async def run(self, path: Path) -> ImportStats:
        store = await self.backend.open_owner(self.user)  # NoSuchUser for an unknown account
        try:
            if path.is_file():
                await self._mbox(store, path)
            elif path.is_dir():
                folders = maildir.discover(path)
                if not folders:
                    raise ValueError(f"{path} holds no Maildir (no cur/ and new/)")
                for name, folder in folders:
                    target = self.mailbox if (self.mailbox and name == "INBOX") else name
                    await self._maildir(store, target, folder)
                if self.kept:
                    await self._subscribe(store, path)
            else:
                raise ValueError(f"{path} is neither an mbox file nor a Maildir")
        finally:
            await self.delivery.close()
            await store.close()
        return self.stats

    async def _prepare_mailbox(self, store: MailStore, name: str) -> None:
        try:
            await store.create_mailbox(name)
        except MailboxExists:
            pass
        self.stats.per_mailbox.setdefault(name, 0)
        self._seen = await existing_message_ids(store, name) if self.skip_existing else set()

    async def _mbox(self, store: MailStore, path: Path) -> None:
        name = self.mailbox or "INBOX"
        await self._prepare_mailbox(store, name)
        total = path.stat().st_size
        progress = Progress(f"import {path.name}", total, True, enabled=self.show_progress)
        with open(path, "rb") as fp:
            messages = (
                _Source(_batched(m.body, m.header), m.flags, m.internaldate)
                for m in mbox.read_mbox(fp)
            )
            await self._store_all(name, _aiter(messages), progress, lambda: fp.tell())
        progress.close()

    async def _maildir(self, store: MailStore, name: str, folder: Path) -> None:
        uidlist = dovecot.read_uidlist(folder) if self.keep_uids is not False else None
        if uidlist is None and self.keep_uids:
            raise ValueError(f"{folder} has no dovecot-uidlist: its UIDs cannot be kept")
        if uidlist is not None and uidlist.problem is not None:
            if self.keep_uids:
                raise ValueError(f"{folder}: UIDs cannot be kept: {uidlist.problem}")
            self.stats.notes.append(f"{name}: new UIDs, because {uidlist.problem}")
            log.warning("%s: UIDs not kept (%s); importing with new UIDs", name, uidlist.problem)
            uidlist = None
        if uidlist is not None and await self._restore(store, name, folder, uidlist):
            return
        await self._prepare_mailbox(store, name)
        files = list(maildir.list_messages(folder))
        progress = Progress(f"import {name}", len(files), enabled=self.show_progress)
        sources = (_Source(_file_chunks(f.path), f.flags, f.internaldate) for f in files)
        await self._store_all(name, _aiter(sources), progress, None)
        progress.close()

    async def _restore(self, store: MailStore, name: str, folder: Path,
                       uidlist: dovecot.UidList) -> bool:
        """The folder with Dovecot's UIDs; False when the mailbox cannot take them (it
        has other messages) and ``keep_uids`` is None: the caller imports it anew."""
        files = list(maildir.list_messages(folder))
        listed = sorted(((uidlist.uids[b], f) for f in files
                         if (b := dovecot.base_name(f.path.name)) in uidlist.uids),
                        key=lambda pair: pair[0])
        unlisted = [f for f in files if dovecot.base_name(f.path.name) not in uidlist.uids]
        # Never below a UID Dovecot gave out, even to a message since expunged: a
        # client may have seen it (RFC 3501 section 2.3.1.1, UIDs are not reused).
        next_uid = max(uidlist.next_uid, max(uidlist.uids.values(), default=0) + 1)
        present: set[int] = set()
        try:
            status = await store.status(name)
        except NoSuchMailbox:
            status = None
        if status is not None and status.messages and status.uidvalidity == uidlist.uidvalidity:
            present = await _uids(store, name)  # a re-run: resume
        else:
            try:
                await store.restore_mailbox(name, uidlist.uidvalidity, next_uid,
                                            max(1, self.modseqs.get(name, 1)))
            except NotAllowed as exc:
                if self.keep_uids:
                    raise
                log.warning("%s: %s; importing it without keeping UIDs", name, exc.text)
                self.stats.notes.append(f"{name}: new UIDs, because {exc.text}")
                return False
        self.kept = True
        self.stats.per_mailbox.setdefault(name, 0)
        progress = Progress(f"import {name}", len(files), enabled=self.show_progress)
        highest = max(present, default=0)
        for uid, f in listed:
            if uid in present or uid <= highest:
                self.stats.skipped += 1
                progress.update(None, skipped=True)
                continue
            await self._append(store, name, f, uid)
            progress.update(None)
        if not present:  # on a re-run they were stored the first time, after the others
            for f in unlisted:
                await self._append(store, name, f, None)
                progress.update(None)
        progress.close()
        return True

    async def _append(self, store: MailStore, name: str, f: maildir.MaildirFile,
                      uid: int | None) -> None:
        spool = Spool(self.tmp_dir)
        try:
            for chunk in _file_chunks(f.path):
                spool.feed(chunk)
            prepared = await spool.finish()
            await store.append_many(name, [AppendItem(prepared, f.flags, f.internaldate, uid)])
        except StorageError as exc:
            self.stats.failed += 1
            self.stats.errors.append(f"{name}: UID {uid}: {exc.text}")
            log.warning("could not import %s into %s: %s", f.path, name, exc.text)
            return
        finally:
            spool.close()
        self.stats.imported += 1
        self.stats.per_mailbox[name] += 1

    async def _subscribe(self, store: MailStore, root: Path) -> None:
        for name in dovecot.read_subscriptions(root):
            try:
                await store.set_subscribed(name, True)
            except StorageError as exc:
                log.warning("subscription %r not kept: %s", name, exc.text)

    async def _store_all(
        self, name: str, sources: AsyncIterator[_Source], progress: Progress, position: object
    ) -> None:
        async for source in sources:
            skipped = await self._store_one(name, source)
            done = position() if callable(position) else None
            progress.update(done, skipped=skipped)

    async def _store_one(self, name: str, source: _Source) -> bool:
        """Stores one message; True when it was skipped as already present."""
        spool = Spool(self.tmp_dir)
        try:
            for chunk in source.chunks:
                spool.feed(chunk)
            prepared = await spool.finish()
            mid = message_id(prepared) if self.skip_existing else None
            if mid is not None and mid in self._seen:
                self.stats.skipped += 1
                return True
            target = Target(self.user, self.user, name)
            result = (await self.delivery.deliver(
                prepared, [target], source.flags, source.internaldate or prepared.sent_date
            ))[0]
        finally:
            spool.close()
        if not result.ok:
            self.stats.failed += 1
            self.stats.errors.append(f"{name}: {result.code} {result.status} {result.text}")
            log.warning("could not import a message into %s: %s", name, result.text)
            return False
        if mid is not None:
            self._seen.add(mid)
        self.stats.imported += 1
        self.stats.per_mailbox[name] += 1
        return False


async def _uids(store: MailStore, name: str) -> set[int]:
    selected, result = await store.select(name, readonly=True)
    await selected.close()
    return set(result.uids)


async def _aiter(items: Iterator[_Source]) -> AsyncIterator[_Source]:
    for item in items:
        yield item
