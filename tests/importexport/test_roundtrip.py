"""Round trip through the CLI: import a generated mbox and a Maildir++ tree, export to
Maildir, and compare message bytes, flags and internal dates; then mbsync reads the
exported Maildir. Also: ``--skip-existing`` makes a second import a no-op.

:func:`make_corpus` and :func:`check_round_trip` take the store as command-line
arguments, so tests/postgres runs the same round trip with ``--store postgresql://``."""

from __future__ import annotations

import os
import random
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from serverutil import create_users, require_client, run_cli

pytestmark = pytest.mark.timeout(180)

FLAG_LETTERS = {"\\Seen": "S", "\\Answered": "R", "\\Flagged": "F", "\\Draft": "D",
                "\\Deleted": "T", "$Forwarded": "P"}


@dataclass
class Msg:
    mailbox: str
    data: bytes  # LF line endings, as stored in files
    flags: frozenset[str]
    date: datetime

    @property
    def mid(self) -> str:
        m = re.search(rb"^Message-ID: <([^>]+)>", self.data, re.M)
        assert m
        return m.group(1).decode()


def make_data(rng: random.Random, n: int, tag: str) -> bytes:
    lines = [f"From: Sender {n} <s{n}@example.org>", "To: demo@example.org",
             f"Subject: {tag} message {n}", f"Message-ID: <{tag}.{n}@example.org>",
             "Date: Mon, 2 Jan 2023 10:00:00 +0000", ""]
    body = ["Hello.", "From the start of a line.", ">From quoted already.", ".dot",
            "", "x" * rng.randint(0, 300), "Caf\u00e9 in UTF-8."]
    rng.shuffle(body)
    return ("\n".join(lines + body) + "\n").encode()


def random_flags(rng: random.Random) -> frozenset[str]:
    return frozenset(f for f in FLAG_LETTERS if rng.random() < 0.4)


def write_mbox(path: Path, msgs: list[Msg]) -> None:
    """mboxrd, with Status/X-Status/X-Keywords for the flags, as Dovecot writes them."""
    with open(path, "wb") as fp:
        for m in msgs:
            header, _, body = m.data.partition(b"\n\n")
            status = ("R" if "\\Seen" in m.flags else "") + "O"
            xs = "".join(c for f, c in (("\\Answered", "A"), ("\\Flagged", "F"),
                                         ("\\Draft", "T"), ("\\Deleted", "D")) if f in m.flags)
            body = re.sub(rb"^(>*From )", rb">\1", body, flags=re.M)
            fp.write(m.date.strftime("From sender@example.org %a %b %d %H:%M:%S %Y\n").encode())
            kw = "X-Keywords: $Forwarded\n" if "$Forwarded" in m.flags else ""
            meta = f"\nStatus: {status}\nX-Status: {xs}\n{kw}\n"
            fp.write(header + meta.encode() + body + b"\n")


def write_maildir(root: Path, msgs: list[Msg]) -> None:
    """Maildir++: INBOX at the root, folders as .A.B with modified UTF-7 names."""
    for i, m in enumerate(msgs):
        name = m.mailbox
        folder = root if name == "INBOX" else root / ("." + name.replace("/", ".")
                                                       .replace("\u00e9", "&AOk-"))
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        if m.flags:
            letters = "".join(sorted(FLAG_LETTERS[f] for f in m.flags))
            path = folder / "cur" / f"{1600000000 + i}.M{i}P1.host,S={len(m.data)}:2,{letters}"
        else:
            path = folder / "new" / f"{1600000000 + i}.M{i}P1.host"
        path.write_bytes(m.data)
        os.utime(path, (m.date.timestamp(), m.date.timestamp()))


def read_export(root: Path) -> dict[str, tuple[str, bytes, frozenset[str], float]]:
    """Message-ID -> (mailbox, bytes, flags, mtime) of an exported Maildir++ tree."""
    out = {}
    letters = {v: k for k, v in FLAG_LETTERS.items()}
    for folder in [root, *[p for p in root.iterdir() if p.name.startswith(".")]]:
        name = "INBOX" if folder == root else folder.name[1:].replace(".", "/")
        name = name.replace("&AOk-", "\u00e9")
        for path in (folder / "cur").iterdir():
            data = path.read_bytes()
            m = re.search(rb"^Message-ID: <([^>]+)>", data, re.M)
            assert m, path
            info = path.name.rsplit(":2,", 1)[1]
            flags = frozenset(letters[c] for c in info)
            out[m.group(1).decode()] = (name, data, flags, path.stat().st_mtime)
    return out


