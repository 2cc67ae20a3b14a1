"""A private Dovecot on loopback, as /work/shared/PEERS.md describes: its own base_dir,
state_dir and log_path in a temp dir, passwd-file users, a maildir owned by nobody.
Started with ``dovecot -c FILE`` (it daemonises) and stopped with ``doveadm -c FILE
stop``. Used by the differential test and by ``bench/search``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
protocols = imap
auth_mechanisms = plain
auth_failure_delay = 0
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
mail_location = maildir:{base}/mail/%u
default_internal_user = nobody
default_login_user = nobody
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
  default_fields = uid=nobody gid=nogroup home={base}/mail/%u
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{fast_login}}}
service imap {{
{fast_imap}}}
service anvil {{
  chroot =
}}
"""

READY_TIMEOUT = 20.0


class DovecotMissing(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """``with Dovecot(users) as d:`` -> ``d.port``. ``fast`` turns on PEERS.md's fast
    mode (login and imap processes reused), for fair benchmarks."""

    def __init__(self, users: dict[str, str], fast: bool = False, extra: str = "",
                 schemed: bool = False) -> None:
        if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
            raise DovecotMissing("dovecot is not installed (apt-get install dovecot-imapd)")
        self.users = users
        self.fast = fast
        self.extra = extra  # more settings, e.g. "mail_fsync = never" for bulk loads
        self.schemed = schemed  # passwords already "{SCHEME}hash" (bench: {ARGON2ID})
        self.base = Path(tempfile.mkdtemp(prefix="pyimapd-diff-dovecot-"))
        self.conf = self.base / "dovecot.conf"
        self.port = _free_port()

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        base = self.base
        base.chmod(0o755)
        nobody = pwd.getpwnam("nobody")
        (base / "mail").mkdir(exist_ok=True)
        os.chown(base / "mail", nobody.pw_uid, nobody.pw_gid)
        (base / "passwd").write_text(
            "".join(f"{u}:{p if self.schemed else '{PLAIN}' + p}::::::\n"
                    for u, p in self.users.items()))
        fast_login = "  service_count = 0\n  process_min_avail = 2\n" if self.fast else ""
        fast_imap = "  service_count = 0\n" if self.fast else ""
        self.conf.write_text(CONF.format(base=base, port=self.port, fast_login=fast_login,
                                         fast_imap=fast_imap) + self.extra)
        with open(base / "stdout.log", "wb") as out:
            subprocess.run(["dovecot", "-c", str(self.conf)], stdout=out,
                           stderr=subprocess.STDOUT, check=True, timeout=30)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)  # readiness polling interval
        raise RuntimeError(f"dovecot did not start:\n{self.log()}")

    def master_pid(self) -> int:
        return int((self.base / "run" / "master.pid").read_text().strip())

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def stop(self) -> None:
        """``doveadm stop``, then wait for the master to exit before removing its files."""
        pid = None
        try:
            pid = self.master_pid()
        except (OSError, ValueError):
            pass
        if self.conf.exists():
            subprocess.run(["doveadm", "-c", str(self.conf), "stop"], timeout=30,
                           capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while pid is not None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the master to exit
        shutil.rmtree(self.base, ignore_errors=True)
