"""The worker supervisor: SIGHUP reaches the workers without stopping anything, and no
worker outlives a supervisor killed with SIGKILL (it would serve the port on its own)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_sighup_forwarded_and_no_orphans_after_sigkill(tmp_path: Path) -> None:
    port = _free_port()
    argv = [sys.executable, "-m", "pyimapd", "serve", "--data-dir", str(tmp_path / "d"),
            "--listen", f"127.0.0.1:{port}", "--workers", "2"]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert _wait(lambda: len(_children(proc.pid)) == 2, 20), "workers did not start"
        workers = _children(proc.pid)
        assert _wait(lambda: _greets(port), 20)
        os.kill(proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None and all(_alive(w) for w in workers)
        assert _greets(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: not any(_alive(w) for w in workers), 10), "orphaned workers"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(100).startswith(b"* OK")
    except OSError:
        return False
