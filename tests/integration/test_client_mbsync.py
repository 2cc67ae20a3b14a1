"""mbsync (isync) two-way sync between pyimapd and a local Maildir: pull, push, flag
changes both ways and deletions both ways (Expunge Both).

Maildir files hold LF line ends where IMAP has CRLF, and mbsync adds an ``X-TUID:``
header to messages it uploads; the comparisons allow for both.
"""

from __future__ import annotations

import imaplib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.clienthelp import make_message, to_crlf
from serverutil import ServerHandle, require_client

pytestmark = pytest.mark.timeout(120)

MBSYNCRC = """\
IMAPAccount pyimapd
Host {host}
Port {port}
User demo
Pass demo
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore remote
Account pyimapd

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""


class Maildir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, folder: str) -> list[Path]:
        base = self.root / folder
        return sorted(p for sub in ("cur", "new") for p in (base / sub).glob("*") if p.is_file())

    def bodies(self, folder: str) -> dict[str, Path]:
        """Subject -> file."""
        out: dict[str, Path] = {}
        for path in self.files(folder):
            m = re.search(rb"^Subject: (.*)$", path.read_bytes(), re.M)
            assert m, path
            out[m.group(1).decode().rstrip("\r")] = path
        return out


def flags_of(path: Path) -> str:
    return path.name.rpartition(":2,")[2] if ":2," in path.name else ""


def normalise(data: bytes) -> bytes:
    data = to_crlf(data)
    return re.sub(rb"^X-TUID: [^\r\n]*\r\n", b"", data, flags=re.M)


@pytest.fixture
def mbsync(server: ServerHandle, tmp_path: Path) -> Iterator[tuple[list[str], Maildir]]:
    binary = require_client("mbsync")
    maildir = tmp_path / "Mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(MBSYNCRC.format(host=server.host, port=server.port, maildir=maildir))
    yield [binary, "-c", str(rc), "-a"], Maildir(maildir)


def sync(cmd: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path)}
    )
    assert proc.returncode == 0, f"mbsync failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"


def lib(server: ServerHandle) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    conn.login("demo", "demo")
    return conn


def server_messages(conn: imaplib.IMAP4, mailbox: str) -> dict[str, tuple[bytes, bytes]]:
    """Subject -> (flags, body) for every message in the mailbox."""
    typ, data = conn.select(mailbox)
    assert typ == "OK", data
    if data == [b"0"]:
        return {}
    typ, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    out: dict[str, tuple[bytes, bytes]] = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        subject = re.search(rb"^Subject: (.*)\r$", body, re.M)
        assert subject, body
        flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
        out[subject.group(1).decode()] = (flags.group(1) if flags else b"?", body)
    return out


def test_two_way_sync(
    server: ServerHandle, mbsync: tuple[list[str], Maildir], tmp_path: Path
) -> None:
    cmd, maildir = mbsync
    conn = lib(server)
    try:
        one = make_message("one", body="first message\r\n")
        two = make_message("two", body="second message\r\n")
        work = make_message("work item", body="in a folder\r\n")
        assert conn.append("INBOX", r"(\Flagged)", None, one)[0] == "OK"
        assert conn.append("INBOX", None, None, two)[0] == "OK"
        assert conn.create("Work")[0] == "OK"
        assert conn.append("Work", r"(\Seen)", None, work)[0] == "OK"

        # 1. Pull.
        sync(cmd, tmp_path)
        inbox = maildir.bodies("INBOX")
        assert set(inbox) == {"one", "two"}, inbox
        assert normalise(inbox["one"].read_bytes()) == one
        assert normalise(inbox["two"].read_bytes()) == two
        assert flags_of(inbox["one"]) == "F" and flags_of(inbox["two"]) == ""
        works = maildir.bodies("Work")
        assert set(works) == {"work item"} and flags_of(works["work item"]) == "S"
        assert normalise(works["work item"].read_bytes()) == work

        # 2. Push a new local message, and a new local folder.
        pushed = make_message("pushed", body="written locally\r\n")
        (maildir.root / "INBOX" / "new" / "1700000000.1.local").write_bytes(
            pushed.replace(b"\r\n", b"\n")
        )
        local_only = maildir.root / "Local"
        for sub in ("cur", "new", "tmp"):
            (local_only / sub).mkdir(parents=True)
        (local_only / "new" / "1700000000.2.local").write_bytes(
            make_message("local folder").replace(b"\r\n", b"\n")
        )
        sync(cmd, tmp_path)
        remote = server_messages(conn, "INBOX")
        assert set(remote) == {"one", "two", "pushed"}, remote
        assert normalise(remote["pushed"][1]) == pushed
        assert set(server_messages(conn, "Local")) == {"local folder"}

        # 3. Flags both ways: \Seen set locally on "two", \Answered set remotely on "one".
        inbox = maildir.bodies("INBOX")
        old = inbox["two"]
        old.rename(old.parent.parent / "cur" / (old.name.split(":2,")[0] + ":2,S"))
        conn.select("INBOX")
        typ, data = conn.search(None, "SUBJECT", '"one"')
        assert typ == "OK" and data[0], data
        assert conn.store(data[0].decode(), "+FLAGS", r"(\Answered)")[0] == "OK"
        sync(cmd, tmp_path)
        remote = server_messages(conn, "INBOX")
        assert b"\\Seen" in remote["two"][0].split(), remote["two"][0]
        assert set(flags_of(maildir.bodies("INBOX")["one"])) == {"F", "R"}

        # 4. Deletions both ways: "one" deleted locally, "pushed" expunged remotely.
        maildir.bodies("INBOX")["one"].unlink()
        conn.select("INBOX")
        typ, data = conn.search(None, "SUBJECT", "pushed")
        assert typ == "OK" and data[0], data
        assert conn.store(data[0].decode(), "+FLAGS", r"(\Deleted)")[0] == "OK"
        assert conn.expunge()[0] == "OK"
        sync(cmd, tmp_path)
        assert set(server_messages(conn, "INBOX")) == {"two"}
        assert set(maildir.bodies("INBOX")) == {"two"}

        # 5. A sync with nothing to do changes nothing.
        sync(cmd, tmp_path)
        assert set(server_messages(conn, "INBOX")) == {"two"}
        assert set(maildir.bodies("INBOX")) == {"two"}
    finally:
        conn.logout()
