"""The embedded SQLite backend: the SQL core (storage/sql) on ``DATA_DIR/pyimapd.sqlite3``.

How this works: :class:`~.db.Database` is the engine. It drives the core's routines in
worker threads inside one transaction each (writes on the single writer connection,
reads on pooled readers) and on the event loop's own thread for reads known to be small;
after a write has committed (and so is durable) it notifies the change feed, whose
transport reaches the other worker processes sharing the file. What only this backend
has: the per-process flag copies of large mailboxes (storage/sql/flagindex.py) and the
integrity checks of ``pyimapd doctor`` (:mod:`.check`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import ChangeFeed
from pyimapd.storage.sql.backend import SqlBackend
from pyimapd.storage.sql.flagindex import FlagIndex
from pyimapd.storage.sqlite import textindex
from pyimapd.storage.sqlite.db import Database


class SqliteBackend(SqlBackend):
    """The :class:`Backend` Protocol on SQLite. ``changes`` defaults to a
    :class:`LocalChangeFeed`; worker processes sharing the file pass one whose transport
    reaches the others. ``readers`` sizes the reader pool."""

    def __init__(
        self, data_dir: Path, changes: ChangeFeed | None = None, readers: int = 4
    ) -> None:
        self.db = Database(Path(data_dir), readers,
                           changes if changes is not None else LocalChangeFeed())
        self.flag_index = FlagIndex(self.db)
        super().__init__(self.db, self.flag_index)

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def rebuild_text_index(
        self, user: str | None = None, reset: bool = False,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> int:
        """Indexes the pending contents (of ``user``'s messages) in short write
        transactions, so APPEND goes on meanwhile; with ``reset`` every content is made
        pending first (a damaged or stale index). The :class:`TextIndexed` Protocol."""
        if reset:
            if user is not None:
                raise ValueError("a reset empties the whole index: give no user")
            total = await self.db.write(textindex.reset)
        else:
            total = await self.db.read(textindex.pending_count, user)
        done = 0
        progress(done, total)
        while batch := await self.db.write(textindex.index_batch, user):
            done += batch
            progress(done, total)
        return done

    async def check(self) -> list[str]:
        """Problems found by ``PRAGMA integrity_check`` and the invariant checks of
        :mod:`.check`, in words (``pyimapd doctor``); empty when healthy."""
        from pyimapd.storage.sqlite.check import check

        return await self.db.read(check)
