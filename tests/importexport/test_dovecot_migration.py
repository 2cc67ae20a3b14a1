"""Issue 20: a Dovecot Maildir store imported as it is. A real Dovecot (standalone, its
own config) gets mail, flags, keywords, an expunge and subscriptions over IMAP; then
``pyimapd import --keep-uids`` reads its Maildir and pyimapd must answer, over IMAP,
with the same UIDVALIDITY, UIDs, UIDNEXT, flags, keywords, INTERNALDATEs and
subscriptions, and a HIGHESTMODSEQ no lower than Dovecot's. A second import resumes
without duplicates."""

from __future__ import annotations

import asyncio
import imaplib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serverutil import register_server, start_dovecot, start_server

pytestmark = pytest.mark.skipif(shutil.which("dovecot") is None, reason="needs dovecot-imapd")

MAILBOXES = ("INBOX", "Lists/Work", "Archive")


def snapshot(host: str, port: int, user: str, password: str,
             mailboxes: tuple[str, ...] = MAILBOXES) -> dict[str, object]:
    """What a caching client holds: per mailbox the counters and each UID's data."""
    conn = imaplib.IMAP4(host, port)
    conn.login(user, password)
    out: dict[str, object] = {}
    try:
        for name in mailboxes:
            _, st = conn.status(name, "(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)")
            fields = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT|MESSAGES|HIGHESTMODSEQ) (\d+)",
                                     st[0]))
            conn.select(name, readonly=True)
            _, data = conn.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
            rows = []
            for item in data:
                if not isinstance(item, bytes) or b"UID" not in item:
                    continue
                uid = int(re.search(rb"UID (\d+)", item).group(1))  # type: ignore[union-attr]
                flags = sorted(re.search(rb"FLAGS \(([^)]*)\)", item).group(1)  # type: ignore[union-attr]
                               .replace(b"\\Recent", b"").split())
                date = re.search(rb'INTERNALDATE "([^"]+)"', item).group(1)  # type: ignore[union-attr]
                size = int(re.search(rb"RFC822.SIZE (\d+)", item).group(1))  # type: ignore[union-attr]
                rows.append((uid, flags, date, size))
            out[name] = ({k.decode(): int(v) for k, v in fields.items()}, sorted(rows))
        _, subs = conn.lsub()
        out["subscribed"] = sorted(s.rsplit(b" ", 1)[-1].strip(b'"') for s in subs if s)
    finally:
        conn.logout()
    return out


