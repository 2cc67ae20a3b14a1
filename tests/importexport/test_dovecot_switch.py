"""Issue 20, acceptance 1 and 2: the switch, as the clients see it.

A Dovecot holds mail for two users (keywords, subfolders, a unicode folder name, a
20 MB message); mbsync, offlineimap and a CONDSTORE/QRESYNC client (IMAPClient) sync
against it. Then Dovecot stops, the store moves to pyimapd (by importing the Maildirs,
or by ``pyimapd sync`` from the live Dovecot with a message added and a flag changed
before the final run), and pyimapd takes Dovecot's port. Each client syncs again:
mbsync and offlineimap transfer nothing and see no UIDVALIDITY change, and the QRESYNC
client, asking for what changed since the HIGHESTMODSEQ it cached, gets only the flag
changed after the switch.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from imapclient import IMAPClient

from integration.test_client_mbsync import MBSYNCRC as MBSYNC_TEMPLATE
from integration.test_client_offlineimap import CONFIG as OFFLINEIMAP_TEMPLATE
from serverutil import (
    ServerHandle,
    register_server,
    require_client,
    start_dovecot,
)

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(shutil.which("dovecot") is None, reason="needs dovecot-imapd")]

USERS = {"demo": "demo", "mrc": "secret"}
UNICODE = "Reisen/Übersee"
# The client tests' configurations: mbsync as demo, offlineimap as the second user.
MBSYNCRC = MBSYNC_TEMPLATE
OFFLINEIMAPRC = OFFLINEIMAP_TEMPLATE.replace("remoteuser = demo\nremotepass = demo",
                                             "remoteuser = mrc\nremotepass = secret")


def fill(host: str, port: int) -> None:
    for user, password in USERS.items():
        conn = imaplib.IMAP4(host, port)
        conn.login(user, password)
        for name in ("Lists/Work", UNICODE):
            conn.create(imaplib_name(name))
            conn.subscribe(imaplib_name(name))
        for n in range(8):
            flags = ["(\\Seen $Work)", "(\\Flagged)", "()", "(\\Answered NonJunk)"][n % 4]
            conn.append("INBOX", flags, None,
                        f"Subject: {user} {n}\r\nMessage-ID: <{user}{n}@x>\r\n\r\nb {n}\r\n"
                        .encode())
        conn.append("Lists/Work", "($Work)", None, b"Subject: work\r\n\r\nwork\r\n")
        conn.append(imaplib_name(UNICODE), None, None, b"Subject: trip\r\n\r\nfar away\r\n")
        if user == "demo":
            big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 20_000  # 20 MB
            conn.append("INBOX", None, None, big)
        conn.select("INBOX")
        conn.store("3", "+FLAGS", "(\\Deleted)")
        conn.expunge()
        conn.logout()


def imaplib_name(name: str) -> str:
    from pyimapd.protocol.utf7 import encode_mailbox_name

    return '"' + encode_mailbox_name(name) + '"'


def run(argv: list[str], home: Path) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HOME": str(home)})
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    return out


def files(root: Path) -> list[str]:
    """Every message file, as folder and name without flags (a flag change moves a file
    from new/ to cur/ and renames it): what a client downloaded."""
    return sorted(f"{p.parent.parent.relative_to(root)}/{p.name.split(':2,')[0]}"
                  for p in root.rglob("*") if p.is_file() and p.parent.name in ("cur", "new"))


class Clients:
    def __init__(self, tmp: Path, port: int) -> None:
        self.tmp, self.port = tmp, port
        self.mb_dir = tmp / "mbsync"
        self.mb_dir.mkdir()
        self.mbsyncrc = tmp / "mbsyncrc"
        self.mbsyncrc.write_text(MBSYNCRC.format(host="127.0.0.1", port=port,
                                                 maildir=self.mb_dir))
        self.oi_dir = tmp / "offlineimap"
        self.oi_rc = tmp / "offlineimaprc"
        self.oi_rc.write_text(OFFLINEIMAPRC.format(host="127.0.0.1", port=port,
                                                   maildir=self.oi_dir, meta=tmp / "oimeta"))
        self.cached: tuple[int, int, dict[int, tuple[bytes, ...]]] | None = None

    def mbsync(self) -> str:
        return run([require_client("mbsync"), "-c", str(self.mbsyncrc), "-a"], self.tmp)

    def offlineimap(self) -> str:
        return run([require_client("offlineimap"), "-c", str(self.oi_rc), "-o", "-1"],
                   self.tmp)

    def qresync_cache(self) -> None:
        with IMAPClient("127.0.0.1", self.port, ssl=False) as client:
            client.login("demo", "demo")
            client.enable("QRESYNC")
            info = client.select_folder("INBOX")
            uids = client.search("ALL")
            flags = {uid: tuple(d[b"FLAGS"]) for uid, d in client.fetch(uids, ["FLAGS"]).items()}
            self.cached = (info[b"UIDVALIDITY"], info[b"HIGHESTMODSEQ"], flags)

    def qresync_changes(self) -> tuple[int, dict[int, tuple[bytes, ...]]]:
        assert self.cached is not None
        with IMAPClient("127.0.0.1", self.port, ssl=False) as client:
            client.login("demo", "demo")
            client.enable("QRESYNC")
            info = client.select_folder("INBOX")
            changed = client.fetch(client.search("ALL"), ["FLAGS"], modifiers=[
                f"CHANGEDSINCE {self.cached[1]}"])
            return info[b"UIDVALIDITY"], {u: tuple(d[b"FLAGS"]) for u, d in changed.items()}


def accounts(data: Path) -> None:
    """As an operator would: the accounts from Dovecot's passwd-file (INBOX only)."""
    passwd = data.parent / "users.passwd"
    passwd.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in USERS.items()))
    cli(data, "user", "import-passwd", str(passwd))


