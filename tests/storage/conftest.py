"""Fixtures for the storage contract suite: every test runs against every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pgutil import fresh_dsn
from pyimapd.storage.interface import Backend, MailStore
from pyimapd.storage.memory import MemoryBackend
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.sqlite import SqliteBackend

BACKENDS = ["memory", "sqlite", "postgres"]

def make_backend(kind: str, path: Path) -> Backend:
    if kind == "memory":
        return MemoryBackend()
    if kind == "postgres":
        return PostgresBackend(fresh_dsn())  # an empty schema of the test cluster
    return SqliteBackend(path / "data")


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = make_backend(request.param, tmp_path)
    if isinstance(b, PostgresBackend):
        await b.migrate()
    await b.start()
    # A bare account (no special-use mailboxes) keeps hierarchy assertions short.
    await b.users.add_user("alice", "hash-a", default_mailboxes=False)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
async def store(backend: Backend) -> MailStore:
    return await backend.open("alice")