def test_import_keeps_what_clients_cache(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    (tmp_path / "dovecot").mkdir()
    dovecot = start_dovecot(tmp_path / "dovecot", {"demo": "demo"})
    try:
        conn = imaplib.IMAP4(dovecot.host, dovecot.port)
        conn.login("demo", "demo")
        for name in ("Lists/Work", "Archive"):
            conn.create(name)
        conn.subscribe("Lists/Work")
        conn.subscribe("INBOX")
        for n in range(6):
            flags = "(\\Seen $Work)" if n % 2 else "(\\Flagged)"
            conn.append("INBOX", flags, f'"0{n + 1}-Mar-2024 10:00:00 +0200"',
                        f"Subject: inbox {n}\r\nMessage-ID: <i{n}@x>\r\n\r\nbody {n}\r\n".encode())
        conn.append("Lists/Work", "(Junk \\Answered)", '"10-Feb-2024 09:30:00 -0500"',
                    b"Subject: work\r\n\r\nwork\r\n")
        conn.select("INBOX")
        conn.store("2,5", "+FLAGS", "(\\Deleted)")
        conn.expunge()  # UIDs 2 and 5 are gone: the gaps must stay
        conn.store("1", "+FLAGS", "(\\Answered NonJunk)")
        conn.logout()
        before = snapshot(dovecot.host, dovecot.port, "demo", "demo")
        maildir = dovecot.data_dir / "demo"
        conf = dovecot.conf_path
        (tmp_path / "pyimapd").mkdir()
        pyimapd = start_server(tmp_path / "pyimapd", {"demo": "demo"})
        register_server(request.node, pyimapd)
        try:
            argv = [sys.executable, "-m", "pyimapd", "import", "demo", str(maildir),
                    "--keep-uids", "--doveadm-config", str(conf), "--quiet",
                    "--data-dir", str(pyimapd.data_dir)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            after = snapshot(pyimapd.host, pyimapd.port, "demo", "demo")
            again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "imported 0" in again.stdout, again.stdout
            resumed = snapshot(pyimapd.host, pyimapd.port, "demo", "demo")
        finally:
            pyimapd.stop()
    finally:
        dovecot.stop()
    for name in MAILBOXES:
        (counters_before, rows_before) = before[name]  # type: ignore[misc]
        (counters_after, rows_after) = after[name]  # type: ignore[misc]
        assert rows_after == rows_before, name
        for key in ("UIDVALIDITY", "UIDNEXT", "MESSAGES"):
            assert counters_after[key] == counters_before[key], (name, key)
        assert counters_after["HIGHESTMODSEQ"] >= counters_before["HIGHESTMODSEQ"], name
    assert [r[0] for r in before["INBOX"][1]] == [1, 3, 4, 6]  # type: ignore[index]
    assert after["subscribed"] == before["subscribed"]
    assert resumed == after


def _folder(root: Path, uidlist: str, files: list[str]) -> None:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(files):
        (root / "cur" / name).write_bytes(f"Subject: m{n}\r\n\r\nbody\r\n".encode())
    (root / "dovecot-uidlist").write_text(uidlist)


@pytest.mark.parametrize(("uidlist", "reason"), [
    ("3 V0 N3 Gx\n1 :a\n2 :b\n", "UIDVALIDITY 0 is not valid"),
    ("3 V42 N3 Gx\n1 :a\n1 :b\n", "UID 1 is given twice"),
    ("3 V42 N3 Gx\n1 :a\n2 :a\n", "a is listed twice"),
    ("3 V42 N\n1 :a\n", "unreadable dovecot-uidlist header"),
    ("", "the dovecot-uidlist is empty"),
])
def test_hostile_uidlists_get_new_uids(tmp_path: Path, uidlist: str, reason: str) -> None:
    """Issue 20, acceptance 3: a clear message and a safe outcome: the folder is
    imported whole with new UIDs, and the report says why; with --keep-uids the import
    stops before anything of that mailbox is written."""
    root = tmp_path / "maildir"
    _folder(root, uidlist, ["a:2,S", "b:2,"])
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "pyimapd", "user", "add", "demo", "--password-stdin",
                    "--data-dir", str(data)], input="demo\n", check=True, text=True)
    strict = subprocess.run([sys.executable, "-m", "pyimapd", "import", "demo", str(root),
                             "--keep-uids", "--quiet", "--data-dir", str(data)],
                            capture_output=True, text=True)
    assert strict.returncode != 0 and reason in strict.stderr, strict.stderr
    done = subprocess.run([sys.executable, "-m", "pyimapd", "import", "demo", str(root),
                           "--quiet", "--data-dir", str(data)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"note: INBOX: new UIDs, because {reason}" in done.stdout, done.stdout
    assert "imported 2," in done.stdout


def test_files_not_in_the_uidlist_come_after(tmp_path: Path) -> None:
    """A truncated uidlist (the last entry cut) or a just-delivered file: those files
    get UIDs after the listed ones; the listed ones keep theirs."""
    root = tmp_path / "maildir"
    _folder(root, "3 V42 N8 Gx\n3 :a\n7 :b\n9 :c", ["a:2,S", "b:2,", "new1:2,"])
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "pyimapd", "user", "add", "demo", "--password-stdin",
                    "--data-dir", str(data)], input="demo\n", check=True, text=True)
    done = subprocess.run([sys.executable, "-m", "pyimapd", "import", "demo", str(root),
                           "--keep-uids", "--quiet", "--data-dir", str(data)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _uids(data) == (42, [3, 7, 10], 11)  # 9 was given to "c": never reused


def _uids(data: Path) -> tuple[int, list[int], int]:
    """(UIDVALIDITY, UIDs, UIDNEXT) of INBOX in the store under ``data``."""
    from pyimapd.config import Config
    from pyimapd.server import open_backend

    async def read() -> tuple[int, list[int], int]:
        backend = open_backend(Config(data_dir=data))
        await backend.start()
        try:
            store = await backend.open("demo")
            selected, result = await store.select("INBOX", readonly=True)
            await selected.close()
            return result.uidvalidity, list(result.uids), result.uidnext
        finally:
            await backend.close()

    return asyncio.run(read())


def test_mdbox_through_doveadm(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Dovecot's own formats (here mdbox) are not read by pyimapd: ``pyimapd import USER
    doveadm:`` has Dovecot write them as a Maildir with UIDs (doveadm backup), then
    imports that, UIDs kept."""
    (tmp_path / "dovecot").mkdir()
    dovecot = start_dovecot(tmp_path / "dovecot", {"demo": "demo"})
    dovecot.stop()
    conf = dovecot.conf_path
    conf.write_text(conf.read_text().replace("mail_location = maildir:", "mail_location = mdbox:"))
    dovecot.start()
    try:
        conn = imaplib.IMAP4(dovecot.host, dovecot.port)
        conn.login("demo", "demo")
        conn.create("Lists/Work")
        for n in range(4):
            conn.append("INBOX", "($Work)" if n == 1 else None, None,
                        f"Subject: {n}\r\n\r\nb\r\n".encode())
        conn.select("INBOX")
        conn.store("1", "+FLAGS", "(\\Deleted)")
        conn.expunge()
        conn.logout()
        assert not (dovecot.data_dir / "demo" / "dovecot-uidlist").exists()  # not a Maildir
        before = snapshot(dovecot.host, dovecot.port, "demo", "demo", ("INBOX", "Lists/Work"))
        (tmp_path / "pyimapd").mkdir()
        pyimapd = start_server(tmp_path / "pyimapd", {"demo": "demo"})
        register_server(request.node, pyimapd)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pyimapd", "import", "demo", "doveadm:",
                 "--doveadm-config", str(conf), "--quiet", "--data-dir", str(pyimapd.data_dir)],
                capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            after = snapshot(pyimapd.host, pyimapd.port, "demo", "demo", ("INBOX", "Lists/Work"))
        finally:
            pyimapd.stop()
    finally:
        dovecot.stop()
    for name in ("INBOX", "Lists/Work"):
        assert after[name][1] == before[name][1], name  # type: ignore[index]
        assert after[name][0]["UIDVALIDITY"] == before[name][0]["UIDVALIDITY"]  # type: ignore[index]
    assert [r[0] for r in before["INBOX"][1]] == [2, 3, 4]  # type: ignore[index]
