"""``pyimapd mailbox`` and ``pyimapd doctor`` through the real command line."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from serverutil import REPO_ROOT, ServerError, create_users, pyimapd_cmd, python_env, run_cli


def doctor(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pyimapd_cmd("doctor", "--data-dir", str(data)), capture_output=True,
                          text=True, timeout=60, env=python_env(), cwd=REPO_ROOT)


def check_mailbox_commands(store: list[str]) -> None:
    """``mailbox create|list|delete`` for the account ``demo`` of ``store`` (the
    ``--data-dir`` / ``--store`` arguments; tests/postgres reuses this)."""
    run_cli("mailbox", "create", "demo", "Projects/2024", *store)
    listing = run_cli("mailbox", "list", "demo", *store).stdout
    assert [line.split("\t")[0] for line in listing.splitlines()] == [
        "Archive", "Drafts", "INBOX", "Junk", "Projects", "Projects/2024", "Sent", "Trash"]
    assert "INBOX\t0 messages\t0 unseen\t0 bytes" in listing
    with pytest.raises(ServerError, match="exists"):
        run_cli("mailbox", "create", "demo", "Projects", *store)
    run_cli("mailbox", "delete", "demo", "Projects", *store)
    listing = run_cli("mailbox", "list", "demo", *store).stdout
    assert "Projects\t\\Noselect" in listing  # it has an inferior (RFC 3501 6.3.4)
    with pytest.raises(ServerError, match="No user ghost"):
        run_cli("mailbox", "list", "ghost", *store)


def test_mailbox_list_create_delete(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo"})
    check_mailbox_commands(["--data-dir", str(data)])


def test_doctor_healthy_then_finds_problems_in_words(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo"})
    ok = doctor(data)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "everything looks fine" in ok.stdout and "accounts: 1" in ok.stdout

    data.chmod(0o755)
    with sqlite3.connect(data / "pyimapd.sqlite3") as db:
        db.execute("INSERT INTO contents (size, structure, search_text, body) "
                   "VALUES (1, x'', '', x'00')")
        db.execute("DELETE FROM mailboxes WHERE name = 'INBOX'")
    bad = doctor(data)
    assert bad.returncode == 1
    assert "has mode 0755: others can read mail" in bad.stdout
    assert "1 stored message bodies belong to no message" in bad.stdout
    assert "1 accounts have no INBOX" in bad.stdout


def test_doctor_on_a_damaged_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo"})
    db = data / "pyimapd.sqlite3"
    raw = bytearray(db.read_bytes())
    raw[100:4096 * 2] = b"\xff" * (4096 * 2 - 100)  # the schema page and the next one
    db.write_bytes(bytes(raw))
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    bad = doctor(data)
    assert bad.returncode == 1
    assert "PROBLEM: the " in bad.stdout and ("damaged" in bad.stdout or
                                              "cannot be opened" in bad.stdout), bad.stdout


def test_doctor_without_a_data_dir(tmp_path: Path) -> None:
    out = doctor(tmp_path / "nothing")
    assert out.returncode == 1
    assert "does not exist" in out.stdout
