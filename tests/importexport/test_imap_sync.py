"""Issue 20: ``pyimapd sync USER imap://LOGIN@HOST`` from a live Dovecot: the first run
copies every mailbox keeping UIDVALIDITY and UIDs; after changes on Dovecot (new mail,
flag changes, an expunge) a second run transfers only those, and the two servers then
answer alike; ``--dry-run`` reports without changing anything."""

from __future__ import annotations

import imaplib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from importexport.test_dovecot_migration import snapshot
from serverutil import register_server, start_dovecot, start_server

pytestmark = pytest.mark.skipif(shutil.which("dovecot") is None, reason="needs dovecot-imapd")


def sync(handle_dir: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyimapd", "sync", "demo", url, "--quiet",
         "--data-dir", str(handle_dir), *extra],
        input="demo\n", capture_output=True, text=True, timeout=120)


def test_sync_then_sync_again(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    (tmp_path / "dovecot").mkdir()
    (tmp_path / "pyimapd").mkdir()
    dovecot = start_dovecot(tmp_path / "dovecot", {"demo": "demo"})
    try:
        conn = imaplib.IMAP4(dovecot.host, dovecot.port)
        conn.login("demo", "demo")
        for name in ("Lists/Work", "Archive"):
            conn.create(name)
        conn.subscribe("Lists/Work")
        for n in range(5):
            date = f"\"0{n + 1}-Mar-2024 10:00:00 +0200\""
            conn.append("INBOX", "(\\Seen)" if n % 2 else None, date,
                        f"Subject: s{n}\r\nMessage-ID: <s{n}@x>\r\n\r\nbody {n}\r\n".encode())
        conn.append("Lists/Work", "($Work)", None, b"Subject: w\r\n\r\nwork\r\n")
        conn.select("INBOX")
        conn.store("2", "+FLAGS", "(\\Deleted)")
        conn.expunge()
        url = f"imap://demo@{dovecot.host}:{dovecot.port}"
        pyimapd = start_server(tmp_path / "pyimapd", {"demo": "demo"})
        register_server(request.node, pyimapd)
        try:
            dry = sync(pyimapd.data_dir, url, "--dry-run")
            assert dry.returncode == 0, dry.stderr
            assert "INBOX: would add 4" in dry.stdout, dry.stdout
            first = sync(pyimapd.data_dir, url)
            assert first.returncode == 0, first.stdout + first.stderr
            assert "INBOX: added 4" in first.stdout and "UIDs kept" in first.stdout
            before = snapshot(dovecot.host, dovecot.port, "demo", "demo")
            after = snapshot(pyimapd.host, pyimapd.port, "demo", "demo")
            for name in ("INBOX", "Lists/Work", "Archive"):
                assert after[name][1] == before[name][1], name  # type: ignore[index]
                for key in ("UIDVALIDITY", "UIDNEXT", "MESSAGES"):
                    assert after[name][0][key] == before[name][0][key], (name, key)  # type: ignore[index]
            assert after["subscribed"] == before["subscribed"]
            # Changes on Dovecot: one new message, a flag change, an expunge.
            conn.append("INBOX", "(\\Flagged)", None, b"Subject: new\r\n\r\nnew\r\n")
            conn.store("1", "+FLAGS", "(\\Answered $Todo)")
            conn.store("3", "+FLAGS", "(\\Deleted)")
            conn.expunge()
            dry = sync(pyimapd.data_dir, url, "--dry-run")
            assert "INBOX: would add 1, flags 1, removed 1" in dry.stdout, dry.stdout
            second = sync(pyimapd.data_dir, url)
            assert second.returncode == 0, second.stdout + second.stderr
            assert "INBOX: added 1, flags 1, removed 1" in second.stdout, second.stdout
            assert "Lists/Work: added 0, flags 0, removed 0" in second.stdout
            before = snapshot(dovecot.host, dovecot.port, "demo", "demo")
            after = snapshot(pyimapd.host, pyimapd.port, "demo", "demo")
            for name in ("INBOX", "Lists/Work"):
                assert after[name][1] == before[name][1], name  # type: ignore[index]
            third = sync(pyimapd.data_dir, url)
            assert "INBOX: added 0, flags 0, removed 0" in third.stdout, third.stdout
        finally:
            pyimapd.stop()
        conn.logout()
    finally:
        dovecot.stop()
