"""What a Dovecot Maildir store records beyond the Maildir itself (issue 20): the UIDs
(``dovecot-uidlist``), the subscriptions, and, through ``doveadm``, the HIGHESTMODSEQ
clients have seen. Only Dovecot's documented text files are read; its binary index
files never are (their format is Dovecot's own and changes between versions).

``dovecot-uidlist`` (Dovecot's "maildir format" documentation): a header line, version
3 ``3 V<uidvalidity> N<next uid> G<guid> ...`` or version 1 ``1 <uidvalidity> <next
uid>``, then one line per message, ``<uid> [<extension fields>] :<base name>`` (version
3) or ``<uid> <base name>`` (version 1). The base name is the file name without its
``:2,<flags>`` info. Dovecot rewrites the file lazily: it may still list expunged
messages (their files are gone, so they are not imported) and its ``N`` may lag behind
the index, so the next UID taken is the larger of ``N`` and one past the highest UID
listed. A file it does not list yet (just delivered) gets a new UID after them.

``subscriptions`` (version 2): ``V<TAB>2``, an empty line, then one mailbox per line
with its hierarchy levels separated by TAB. Older files list one name per line.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pyimapd.import")

UIDLIST_FILE = "dovecot-uidlist"
SUBSCRIPTIONS_FILE = "subscriptions"
DOVEADM_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class UidList:
    uidvalidity: int
    next_uid: int
    uids: dict[str, int]
    """File base name -> UID."""
    problem: str | None = None
    """Why these UIDs cannot be kept (a UIDVALIDITY of 0, a UID given twice, a name
    listed twice, an unreadable header): the folder is then imported with new UIDs."""


def base_name(file_name: str) -> str:
    """A Maildir file's name without its ``:2,`` (or ``!2,``) info part."""
    for sep in (":", "!"):
        if sep in file_name:
            return file_name.split(sep, 1)[0]
    return file_name


def read_uidlist(folder: Path) -> UidList | None:
    """The folder's ``dovecot-uidlist``, None when there is none or it is unreadable."""
    try:
        lines = (folder / UIDLIST_FILE).read_text("utf-8", "replace").splitlines()
    except OSError:
        return None
    if not lines:
        return UidList(0, 1, {}, "the dovecot-uidlist is empty")
    head = lines[0].split()
    try:
        if head[0] == "3":
            fields = {f[0]: f[1:] for f in head[1:] if f}
            uidvalidity, next_uid = int(fields["V"]), int(fields.get("N", "1"))
        elif head[0] == "1":
            uidvalidity, next_uid = int(head[1]), int(head[2])
        else:
            return UidList(0, 1, {}, f"unknown dovecot-uidlist version {head[0]!r}")
    except (IndexError, KeyError, ValueError):
        return UidList(0, 1, {}, f"unreadable dovecot-uidlist header {lines[0][:80]!r}")
    problem = None
    if not 0 < uidvalidity <= 0xFFFFFFFF:
        problem = f"UIDVALIDITY {uidvalidity} is not valid"
    uids: dict[str, int] = {}
    taken: set[int] = set()
    for line in lines[1:]:
        uid_text, _, rest = line.partition(" ")
        if not uid_text.isdigit():
            continue
        if head[0] == "3":
            _, colon, name = rest.partition(":")
            if not colon:
                continue
        else:
            name = rest.strip()
        if not name:
            continue
        uid, base = int(uid_text), base_name(name)
        if not 0 < uid <= 0xFFFFFFFF:
            problem = problem or f"UID {uid} is not valid"
        elif uid in taken:
            problem = problem or f"UID {uid} is given twice"
        elif base in uids:
            problem = problem or f"{base} is listed twice"
        uids[base] = uid
        taken.add(uid)
    return UidList(uidvalidity, next_uid, uids, problem)


def read_subscriptions(root: Path) -> list[str]:
    """The subscribed names, with ``/`` between levels."""
    try:
        lines = (root / SUBSCRIPTIONS_FILE).read_text("utf-8", "replace").splitlines()
    except OSError:
        return []
    if lines and lines[0].startswith("V\t"):
        return ["/".join(line.split("\t")) for line in lines[1:] if line.strip()]
    return [line.strip() for line in lines if line.strip()]


class DoveadmError(Exception):
    pass


def export_maildir(user: str, config: Path | None, target: Path) -> None:
    """Any Dovecot store (mdbox, sdbox, maildir...) copied to a Maildir with its UIDs,
    by Dovecot itself (``doveadm backup``, which is dsync): the way into pyimapd for the
    formats whose files pyimapd does not read. ``target`` must not exist; its parent
    must be reachable by Dovecot's mail user."""
    doveadm = shutil.which("doveadm")
    if doveadm is None:
        raise DoveadmError("doveadm is not installed")
    argv = [doveadm, *(["-c", str(config)] if config else []), "backup", "-u", user,
            f"maildir:{target}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DoveadmError(f"doveadm backup failed: {exc}") from exc
    if done.returncode != 0:
        raise DoveadmError("doveadm backup failed (is Dovecot running?): "
                           + done.stderr.strip()[-300:])


def highest_modseqs(user: str, config: Path | None) -> dict[str, int]:
    """HIGHESTMODSEQ per mailbox as Dovecot reports it (``doveadm mailbox status``).
    doveadm asks Dovecot's auth service for the user, so Dovecot must be running (with
    its IMAP and LMTP listeners closed for the cut-over). Raises DoveadmError: asked for
    and not available, the import must not go on with MODSEQs a client would see go
    back."""
    doveadm = shutil.which("doveadm")
    if doveadm is None:
        raise DoveadmError("doveadm is not installed")
    argv = [doveadm, *(["-c", str(config)] if config else []), "-f", "tab", "mailbox",
            "status", "-u", user, "highestmodseq", "*"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=DOVEADM_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DoveadmError(f"doveadm failed: {exc}") from exc
    if done.returncode != 0:
        raise DoveadmError("doveadm mailbox status failed (is Dovecot running?): "
                           + done.stderr.strip()[-300:])
    found: dict[str, int] = {}
    for line in done.stdout.splitlines()[1:]:  # a header line first
        name, _, modseq = line.rpartition("\t")
        if name and modseq.isdigit():
            found[name] = int(modseq)
    return found
