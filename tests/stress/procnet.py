"""Which process holds the server end of a TCP connection (Linux /proc), so a test can
tell which worker a client landed on without asking the server."""

from __future__ import annotations

import os
import re
from pathlib import Path

SOCKET_LINK = re.compile(r"socket:\[(\d+)\]")


def _inodes_by_local_port(port: int) -> set[int]:
    """Inodes of the server-side sockets whose *remote* port is ``port``."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port:
                found.add(int(fields[9]))
    return found


def owner_pid(client_port: int, candidates: list[int]) -> int | None:
    """The pid among ``candidates`` holding the accepted end of the connection whose
    client side has local port ``client_port``."""
    inodes = _inodes_by_local_port(client_port)
    for pid in candidates:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                m = SOCKET_LINK.match(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            if m and int(m.group(1)) in inodes:
                return pid
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the workers of a supervisor)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(p) for p in text)
    return out