def make_corpus(tmp_path: Path) -> tuple[Path, Path, list[Msg]]:
    """``old.mbox`` (60 messages for "Old mail") and a Maildir++ tree (40 messages in
    four folders, one with a non-ASCII name) with random flags and dates."""
    rng = random.Random(2033)
    start = datetime(2022, 5, 1, 12, 0, 0, tzinfo=UTC)
    mbox_msgs = [
        Msg("Old mail", make_data(rng, i, "mbox"), random_flags(rng), start + timedelta(hours=i))
        for i in range(60)
    ]
    folders = ["INBOX", "Archive", "Archive/2023", "Caf\u00e9"]
    maildir_msgs = [
        Msg(folders[i % 4], make_data(rng, i, "maildir"), random_flags(rng),
            start + timedelta(days=i))
        for i in range(40)
    ]
    write_mbox(tmp_path / "old.mbox", mbox_msgs)
    write_maildir(tmp_path / "Maildir", maildir_msgs)
    return tmp_path / "old.mbox", tmp_path / "Maildir", mbox_msgs + maildir_msgs


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path, list[Msg]]:
    return make_corpus(tmp_path)


def check_round_trip(
    tmp_path: Path, corpus: tuple[Path, Path, list[Msg]], store: list[str]
) -> tuple[Path, dict[str, tuple[str, bytes, frozenset[str], float]]]:
    """Imports ``corpus`` into the account ``demo`` of ``store`` (the ``--data-dir`` /
    ``--store`` arguments), imports the Maildir again with ``--skip-existing``, exports,
    and checks every message's mailbox, bytes, flags and date; returns the export."""
    mbox, maildir, msgs = corpus
    out = run_cli("import", "demo", str(mbox), "--mailbox", "Old mail", *store)
    assert "imported 60, skipped 0, failed 0" in out.stdout
    out = run_cli("import", "demo", str(maildir), *store)
    assert "imported 40, skipped 0, failed 0" in out.stdout
    assert "import" in out.stderr  # the progress line
    again = run_cli("import", "demo", str(maildir), "--skip-existing", "--quiet", *store)
    assert "imported 0, skipped 40, failed 0" in again.stdout

    export = tmp_path / "export"
    run_cli("export", "demo", str(export), *store)
    exported = read_export(export)
    assert len(exported) == len(msgs)
    for m in msgs:
        mailbox, body, flags, mtime = exported[m.mid]
        assert mailbox == m.mailbox
        assert body == m.data, m.mid
        assert flags == m.flags, m.mid
        assert mtime == m.date.timestamp(), m.mid

    listing = run_cli("mailbox", "list", "demo", *store).stdout
    assert re.search(r"^Archive/2023\t10 messages", listing, re.M), listing
    return export, exported


def test_import_export_round_trip_and_mbsync(
    tmp_path: Path, corpus: tuple[Path, Path, list[Msg]]
) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo"})
    export, exported = check_round_trip(tmp_path, corpus, ["--data-dir", str(data)])
    _mbsync_reads(tmp_path, export, exported)


MBSYNCRC = """\
MaildirStore exported
Inbox {export}
SubFolders Maildir++

MaildirStore copy
Path {copy}/
Inbox {copy}/INBOX
SubFolders Verbatim

Channel read
Far :exported:
Near :copy:
Patterns *
Create Near
Sync Pull
SyncState *
"""


def _mbsync_reads(tmp_path: Path, export: Path, exported: dict[str, tuple]) -> None:
    """mbsync syncs the exported Maildir++ into a fresh Maildir: same messages, flags."""
    binary = require_client("mbsync")
    copy = tmp_path / "copy"
    copy.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(MBSYNCRC.format(export=export, copy=copy))
    proc = subprocess.run([binary, "-c", str(rc), "-a"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = {}
    for path in copy.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            data = path.read_bytes()
            m = re.search(rb"^Message-ID: <([^>]+)>", data, re.M)
            assert m, path
            info = path.name.rsplit(":2,", 1)[1] if ":2," in path.name else ""
            seen[m.group(1).decode()] = (data, set(info) & set("DFRST"))
    assert set(seen) == set(exported)
    for mid, (data, letters) in seen.items():
        _, body, flags, _ = exported[mid]
        assert re.sub(rb"^X-TUID: [^\n]*\n", b"", data, flags=re.M) == body
        want = {FLAG_LETTERS[f] for f in flags} & set("DFRST")
        assert letters == want, mid


def test_import_refuses_unknown_user_and_missing_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo"})
    (tmp_path / "empty.mbox").write_bytes(b"")
    from serverutil import ServerError

    with pytest.raises(ServerError, match="No user ghost"):
        run_cli("import", "ghost", str(tmp_path / "empty.mbox"), "--data-dir", str(data))
    with pytest.raises(ServerError, match="does not exist"):
        run_cli("import", "demo", str(tmp_path / "nope"), "--data-dir", str(data))
