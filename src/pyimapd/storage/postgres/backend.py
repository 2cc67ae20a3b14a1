"""The PostgreSQL backend: the SQL core (storage/sql) on asyncpg, for several nodes.

How this works: :class:`~.db.Database` is the engine: a bounded pool shared by every
session of the node, driving the core's routines with awaits. Writes notify other nodes
with NOTIFY from inside their transaction and wake this node's sessions after COMMIT
(see :mod:`.db`); :class:`~.listener.ChangeListener` brings other nodes' notifications
in. What only this backend has: the DSN's ``pool_size``, schema migrations run on
demand (``pyimapd db migrate``) and LISTEN.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import ChangeFeed
from pyimapd.storage.postgres import schema, textindex
from pyimapd.storage.postgres.db import Database
from pyimapd.storage.postgres.listener import ChangeListener
from pyimapd.storage.sql.backend import SqlBackend

DEFAULT_POOL_SIZE = 10


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://"))


def split_dsn(url: str) -> tuple[str, int | None]:
    """Takes pyimapd's own ``pool_size=N`` out of the URL's query (asyncpg would pass
    it to the server as a setting) and returns ``(dsn, pool size or None)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    sizes = [v for k, v in query if k == "pool_size"]
    rest = urlencode([(k, v) for k, v in query if k != "pool_size"])
    if not sizes:
        return url, None
    try:
        size = int(sizes[-1])
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"pool_size must be a positive integer, not {sizes[-1]!r}")
    return urlunsplit(parts._replace(query=rest)), size


class PostgresBackend(SqlBackend):
    """The :class:`Backend` Protocol on a PostgreSQL database.

    ``dsn`` is a ``postgresql://`` URL (libpq syntax, as asyncpg reads it: several hosts
    and ``target_session_attrs=read-write`` are allowed). ``pool_size`` (or
    ``?pool_size=N`` in the URL; default 10) bounds this node's connections, plus one
    for LISTEN. :meth:`start` refuses an out-of-date
    schema; :meth:`migrate` (``pyimapd db migrate``) brings it up to date.
    """

    def __init__(
        self, dsn: str, changes: ChangeFeed | None = None,
        pool_size: int | None = None, listen: bool = True,
    ) -> None:
        dsn, from_url = split_dsn(dsn)
        pool_size = pool_size or from_url or DEFAULT_POOL_SIZE
        self.node = uuid.uuid4().hex
        self.changes: ChangeFeed = changes if changes is not None else LocalChangeFeed()
        self.db = Database(dsn, self.changes, self.node, pool_size)
        self.listener = ChangeListener(dsn, self.changes, self.node) if listen else None
        super().__init__(self.db)

    async def start(self) -> None:
        await self.db.start()
        try:
            conn = await self.db.connection()
            try:
                await schema.check(conn)
            finally:
                await self.db.release(conn)
            if self.listener is not None:
                await self.listener.start()
        except BaseException:
            await self.db.close()
            raise

    async def migrate(self) -> tuple[int, int]:
        """Applies pending migrations (the backend need not be started); returns
        ``(version before, version after)``."""
        started = self.db._pool is not None
        if not started:
            await self.db.start()
        try:
            conn = await self.db.connection()
            try:
                return await schema.migrate(conn)
            finally:
                await self.db.release(conn)
        finally:
            if not started:
                await self.db.close()

    async def rebuild_text_index(
        self, user: str | None = None, reset: bool = False,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> int:
        """Builds the missing or invalid pg_trgm indexes concurrently (``reset``: also
        rebuilds the valid ones); ``user`` changes nothing, an index covers every
        account. The :class:`TextIndexed` Protocol."""
        conn = await self.db.connection()
        try:
            return await textindex.rebuild(conn, reset, progress)
        finally:
            await self.db.release(conn)

    async def check(self) -> list[str]:
        """The invariant checks of :mod:`.check`, in words, from one snapshot
        (``pyimapd doctor``; the :class:`CheckableBackend` Protocol); empty when healthy."""
        from pyimapd.storage.postgres.check import check

        return await self.db.read(check)

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        await self.db.close()
