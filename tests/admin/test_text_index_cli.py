"""The full-text index from the command line and across crashes (issue 17): an existing
store is indexed by ``pyimapd index rebuild`` after the upgrade that adds the index,
``pyimapd doctor`` reports and repairs what is missing, and a kill -9 of the rebuild or
of a server in the middle of an APPEND stream loses nothing BODY search can find."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from pyimapd.delivery import prepare_bytes
from pyimapd.search.ast import Body, Text
from pyimapd.storage.interface import AppendItem
from pyimapd.storage.sqlite import SqliteBackend
from serverutil import REPO_ROOT, pyimapd_cmd, python_env, read_tagged, start_server

WHEN = datetime(2024, 3, 1, tzinfo=UTC)
MESSAGES = 6000


def _message(i: int) -> bytes:
    return (f"From: a{i % 9}@example.net\r\nSubject: note {i}\r\n\r\n"
            f"common words and the token w{i:05d}q\r\n").encode()


async def _store_without_index(data_dir: Path) -> None:
    """A store as the schema before the index left it: messages, no FTS tables."""
    backend = SqliteBackend(data_dir)
    await backend.start()
    await backend.users.add_user("u", "h", default_mailboxes=False)
    store = await backend.open("u")
    for first in range(0, MESSAGES, 1000):
        spooled = [await prepare_bytes(_message(i)) for i in range(first, first + 1000)]
        await store.append_many(
            "INBOX", [AppendItem(p, frozenset(), WHEN) for _s, p in spooled])
        for spool, _p in spooled:
            spool.close()
    await backend.close()
    conn = sqlite3.connect(data_dir / "pyimapd.sqlite3")
    for statement in ("DROP TRIGGER contents_text_unindex", "DROP TABLE content_body_fts",
                      "DROP TABLE content_lines_fts", "DROP VIEW content_lines",
                      "DROP TABLE text_index_pending", "DROP TABLE metadata", "DROP TABLE acl",
                      "UPDATE schema_version SET version = 5"):
        conn.execute(statement)
    conn.commit()
    conn.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pyimapd_cmd(*args), capture_output=True, text=True, timeout=300,
                          env=python_env(), cwd=REPO_ROOT)


def _pending(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "pyimapd.sqlite3", timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM text_index_pending").fetchone()[0])
    finally:
        conn.close()


async def _all_found(data_dir: Path, tokens: dict[str, int] | None = None) -> None:
    """Every message is found by BODY and TEXT, each by its own token too."""
    backend = SqliteBackend(data_dir)
    await backend.start()
    try:
        selected, _ = await (await backend.open("u")).select("INBOX", readonly=True)
        every = await selected.search(Body("common words"))
        assert len(every) == MESSAGES
        assert await selected.search(Text("COMMON WORDS")) == every
        for token, uid in (tokens or {f"w{i:05d}q": every[i]
                                      for i in range(0, MESSAGES, 97)}).items():
            assert await selected.search(Body(token)) == [uid], token
    finally:
        await backend.close()


def test_upgrade_rebuild_killed_and_resumed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(_store_without_index(data_dir))
    common = ("--data-dir", str(data_dir))

    doctor = _cli("doctor", *common)  # runs the migration: everything pending
    assert doctor.returncode == 1 and "not in the full-text index yet" in doctor.stdout
    assert _pending(data_dir) == MESSAGES
    asyncio.run(_all_found(data_dir))  # unindexed messages take the exact path

    child = subprocess.Popen(pyimapd_cmd("index", "rebuild", *common), env=python_env(),
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _pending(data_dir) == MESSAGES and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = _pending(data_dir)
    assert 0 < left < MESSAGES, "the kill did not land during the rebuild"
    asyncio.run(_all_found(data_dir))  # half indexed, half pending: all found

    rebuilt = _cli("index", "rebuild", *common)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"indexed {left};" in rebuilt.stdout and "0 messages not indexed" in rebuilt.stdout
    assert "indexing:" in rebuilt.stderr  # the progress line
    assert _cli("doctor", *common).returncode == 0
    asyncio.run(_all_found(data_dir))


def test_doctor_repairs_a_damaged_index(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(_store_without_index(data_dir))
    common = ("--data-dir", str(data_dir))
    assert _cli("index", "rebuild", "u", "--quiet", *common).returncode == 0
    conn = sqlite3.connect(data_dir / "pyimapd.sqlite3")
    conn.execute("INSERT INTO content_body_fts (rowid, search_text) VALUES (1, 'stale text')")
    conn.commit()
    conn.close()
    doctor = _cli("doctor", *common)
    assert doctor.returncode == 1 and "index rebuild --reset" in doctor.stdout
    repaired = _cli("doctor", "--repair", *common)
    assert repaired.returncode == 0, repaired.stdout
    assert f"indexed {MESSAGES} anew" in repaired.stdout
    asyncio.run(_all_found(data_dir))
    status = _cli("index", "status", *common)
    assert status.returncode == 0 and "usable, 0 messages" in status.stdout


def _append(sock: object, tag: str, data: bytes) -> None:
    sock.sendall(f"{tag} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")  # type: ignore[attr-defined]


def test_kill_during_an_append_stream_loses_no_acknowledged_message(tmp_path: Path) -> None:
    handle = start_server(tmp_path, {"u": "pw"})
    try:
        sock = handle.connect()
        sock.sendall(b"l LOGIN u pw\r\n")
        assert b"l OK" in read_tagged(sock, b"l")
        acknowledged: dict[str, str] = {}
        for i in range(60):
            _append(sock, f"a{i}", _message(i))
            reply = read_tagged(sock, f"a{i}".encode())
            assert f"a{i} OK".encode() in reply
            acknowledged[f"w{i:05d}q"] = reply.split(b"APPENDUID ")[1].split(b" ")[1].split(
                b"]")[0].decode()
        for i in range(60, 80):  # in flight when the server dies
            _append(sock, f"a{i}", _message(i))
        handle.kill()
        sock.close()
        handle.start()
        sock = handle.connect()
        sock.sendall(b"l LOGIN u pw\r\ns SELECT INBOX\r\n")
        assert b"s OK" in read_tagged(sock, b"s")
        for n, (token, uid) in enumerate(acknowledged.items()):
            sock.sendall(f"q{n} UID SEARCH BODY {token}\r\n".encode())
            assert f"* SEARCH {uid}\r\n".encode() in read_tagged(sock, f"q{n}".encode())
        sock.close()
    finally:
        handle.stop()
