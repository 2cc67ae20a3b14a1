"""offlineimap syncs an account with a few folders into a local Maildir; then one change
on each side (a new local message, a flag set and a message expunged on the server) and
a second sync carries them across."""

from __future__ import annotations

import imaplib
import re
import subprocess
from pathlib import Path

import pytest

from integration.clienthelp import make_message, to_crlf
from serverutil import ServerHandle, require_client

pytestmark = pytest.mark.timeout(180)

CONFIG = """\
[general]
accounts = test
metadata = {meta}
maxsyncaccounts = 1
ui = quiet

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {maildir}
sep = /

[Repository remote]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = demo
remotepass = demo
ssl = no
starttls = no
maxconnections = 1
holdconnectionopen = no
"""


def run(binary: str, conf: Path) -> None:
    proc = subprocess.run(
        [binary, "-c", str(conf), "-o", "-1", "-u", "basic"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"offlineimap failed ({proc.returncode}):\n{out}"
    assert not re.search(r"^(ERROR|WARNING)", out, re.M), out


def local(maildir: Path, folder: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for sub in ("cur", "new"):
        for path in (maildir / folder / sub).glob("*"):
            m = re.search(rb"^Subject: (.*)$", path.read_bytes(), re.M)
            assert m, path
            out[m.group(1).decode().rstrip("\r")] = path
    return out


def remote(conn: imaplib.IMAP4, mailbox: str) -> dict[str, bytes]:
    """Subject -> FLAGS of every message in the mailbox."""
    typ, data = conn.select(mailbox)
    assert typ == "OK", data
    if data == [b"0"]:
        return {}
    typ, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    out: dict[str, bytes] = {}
    for item in data:
        if isinstance(item, tuple):
            subject = item[1].decode().strip().removeprefix("Subject: ")
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            out[subject] = flags.group(1) if flags else b"?"
    return out


def test_offlineimap_sync(server: ServerHandle, tmp_path: Path) -> None:
    binary = require_client("offlineimap")
    maildir = tmp_path / "Maildir"
    conf = tmp_path / "offlineimaprc"
    conf.write_text(
        CONFIG.format(meta=tmp_path / "meta", maildir=maildir, host=server.host, port=server.port)
    )
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    conn.login("demo", "demo")
    try:
        messages = {
            "INBOX": [make_message("inbox a"), make_message("inbox b")],
            "Lists": [make_message("list post")],
            "Lists/IMAP": [make_message("imap post 1"), make_message("imap post 2")],
        }
        for mailbox, msgs in messages.items():
            if mailbox != "INBOX":
                assert conn.create(mailbox)[0] == "OK"
            for msg in msgs:
                assert conn.append(mailbox, r"(\Seen)", None, msg)[0] == "OK"

        run(binary, conf)
        for mailbox, msgs in messages.items():
            got = local(maildir, mailbox)
            assert len(got) == len(msgs), (mailbox, got)
            for msg in msgs:
                subject = re.search(rb"^Subject: (.*)\r$", msg, re.M).group(1).decode()  # type: ignore[union-attr]
                assert to_crlf(got[subject].read_bytes()) == msg
                assert got[subject].name.endswith(":2,S"), got[subject].name

        # One change on each side.
        new = make_message("written locally")
        (maildir / "Lists" / "new" / "1700000000.1.host").write_bytes(new.replace(b"\r\n", b"\n"))
        conn.select("Lists/IMAP")
        assert conn.store("1", "+FLAGS", r"(\Flagged)")[0] == "OK"
        assert conn.store("2", "+FLAGS", r"(\Deleted)")[0] == "OK"
        assert conn.expunge()[0] == "OK"

        run(binary, conf)
        assert set(remote(conn, "Lists")) == {"list post", "written locally"}
        imap_local = local(maildir, "Lists/IMAP")
        assert set(imap_local) == {"imap post 1"}, imap_local
        assert "F" in imap_local["imap post 1"].name.rpartition(":2,")[2]
        assert set(remote(conn, "INBOX")) == {"inbox a", "inbox b"}
    finally:
        conn.logout()
