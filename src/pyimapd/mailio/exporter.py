"""``pyimapd export USER DIR``: an account's mailboxes as a Maildir++ tree.

How this works: each selectable mailbox is opened read-only (so no ``\\Recent`` is
claimed), its messages are fetched page by page and each body is streamed in 64 KiB
chunks into ``tmp/``, fsynced, given the message's internal date as mtime and renamed into
``cur/`` with its flags in the ``:2,`` info (see :mod:`.maildir`). Stored messages have
CRLF line endings (IMAP's); Maildir files conventionally have LF, so CRLF becomes LF
unless ``crlf`` is set. Keywords go to each folder's ``dovecot-keywords`` file (at most
26 per folder, Dovecot's limit; others are reported and dropped).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyimapd.mailio import maildir
from pyimapd.mailio.progress import Progress
from pyimapd.storage.interface import Backend, MessageRecord, SelectedMailbox

log = logging.getLogger("pyimapd.export")


@dataclass
class ExportStats:
    exported: int = 0
    per_mailbox: dict[str, int] = field(default_factory=dict)
    dropped_keywords: set[str] = field(default_factory=set)


class _LineEndings:
    """CRLF -> LF across chunk boundaries."""

    def __init__(self) -> None:
        self.cr = False

    def feed(self, chunk: bytes) -> bytes:
        if self.cr:
            chunk = b"\r" + chunk
        self.cr = chunk.endswith(b"\r")
        if self.cr:
            chunk = chunk[:-1]
        return chunk.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        out, self.cr = (b"\r" if self.cr else b""), False
        return out


def _keyword_table(keywords: frozenset[str], stats: ExportStats) -> dict[str, int]:
    system = {f.lower() for f in maildir.INFO_FLAGS.values()}
    words = sorted(k for k in keywords if k.lower() not in system and not k.startswith("\\"))
    stats.dropped_keywords.update(words[maildir.MAX_KEYWORDS:])
    return {word: i for i, word in enumerate(words[: maildir.MAX_KEYWORDS])}


class Exporter:
    def __init__(
        self, backend: Backend, user: str, root: Path, crlf: bool = False,
        mailboxes: list[str] | None = None, progress: bool = True,
    ) -> None:
        self.backend = backend
        self.user = user
        self.writer = maildir.MaildirWriter(root)
        self.crlf = crlf
        self.only = mailboxes
        self.show_progress = progress
        self.stats = ExportStats()

    async def run(self) -> ExportStats:
        store = await self.backend.open_owner(self.user)
        try:
            boxes = [m.name for m in await store.list_mailboxes() if not m.noselect]
            if self.only is not None:
                missing = set(self.only) - set(boxes)
                if missing:
                    raise ValueError(f"no such mailbox: {', '.join(sorted(missing))}")
                boxes = [b for b in boxes if b in self.only]
            self.writer.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in sorted(boxes, key=lambda n: (n != "INBOX", n)):
                selected, info = await store.select(name, readonly=True)
                try:
                    await self._mailbox(name, selected, info.uids, info.keywords)
                finally:
                    await selected.close()
        finally:
            await store.close()
        if self.stats.dropped_keywords:
            log.warning("keywords beyond 26 per folder not exported: %s",
                        ", ".join(sorted(self.stats.dropped_keywords)))
        return self.stats

    async def _mailbox(
        self, name: str, selected: SelectedMailbox, uids: Sequence[int],
        keywords: frozenset[str],
    ) -> None:
        folder = self.writer.create(name)
        table = _keyword_table(keywords, self.stats)
        if table:
            maildir.write_keywords(folder, table)
        self.stats.per_mailbox[name] = 0
        uid_list = list(uids)
        progress = Progress(f"export {name}", len(uid_list), enabled=self.show_progress)
        if uid_list:
            async for record in selected.fetch([(1, max(uid_list))], with_structure=False):
                await self._message(folder, selected, record, table)
                self.stats.per_mailbox[name] += 1
                self.stats.exported += 1
                progress.update()
        progress.close()

    async def _message(
        self, folder: Path, selected: SelectedMailbox, record: MessageRecord,
        table: dict[str, int],
    ) -> None:
        tmp, unique = self.writer.tmp_file(folder, record.uid)
        endings = _LineEndings()
        size = 0
        with open(tmp, "wb") as fp:
            async for chunk in selected.read(record.content, 0, record.size):
                data = chunk if self.crlf else endings.feed(chunk)
                fp.write(data)
                size += len(data)
            tail = b"" if self.crlf else endings.flush()
            fp.write(tail)
            size += len(tail)
            fp.flush()
            os.fsync(fp.fileno())
        info = maildir.info_letters(record.flags, table)
        self.writer.commit(folder, tmp, unique, size, record.size, info, record.internaldate)
