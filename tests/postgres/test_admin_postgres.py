"""The administration commands against PostgreSQL, through the real command line with
``--store postgresql://...``: ``user add|list|passwd|del|quota``, ``mailbox``, the
import/export round trip of tests/importexport (same corpus, same checks), and
``doctor`` on a healthy store, on one damaged with SQL, on an out-of-date schema and on
an unreachable server."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from admin.test_admin_cli import check_mailbox_commands
from importexport.test_roundtrip import Msg, check_round_trip, make_corpus, write_mbox
from pyimapd.auth.passwords import Passwords
from pyimapd.cli import main
from pyimapd.storage.interface import UserRecord
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.postgres.schema import LATEST
from serverutil import (
    REPO_ROOT,
    free_port,
    postgres_store,
    pyimapd_cmd,
    python_env,
    run_cli,
)

pytestmark = pytest.mark.timeout(180)

FAST = "[argon2]\ntime_cost = 1\nmemory_cost = 1024\nparallelism = 1\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``pyimapd ARGS`` whatever its exit status (run_cli raises on failure)."""
    return subprocess.run(pyimapd_cmd(*args), capture_output=True, text=True, timeout=60,
                          env=python_env(), cwd=REPO_ROOT)


def store_args(tmp_path: Path, url: str) -> list[str]:
    return ["--store", url, "--data-dir", str(tmp_path / "data")]


