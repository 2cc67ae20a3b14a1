"""Start and stop a real pyimapd server (or, for cross-checking, Dovecot) on loopback.

How this works: users are created with the CLI (``python -m pyimapd user add NAME
--password-stdin --data-dir DIR``), then ``python -m pyimapd serve`` runs as a child
process on a free 127.0.0.1 port with its stderr and stdout going to a log file in the
test's tmp_path.  ``start_server`` returns only once the IMAP greeting has been read from
the port (a readiness check, not a sleep), bounded by ``READY_TIMEOUT``.  On any failure
the server's log is put in the exception text, so a failing CI run shows why.

Creating users costs a Python start-up and an argon2 hash per user, so a data dir with the
users already in it is built once per distinct user set and copied for every new server
(``PYIMAPD_TEST_NO_TEMPLATE=1`` turns this off).

``PYIMAPD_TEST_TARGET=dovecot`` makes ``start_server`` run a private Dovecot instead (see
/work/shared/PEERS.md); that is only for checking the tests' RFC semantics by hand, the
tests target pyimapd.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# PYIMAPD_TEST_SRC runs the tests against another checkout's src (e.g. a snapshot).
SRC_DIR = Path(os.environ.get("PYIMAPD_TEST_SRC") or REPO_ROOT / "src")
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 30.0
HOST = "127.0.0.1"

DEFAULT_USERS: dict[str, str] = {"demo": "demo", "mrc": "secret"}

_templates: dict[tuple[tuple[str, str], ...], Path] = {}


class ServerError(RuntimeError):
    """The server could not be set up, started or stopped as expected."""


def python_env() -> dict[str, str]:
    """The environment for pyimapd child processes: ``src`` first on the import path."""
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(SRC_DIR) + (os.pathsep + old if old else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def pyimapd_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pyimapd", *args]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pyimapd ARGS``; raise ServerError with its output if it fails."""
    cmd = pyimapd_cmd(*args)
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            env=python_env(),
            cwd=REPO_ROOT,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{' '.join(cmd)} did not finish in {CLI_TIMEOUT}s") from exc
    if proc.returncode != 0:
        raise ServerError(
            f"pyimapd CLI failed (exit {proc.returncode}): {' '.join(cmd[1:])}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def create_users(data_dir: Path, users: dict[str, str]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, password in users.items():
        run_cli(
            "user", "add", name, "--password-stdin", "--data-dir", str(data_dir), stdin=password
        )


_pg_templates: dict[tuple[tuple[str, str], ...], str] = {}


def postgres_store(users: dict[str, str]) -> str:
    """A fresh database on the test PostgreSQL (tests/pgutil.py), migrated with ``pyimapd
    db migrate`` and holding ``users``: the URL to pass as ``--store``. As for SQLite, the
    first one per user set is kept as a template and later ones are copies of it
    (``PYIMAPD_TEST_NO_TEMPLATE=1`` turns this off)."""
    from pgutil import new_database

    key = tuple(sorted(users.items()))
    if os.environ.get("PYIMAPD_TEST_NO_TEMPLATE") != "1" and key in _pg_templates:
        return new_database(template=_pg_templates[key])
    url = new_database()
    run_cli("db", "migrate", "--store", url)
    for name, password in users.items():
        run_cli("user", "add", name, "--password-stdin", "--store", url, stdin=password)
    _pg_templates[key] = url.rsplit("/", 1)[1]
    return new_database(template=_pg_templates[key])


def _prepare_data_dir(data_dir: Path, users: dict[str, str]) -> None:
    if os.environ.get("PYIMAPD_TEST_NO_TEMPLATE") == "1":
        create_users(data_dir, users)
        return
    key = tuple(sorted(users.items()))
    template = _templates.get(key)
    if template is None:
        base = Path(tempfile.mkdtemp(prefix="pyimapd-template-"))
        atexit.register(shutil.rmtree, base, True)
        template = base / "data"
        create_users(template, users)
        _templates[key] = template
    shutil.copytree(template, data_dir, dirs_exist_ok=True)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def wait_group_gone(pgid: int, timeout: float) -> list[int]:
    """Poll until no process of the group is left; return those still there at the end."""
    deadline = time.monotonic() + timeout
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval of an exit check
    return left


def read_tagged(sock: socket.socket, tag: bytes) -> bytes:
    """Everything the server sends up to and including the tagged response ``tag``."""
    data = b""
    done = re.compile(rb"(?m)^" + re.escape(tag) + rb" (OK|NO|BAD)[^\r\n]*\r\n")
    while not done.search(data):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise AssertionError(f"connection closed before {tag!r}: {data[-300:]!r}")
        data += chunk
    return data


def read_greeting(host: str, port: int, timeout: float) -> bytes:
    """Connect once and return the first line the server sends."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"connection closed before a greeting, got {buf!r}")
            buf += chunk
        with contextlib.suppress(OSError):
            sock.sendall(b"z LOGOUT\r\n")
        return buf.split(b"\r\n", 1)[0]


@dataclass
class ServerHandle:
    """A running server: where it listens, where its data lives, and how to stop it."""

    host: str
    port: int
    data_dir: Path
    log_path: Path
    store: str = "sqlite"
    extra_args: tuple[str, ...] = ()
    users: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    greeting: bytes = b""
    kind: str = "pyimapd"
    _starts: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        args = ["serve", "--data-dir", str(self.data_dir), "--listen", self.address]
        args += ["--store", self.store, *self.extra_args]
        return pyimapd_cmd(*args)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def _fail(self, message: str) -> ServerError:
        return ServerError(f"{message}\n--- server log {self.log_path} ---\n{self.log_text()}")

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        self._starts += 1
        log = self.log_path.open("ab")
        log.write(f"=== start #{self._starts}: {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=python_env(),
            cwd=REPO_ROOT,
            start_new_session=True,  # its own process group: kill() reaches every worker
        )
        log.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll until a greeting can be read; fail at once if the process exits."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise self._fail(f"server exited with code {self.proc.returncode} before ready")
            try:
                self.greeting = read_greeting(self.host, self.port, timeout=2.0)
            except (OSError, ConnectionError) as exc:
                last_error = exc
                time.sleep(0.05)  # polling interval of a readiness check, not a sync sleep
                continue
            if not self.greeting.startswith(b"* OK"):
                raise self._fail(f"unexpected greeting {self.greeting!r}")
            return
        self.kill()
        raise self._fail(f"server not ready within {timeout}s (last error: {last_error!r})")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM to the server, and wait for it and every process it started to exit.

        A server that does not stop in time, or leaves workers behind, is killed and
        reported."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                kill_group(proc.pid)
                proc.wait(5)
                raise self._fail(f"server did not stop within {timeout}s of SIGTERM") from exc
        left = wait_group_gone(proc.pid, 5.0)
        if left:
            kill_group(proc.pid)
            raise self._fail(f"processes {left} outlived the server's SIGTERM shutdown")
        return int(proc.returncode)

    def kill(self) -> None:
        """SIGKILL to the server's whole process group, as a crash would: nothing flushes."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        kill_group(proc.pid)
        proc.wait(5)
        left = wait_group_gone(proc.pid, 5.0)
        if left:
            raise self._fail(f"processes {left} survived SIGKILL")

    def restart(self) -> None:
        if self.proc is not None:
            self.stop()
        self.start()

    def connect(self, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock


def start_server(
    tmp_path: Path,
    users: dict[str, str] | None = None,
    store: str = "sqlite",
    extra_args: tuple[str, ...] | list[str] = (),
) -> ServerHandle:
    """Create ``users`` in a fresh data dir under tmp_path and serve it on a free port."""
    users = dict(DEFAULT_USERS if users is None else users)
    if os.environ.get("PYIMAPD_TEST_TARGET") == "dovecot":
        return start_dovecot(tmp_path, users)
    data_dir = tmp_path / "data"
    _prepare_data_dir(data_dir, users)
    if store == "postgres":
        store = postgres_store(users)
    handle = ServerHandle(
        host=HOST,
        port=free_port(),
        data_dir=data_dir,
        log_path=tmp_path / "server.log",
        store=store,
        extra_args=tuple(extra_args),
        users=users,
    )
    handle.start()
    return handle


SERVERS_KEY = pytest.StashKey[list[ServerHandle]]()


def register_server(node: pytest.Item | pytest.Collector, handle: ServerHandle) -> None:
    """Attach a server to a test node, so its log is added to the report on failure."""
    node.stash.setdefault(SERVERS_KEY, []).append(handle)


def require_client(binary: str) -> str:
    """Path of a client program; a missing one fails the test unless explicitly allowed."""
    path = shutil.which(binary)
    if path is not None:
        return path
    if os.environ.get("PYIMAPD_ALLOW_MISSING_CLIENTS") == "1":
        pytest.skip(f"{binary} is not installed (PYIMAPD_ALLOW_MISSING_CLIENTS=1)")
    pytest.fail(
        f"{binary} is not installed; install it (CI's .ci/run does) or set "
        "PYIMAPD_ALLOW_MISSING_CLIENTS=1 to skip"
    )


# --- Dovecot, for checking the tests themselves (see PEERS.md) -------------------------

DOVECOT_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
protocols = imap
auth_mechanisms = plain
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
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
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@dataclass
class DovecotHandle(ServerHandle):
    conf_path: Path = Path()

    def command(self) -> list[str]:
        return ["dovecot", "-F", "-c", str(self.conf_path)]

    def log_text(self) -> str:
        main = super().log_text()
        extra = self.conf_path.parent / "dovecot.log"
        return main + (extra.read_text(errors="replace") if extra.exists() else "")


def start_dovecot(tmp_path: Path, users: dict[str, str]) -> DovecotHandle:
    if shutil.which("dovecot") is None:
        raise ServerError("PYIMAPD_TEST_TARGET=dovecot but dovecot is not installed")
    base = Path(tempfile.mkdtemp(prefix="pyimapd-dovecot-"))
    atexit.register(shutil.rmtree, base, True)
    base.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    (base / "mail").mkdir()
    os.chown(base / "mail", nobody.pw_uid, nobody.pw_gid)
    (base / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
    port = free_port()
    conf = base / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(base=base, port=port))
    handle = DovecotHandle(
        host=HOST,
        port=port,
        data_dir=base / "mail",
        log_path=tmp_path / "server.log",
        users=users,
        kind="dovecot",
        conf_path=conf,
    )
    handle.start()
    return handle