def pyimapd_on(port: int, tmp: Path, request: pytest.FixtureRequest) -> ServerHandle:
    data = tmp / "pyimapd-data"
    handle = ServerHandle(host="127.0.0.1", port=port, data_dir=data,
                          log_path=tmp / "pyimapd.log", users=USERS)
    handle.start()
    register_server(request.node, handle)
    return handle


def cli(data: Path, *argv: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "pyimapd", *argv, "--data-dir", str(data)],
                          input=stdin, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("how", ["import", "sync"])
def test_clients_do_not_notice_the_switch(how: str, tmp_path: Path,
                                          request: pytest.FixtureRequest) -> None:
    (tmp_path / "dovecot").mkdir()
    dovecot = start_dovecot(tmp_path / "dovecot", USERS)
    port = dovecot.port
    clients = Clients(tmp_path, port)
    data = tmp_path / "pyimapd-data"
    try:
        fill(dovecot.host, port)
        clients.mbsync()
        clients.offlineimap()
        clients.qresync_cache()
        if how == "sync":
            accounts(data)
            for user, password in USERS.items():
                cli(data, "sync", user, f"imap://{user}@127.0.0.1:{port}", "--quiet",
                    stdin=password + "\n")
            # Between the first and the final run: a message and a flag on Dovecot,
            # which the clients fetch from Dovecot before the switch.
            conn = imaplib.IMAP4("127.0.0.1", port)
            conn.login("demo", "demo")
            conn.append("INBOX", None, None, b"Subject: late\r\n\r\nlate\r\n")
            conn.select("INBOX")
            conn.store("1", "+FLAGS", "($Late)")
            conn.logout()
            clients.mbsync()
            clients.qresync_cache()
            for user, password in USERS.items():
                cli(data, "sync", user, f"imap://{user}@127.0.0.1:{port}", "--quiet",
                    stdin=password + "\n")
        if how == "import":  # while Dovecot's auth still answers doveadm
            accounts(data)
            for user in USERS:
                cli(data, "import", user, str(dovecot.data_dir / user), "--keep-uids",
                    "--doveadm-config", str(dovecot.conf_path), "--quiet")
    finally:
        dovecot.stop()
    before_mb, before_oi = files(clients.mb_dir), files(clients.oi_dir)
    pyimapd = pyimapd_on(port, tmp_path, request)
    try:
        # A flag changed after the switch, by another client.
        conn = imaplib.IMAP4("127.0.0.1", port)
        conn.login("demo", "demo")
        conn.select("INBOX")
        _, found = conn.uid("SEARCH", "UNFLAGGED", "UNSEEN")
        changed_uid = int(found[0].split()[0])
        conn.uid("STORE", str(changed_uid), "+FLAGS", "(\\Flagged)")
        conn.logout()
        out = clients.mbsync()
        assert "UIDVALIDITY" not in out.upper(), out
        assert files(clients.mb_dir) == before_mb, (  # nothing downloaded again
            out, sorted(set(files(clients.mb_dir)) ^ set(before_mb)))
        out = clients.offlineimap()
        assert "UIDVALIDITY" not in out.upper(), out
        assert files(clients.oi_dir) == before_oi, (out, before_oi, files(clients.oi_dir))
        assert clients.cached is not None
        uidvalidity, changes = clients.qresync_changes()
        assert uidvalidity == clients.cached[0]
        assert set(changes) == {changed_uid}, changes
        assert b"\\Flagged" in changes[changed_uid]
    finally:
        pyimapd.stop()