def pyimapd(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """``pyimapd ARGV`` in this process (``pyimapd.cli.main``, as tests/test_cli.py does:
    no interpreter start per command): exit status, stdout, stderr."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # the refusals that stop the command with a message
        code = 1
        print(exc.code, file=sys.stderr)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_and_quota_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_store({})
    conf = tmp_path / "fast.toml"
    conf.write_text(FAST)
    store = [*store_args(tmp_path, url), "--config", str(conf)]

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        return pyimapd(capsys, monkeypatch, *argv, *store, stdin=stdin)

    assert run("user", "add", "demo", "--password-stdin", stdin="one\n")[0] == 0
    assert not (tmp_path / "data").exists()  # the accounts are in PostgreSQL only
    assert run("user", "add", "bob", "--password-stdin", stdin="two\n")[0] == 0
    assert run("user", "list")[1].split() == ["bob", "demo"]
    code, _, err = run("user", "add", "demo", "--password-stdin", stdin="x\n")
    assert code == 1 and "already exists" in err

    assert run("user", "passwd", "demo", "--password-stdin", stdin="three\n")[0] == 0
    record = asyncio.run(_user_record(url, "demo"))
    assert Passwords().verify(record.password_hash, "three")
    assert not Passwords().verify(record.password_hash, "one")
    code, _, err = run("user", "passwd", "ghost", "--password-stdin", stdin="x\n")
    assert code == 1 and "no such user" in err

    code, out, _ = run("user", "quota", "bob", "--messages", "2", "--storage", "100")
    assert code == 0 and out.split("\n")[:2] == ["storage: 100 KiB", "messages: 2"]
    assert "messages: 2" in run("user", "quota", "bob")[1]
    mbox = tmp_path / "three.mbox"
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_mbox(mbox, [Msg("INBOX", f"Subject: q{i}\n\nbody {i}\n".encode(), frozenset(), when)
                      for i in range(3)])
    code, out, _ = run("import", "bob", str(mbox), "--quiet")  # the quota holds on import
    assert code == 1 and "imported 2, skipped 0, failed 1" in out, out
    code, out, _ = run("user", "quota", "bob", "--messages", "none")
    assert "storage: 100 KiB" in out and "messages: none" in out

    assert run("user", "del", "bob")[0] == 0  # with its mail
    assert run("user", "list")[1].split() == ["demo"]
    code, _, err = run("user", "del", "bob")
    assert code == 1 and "No user bob" in err
    code, out, _ = run("doctor")  # nothing of bob's is left behind
    assert code == 0 and "accounts: 1" in out, out


async def _user_record(url: str, name: str) -> UserRecord:
    backend = PostgresBackend(url)
    await backend.start()
    try:
        record = await backend.users.get_user(name)
    finally:
        await backend.close()
    assert record is not None
    return record


def test_mailbox_commands(tmp_path: Path) -> None:
    check_mailbox_commands(store_args(tmp_path, postgres_store({"demo": "demo"})))


def test_import_export_round_trip(tmp_path: Path) -> None:
    url = postgres_store({"demo": "demo"})
    store = store_args(tmp_path, url)
    check_round_trip(tmp_path, make_corpus(tmp_path), store)
    # the export reads what the import wrote; the store is consistent afterwards
    ok = cli("doctor", *store)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "accounts: 1" in ok.stdout


def _fill(tmp_path: Path, store: list[str]) -> None:
    """Two small messages and one of 600,000 bytes (three body chunks) in demo's INBOX."""
    big = b"Subject: big\n\n" + b"0123456789abcdef\n" * 35_300
    msgs = [Msg("INBOX", f"Subject: small {i}\n\nhello {i}\n".encode(), frozenset({"\\Seen"}),
                datetime(2024, 5, i + 1, tzinfo=UTC)) for i in range(2)]
    msgs.append(Msg("INBOX", big, frozenset(), datetime(2024, 5, 9, tzinfo=UTC)))
    write_mbox(tmp_path / "in.mbox", msgs)
    out = run_cli("import", "demo", str(tmp_path / "in.mbox"), "--quiet", *store)
    assert "imported 3, skipped 0, failed 0" in out.stdout


async def _damage(url: str) -> None:
    """One fault of each kind, as a bad restore or a hand-edit would leave them."""
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM contents ORDER BY size")]
        assert len(ids) == 3
        small, other, big = ids
        await conn.execute("UPDATE body_chunks SET data = substring(data FROM 1 FOR 1000)"
                           " WHERE content_id = $1 AND seq = 0", big)
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("DELETE FROM contents WHERE id = $1", small)
        await conn.execute("DELETE FROM mailboxes WHERE name = 'INBOX' AND user_id ="
                           " (SELECT id FROM users WHERE name = 'bob')")
        await conn.execute("RESET session_replication_role")
        await conn.execute("INSERT INTO contents (size, structure, search_text)"
                           " VALUES (0, '', '')")
        await conn.execute("UPDATE mailboxes SET uidnext = 2, highestmodseq = 0"
                           " WHERE name = 'INBOX'")
        await conn.execute("INSERT INTO expunged (mailbox_id, uid, modseq) SELECT id, 99, 99"
                           " FROM mailboxes WHERE name = 'INBOX'")
        await conn.execute(  # a message in a \Noselect mailbox, consistent otherwise
            "INSERT INTO messages (mailbox_id, uid, content_id, internaldate,"
            " internaldate_offset, size, modseq) SELECT b.id, 1, c.id, 0, 0, c.size, 1"
            " FROM mailboxes b JOIN users u ON u.id = b.user_id, contents c"
            " WHERE u.name = 'demo' AND b.name = 'Archive' AND c.id = $1", other)
        await conn.execute("UPDATE mailboxes SET noselect = TRUE, uidnext = 2"
                           " WHERE name = 'Archive'")
        await conn.execute("ALTER TABLE messages DISABLE TRIGGER messages_free_content")
    finally:
        await conn.close()


async def test_doctor_healthy_then_names_each_problem(tmp_path: Path) -> None:
    url = postgres_store({"demo": "demo", "bob": "bob"})
    _fill(tmp_path, store_args(tmp_path, url))
    nodata = tmp_path / "nodata"  # a PostgreSQL store needs no data dir
    ok = cli("doctor", "--store", url, "--data-dir", str(nodata))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "accounts: 2" in ok.stdout and "everything looks fine" in ok.stdout
    assert not nodata.exists()

    await _damage(url)
    bad = cli("doctor", "--store", url, "--data-dir", str(nodata))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    for sentence in [
        "the trigger that frees the bodies of expunged messages is disabled",
        "1 rows point to rows that do not exist (references broken in content_headers)",
        "1 stored message bodies belong to no message",
        "1 body chunks belong to no stored message",
        "1 messages have lost their body",
        "1 messages have a body whose length differs from the recorded size",
        "1 stored message bodies have missing, extra or short chunks",
        "2 messages have a UID at or above their mailbox's UIDNEXT",
        "3 messages have a MODSEQ above their mailbox's HIGHESTMODSEQ",
        "1 expunge records are above their mailbox's HIGHESTMODSEQ or UIDNEXT",
        "1 messages are in \\Noselect mailboxes",
        "1 accounts have no INBOX",
    ]:
        assert f"PROBLEM: {sentence}" in bad.stdout, bad.stdout
    assert bad.stdout.count("PROBLEM:") == 12, bad.stdout


async def test_doctor_on_an_old_schema_and_an_unreachable_server(tmp_path: Path) -> None:
    url = postgres_store({"demo": "demo"})
    backend = PostgresBackend(url)
    await backend.start()
    try:
        assert await backend.check() == []
        conn = await asyncpg.connect(url)
        await conn.execute("UPDATE schema_version SET version = 1")
        await conn.close()
        assert await backend.check() == [  # the same words from a running backend
            f"the schema is at version 1, this pyimapd expects {LATEST}: run `pyimapd db migrate"
            " --store <the same URL>`"]
    finally:
        await backend.close()
    old = cli("doctor", *store_args(tmp_path, url))
    assert old.returncode == 1
    assert "PROBLEM: the store cannot be used: The PostgreSQL schema is at version 1" in (
        old.stdout), old.stdout
    assert "pyimapd db migrate" in old.stdout

    gone = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/mail"
    down = cli("doctor", "--store", gone, "--data-dir", str(tmp_path / "x"))
    assert down.returncode == 1
    assert "PROBLEM: the store cannot be used: " in down.stdout, down.stdout + down.stderr
    assert "hunter2" not in down.stdout + down.stderr
    assert "postgres:***@127.0.0.1" in down.stdout
