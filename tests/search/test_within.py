"""WITHIN (RFC 5032): OLDER/YOUNGER reach storage as InternalTime, a comparison of the
internal date with a fixed moment, inclusive and to the second, the same in the
evaluator and in every backend's SQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pgutil import fresh_dsn
from pyimapd.search.ast import InternalTime, Not, Or, SearchKey
from pyimapd.search.evaluate import SearchableMessage, matches
from pyimapd.search.sql import compile_search
from pyimapd.storage.interface import Backend, PreparedMessage
from pyimapd.storage.memory import MemoryBackend
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.sqlite import SqliteBackend

BASE = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
T = int(BASE.timestamp())

MESSAGES = [
    SearchableMessage(uid=1, flags=frozenset(), size=10, internaldate=BASE - timedelta(seconds=1)),
    # The same instant in another zone: compared as an instant, not as local time.
    SearchableMessage(uid=2, flags=frozenset(), size=10,
                      internaldate=BASE.astimezone(timezone(timedelta(hours=-7)))),
    SearchableMessage(uid=3, flags=frozenset(), size=10, internaldate=BASE + timedelta(seconds=1)),
    SearchableMessage(uid=4, flags=frozenset(), size=10, internaldate=BASE - timedelta(days=400)),
]

CASES: list[tuple[str, SearchKey, list[int]]] = [
    ("older is at or before", InternalTime(True, T), [1, 2, 4]),
    ("younger is at or after", InternalTime(False, T), [2, 3]),
    ("older than all", InternalTime(True, T - 400 * 86400 - 1), []),
    ("younger than none", InternalTime(False, T + 2), []),
    ("not younger", Not(InternalTime(False, T)), [1, 4]),
    ("window", Or(InternalTime(True, T - 86400), InternalTime(False, T + 1)), [3, 4]),
]


async def backend_results(backend: Backend) -> dict[str, list[int]]:
    await backend.start()
    try:
        await backend.users.add_user("u", "h")
        store = await backend.open("u")
        for m in MESSAGES:
            prepared = PreparedMessage(io.BytesIO(b"x" * m.size), m.size, b"{}")
            assert (await store.append("INBOX", prepared, m.flags, m.internaldate)).uid == m.uid
        sel, _ = await store.select("INBOX", True)
        return {name: await sel.search(key) for name, key, _ in CASES}
    finally:
        await backend.close()


@pytest.mark.parametrize("kind", ["evaluator", "memory", "sqlite", "postgres"])
async def test_internal_time(kind: str, tmp_path: Path) -> None:
    if kind == "evaluator":
        got = {name: [m.uid for m in MESSAGES if matches(key, m)] for name, key, _ in CASES}
    elif kind == "memory":
        got = await backend_results(MemoryBackend())
    elif kind == "postgres":
        pg = PostgresBackend(fresh_dsn())
        await pg.migrate()
        got = await backend_results(pg)
    else:
        got = await backend_results(SqliteBackend(tmp_path / "data"))
    assert {name: got[name] for name, _, _ in CASES} == {name: want for name, _, want in CASES}


def test_within_is_bound_by_the_session_first() -> None:
    from pyimapd.search.ast import Within

    with pytest.raises(ValueError):
        compile_search(Within(True, 10))
    with pytest.raises(ValueError):
        matches(Within(False, 10), MESSAGES[0])
