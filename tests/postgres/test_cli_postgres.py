"""The command line against PostgreSQL: ``--store postgresql://...``, ``pyimapd db
migrate``, the refusal to serve an out-of-date schema, and ``pyimapd migrate-store``
from SQLite to PostgreSQL and back."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pgutil import fresh_dsn
from pyimapd.storage.interface import Backend, PreparedMessage
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.sqlite import SqliteBackend
from serverutil import ServerError, free_port, pyimapd_cmd, python_env, run_cli

MESSAGES = [
    (b"Subject: one\r\n\r\nfirst\r\n", frozenset({"\\Seen", "Work"}),
     datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))),
    (b"Subject: two\r\n\r\n" + b"y" * 300_000 + b"\r\n", frozenset({"\\Flagged"}),
     datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)),
]


def test_serve_refuses_an_unmigrated_schema_and_names_the_command(tmp_path: Path) -> None:
    url = fresh_dsn()
    proc = subprocess.run(
        pyimapd_cmd("serve", "--store", url, "--data-dir", str(tmp_path / "d"),
                    "--listen", f"127.0.0.1:{free_port()}"),
        capture_output=True, text=True, timeout=60, env=python_env(),
    )
    assert proc.returncode != 0
    assert "pyimapd db migrate" in proc.stderr, proc.stderr
    out = run_cli("db", "migrate", "--store", url).stdout
    assert "migrated from version 0" in out
    assert "up to date" in run_cli("db", "migrate", "--store", url).stdout
    run_cli("user", "add", "ann", "--password-stdin", "--store", url, stdin="pw")
    assert run_cli("user", "list", "--store", url).stdout.split() == ["ann"]


def test_store_option_refuses_unknown_stores() -> None:
    with pytest.raises(ServerError) as info:
        run_cli("user", "list", "--store", "mysql://x")
    assert "postgresql://" in str(info.value)


async def _fill(backend: Backend) -> None:
    await backend.start()
    await backend.users.add_user("alice", "hash-a", {"CRAM-MD5": "secret"})
    await backend.users.add_user("bob", "hash-b")
    store = await backend.open("alice")
    await store.create_mailbox("Archive/2024")
    await store.create_mailbox("Parent/Child")
    await store.delete_mailbox("Parent")  # stays as \Noselect
    await store.set_subscribed("Archive/2024", True)
    await store.set_subscribed("Gone", True)
    for data, flags, when in MESSAGES:
        await store.append("Archive/2024", PreparedMessage(io.BytesIO(data), len(data), b"{}"),
                           flags, when)
    await store.append("INBOX", PreparedMessage(io.BytesIO(b"S: x\r\n\r\n"), 8, b"{}"),
                       frozenset(), MESSAGES[0][2])
    await backend.close()


async def _dump(backend: Backend, user: str) -> dict[str, object]:
    await backend.start()
    try:
        record = await backend.users.get_user(user)
        assert record is not None
        store = await backend.open(user)
        out: dict[str, object] = {
            "hash": record.password_hash, "secrets": dict(record.secrets),
            "subscriptions": await store.list_subscriptions(),
        }
        for mailbox in await store.list_mailboxes():
            out[mailbox.name] = mailbox.noselect
            if mailbox.noselect:
                continue
            sel, _ = await store.select(mailbox.name, True)
            rows = []
            async for r in sel.fetch([(1, 1 << 30)], False):
                body = b"".join([c async for c in sel.read(r.content, 0, r.size)])
                rows.append((sorted(r.flags), r.internaldate, body))
            out[mailbox.name + "#messages"] = rows
        return out
    finally:
        await backend.close()


async def test_migrate_store_sqlite_to_postgres_and_back(tmp_path: Path) -> None:
    await _fill(SqliteBackend(tmp_path / "src"))
    url = fresh_dsn()
    run_cli("db", "migrate", "--store", url)
    out = run_cli("migrate-store", str(tmp_path / "src"), url).stdout
    assert "copied 2 account(s)" in out and "3 message(s)" in out
    want = await _dump(SqliteBackend(tmp_path / "src"), "alice")
    assert want["Parent"] is True and len(want["Archive/2024#messages"]) == 2  # type: ignore[arg-type]
    assert await _dump(PostgresBackend(url), "alice") == want
    run_cli("migrate-store", url, f"sqlite:{tmp_path / 'back'}", "--user", "alice")
    assert await _dump(SqliteBackend(tmp_path / "back"), "alice") == want
    back = SqliteBackend(tmp_path / "back")
    await back.start()
    assert await back.users.list_users() == ["alice"]
    await back.close()
    with pytest.raises(ServerError) as info:  # never merges into an existing account
        run_cli("migrate-store", str(tmp_path / "src"), url, "--user", "bob")
    assert "already exists" in str(info.value)
