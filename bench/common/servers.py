"""The three servers of the side-by-side benchmark, each loaded with the same Maildir trees.

How this works: the data set is one Maildir++ tree per user (bench/common/dataset.py).
Every server gets the same argon2id cost for its password hashes, set in its own terms:

* **pyimapd**: ``[argon2]`` in a config file (users added by ``pyimapd user add`` hash
  with it), ``[auth] login_cache_ttl = 0`` so that every LOGIN pays the hash, as on the
  other two. Mail goes in through :class:`pyimapd.mailio.importer.Importer` (the store
  API, as ``pyimapd import``), with ``synchronous=OFF`` for the bulk load only: the
  served store reopens with its normal ``synchronous=FULL``.
* **Dovecot 2.3**: the private instance of ``tests/differential/dovecot.py`` in PEERS.md's
  fast mode, passwd-file entries ``{ARGON2ID}$argon2id$...``; the trees are hard-linked
  into its mail directory (owned by nobody) and indexed at a warm-up SELECT.
* **pymap 0.36.7**: its own venv (``bench/.venvs/pymap``, with passlib + argon2-cffi, its
  ``optional`` extra, so it verifies the same ``$argon2id$`` strings), maildir backend,
  trees hard-linked under its base directory.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from differential.dovecot import Dovecot  # noqa: E402

ARGON2 = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
PYMAP_VENV = ROOT / "bench" / ".venvs" / "pymap"
PYIMAPD_PY = ROOT / ".venv" / "bin" / "python"

PYIMAPD_CONFIG = """\
[argon2]
time_cost = {time_cost}
memory_cost = {memory_cost}
parallelism = {parallelism}

[auth]
login_cache_ttl = 0

[limits]
max_connections = 5000
max_connections_per_ip = 5000
"""

DOVECOT_EXTRA = """
default_process_limit = 300
default_client_limit = 3000
"""


def argon2_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(**ARGON2).hash(password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_greeting(port: int, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None,
                  log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            text = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if s.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)  # readiness polling interval
    raise RuntimeError(f"no greeting on port {port} after {timeout} s")


def link_tree(src: Path, dst: Path) -> None:
    """A copy of a Maildir tree whose files are hard links (messages are immutable)."""
    shutil.copytree(src, dst, copy_function=os.link, dirs_exist_ok=True)


@dataclass
class Server:
    name: str
    port: int
    pid: int = 0
    proc: subprocess.Popen[bytes] | None = None
    dovecot: Dovecot | None = None
    notes: list[str] = field(default_factory=list)
    relaunch: Callable[[], Server] | None = None
    """Starts the same server on the same data again (after :meth:`stop`)."""

    def stop(self) -> None:
        if self.dovecot is not None:
            self.dovecot.stop()
        elif self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


# --- pyimapd -----------------------------------------------------------------------------

def pyimapd_config(work: Path) -> Path:
    conf = work / "pyimapd.toml"
    conf.write_text(PYIMAPD_CONFIG.format(**ARGON2))
    return conf


def load_pyimapd(work: Path, trees: dict[str, Path], password: str) -> Path:
    """Users and mail into ``work/pyimapd-data``; returns the data dir."""
    data, conf = work / "pyimapd-data", pyimapd_config(work)
    for user in trees:
        subprocess.run([str(PYIMAPD_PY), "-m", "pyimapd", "user", "add", user,
                        "--password-stdin", "--config", str(conf), "--data-dir", str(data)],
                       input=password.encode(), check=True, capture_output=True)
    asyncio.run(_bulk_import(data, list(trees.items())))
    return data


async def _bulk_import(data: Path, pairs: list[tuple[str, Path]]) -> None:
    """The import path of ``pyimapd import``, without an fsync per message."""
    from pyimapd.mailio.importer import Importer
    from pyimapd.storage.sqlite import db
    from pyimapd.storage.sqlite.backend import SqliteBackend

    normal = db.open_connection

    def bulk(path: Path, **options: int) -> object:
        conn = normal(path, **options)
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    db.open_connection = bulk  # type: ignore[assignment]
    backend = SqliteBackend(data)
    await backend.start()
    try:
        for user, tree in pairs:
            stats = await Importer(backend, user, progress=False).run(tree)
            if stats.failed:
                raise RuntimeError(f"import of {user} failed: {stats.errors[:3]}")
    finally:
        await backend.close()
        db.open_connection = normal


def start_pyimapd(work: Path, data: Path, workers: int = 0) -> Server:
    port = free_port()
    log = work / "pyimapd.log"
    cmd = [str(PYIMAPD_PY), "-m", "pyimapd", "serve", "--data-dir", str(data),
           "--listen", f"127.0.0.1:{port}", "--config", str(pyimapd_config(work)),
           "--log-level", "WARNING"]
    if workers:
        cmd += ["--workers", str(workers)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=work)
    wait_greeting(port, proc=proc, log=log)
    return Server("pyimapd", port, proc.pid, proc=proc)


# --- Dovecot -----------------------------------------------------------------------------

def start_dovecot(trees: dict[str, Path], password: str) -> Server:
    hashed = "{ARGON2ID}" + argon2_hash(password)
    dovecot = Dovecot({u: hashed for u in trees}, fast=True, extra=DOVECOT_EXTRA,
                      schemed=True)
    nobody = pwd.getpwnam("nobody")
    for user, tree in trees.items():
        link_tree(tree, dovecot.base / "mail" / user)
    for dirpath, dirnames, filenames in os.walk(dovecot.base / "mail"):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), nobody.pw_uid, nobody.pw_gid)
    dovecot.start()
    return Server("dovecot", dovecot.port, dovecot.master_pid(), dovecot=dovecot,
                  notes=["fast mode: service_count=0 for imap-login and imap"])


# --- pymap -------------------------------------------------------------------------------

def start_pymap(work: Path, trees: dict[str, Path], password: str) -> Server:
    base = work / "pymap"
    base.mkdir(parents=True, exist_ok=True)
    hashed = argon2_hash(password)
    passwd, shadow = [], []
    for user, tree in trees.items():
        link_tree(tree, base / "mail" / user)
        passwd.append(f"{user}::1000:1000::mail/{user}:/bin/false\n")
        shadow.append(f"{user}:{hashed}:::::::\n")
    (base / "pymap-etc-passwd").write_text("".join(passwd))
    (base / "pymap-etc-shadow").write_text("".join(shadow))
    return _launch_pymap(work, base)


def _launch_pymap(work: Path, base: Path) -> Server:
    port = free_port()
    log = work / "pymap.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(PYMAP_VENV / "bin" / "pymap"), "--host", "127.0.0.1", "--port", str(port),
             "--no-tls", "maildir", str(base)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=work)
    wait_greeting(port, proc=proc, log=log)
    return Server("pymap", port, proc.pid, proc=proc,
                  relaunch=lambda: _launch_pymap(work, base))


def main() -> None:
    """``python -m bench.common.servers load WORK PASSWORD USER=TREE...``: load_pyimapd in
    a process of its own, so that it runs while the other servers warm up."""
    if len(sys.argv) > 3 and sys.argv[1] == "load":
        trees = {a.split("=", 1)[0]: Path(a.split("=", 1)[1]) for a in sys.argv[4:]}
        load_pyimapd(Path(sys.argv[2]), trees, sys.argv[3])


if __name__ == "__main__":
    main()
