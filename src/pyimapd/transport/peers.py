"""Change signals between the worker processes sharing one data dir.

This is the transport of :mod:`pyimapd.storage.feed` for worker processes sharing one
data dir (``pyimapd serve --workers N`` on SQLite): each process binds a UNIX datagram socket
``RUN_DIR/w<pid>.sock``, and a local notification sends one tiny datagram,
``user NUL mailbox``, to every other socket in the directory (sockets of dead processes
are removed when a send is refused). Nothing polls: the receiving loop is woken by the
kernel (``loop.add_reader``). Because a UNIX datagram is in the receiver's queue when
``send`` returns, and the writer only answers its client after notifying, a session that
checks for changes first :meth:`pumps <PeerChangeFeed.pump>` its queue; so a client that
saw another connection's tagged OK always sees that change on its next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path

from pyimapd.storage.feed import LocalChangeFeed

log = logging.getLogger("pyimapd.feed")

SOCKET_PREFIX = "w"
SOCKET_SUFFIX = ".sock"
MAX_DATAGRAM = 8192
"""User names are at most 255 octets and mailbox names a few hundred: plenty of room."""
RECEIVE_BUFFER = 1 << 20
RESCAN_NS = 100_000_000


def socket_path(run_dir: Path, pid: int) -> Path:
    """Where process ``pid`` listens for change signals (the supervisor removes it when
    the process dies)."""
    return run_dir / f"{SOCKET_PREFIX}{pid}{SOCKET_SUFFIX}"


def _encode(user: str, mailbox: str) -> bytes:
    return f"{user}\0{mailbox}".encode("utf-8", "surrogateescape")


def _decode(data: bytes) -> tuple[str, str] | None:
    user, sep, mailbox = data.decode("utf-8", "surrogateescape").partition("\0")
    return (user, mailbox) if sep else None


class _Peer:
    """A connected datagram socket to one sibling, and what could not be sent to it yet.

    A full receive queue (``EAGAIN``) is not a loss: the keys wait in ``backlog`` (a set,
    so repeated signals coalesce) and go out when the socket is writable again.
    """

    __slots__ = ("path", "inode", "sock", "backlog")

    def __init__(self, path: Path, inode: int, sock: socket.socket) -> None:
        self.path = path
        self.inode = inode
        self.sock = sock
        self.backlog: set[tuple[str, str]] = set()


class PeerChangeFeed(LocalChangeFeed):
    """A :class:`LocalChangeFeed` whose signals also reach sibling processes (see the
    module docstring). Call :meth:`start` on the event loop that owns the sessions,
    :meth:`close` when done; ``listen=False`` makes a send-only feed for a tool that
    changes the store but has no sessions (``pyimapd user del``)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(publish=self._send_all)
        self.run_dir = Path(run_dir)
        self._me: Path | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._peers: dict[str, _Peer] = {}
        self._dir_mtime = -1
        self._scanned_at = 0

    # --- lifecycle ------------------------------------------------------------------

    def start(self, listen: bool = True) -> None:
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._loop = loop = asyncio.get_running_loop() if listen else None
        self._thread = threading.get_ident()
        if loop is None:
            return
        path = socket_path(self.run_dir, os.getpid())
        if len(os.fsencode(path)) > 100:
            raise OSError(errno.ENAMETOOLONG, f"data dir path too long for a socket: {path}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind(os.fspath(path))
        sock.setblocking(False)
        self._sock, self._me = sock, path
        loop.add_reader(sock.fileno(), self.pump)

    def close(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._me is not None:
            with contextlib.suppress(FileNotFoundError):
                self._me.unlink()
            self._me = None
        for name in list(self._peers):
            self._drop(name, unlink=False)

    # --- receiving ------------------------------------------------------------------

    def pump(self) -> None:
        """Delivers every queued signal; a non-blocking read that usually finds none."""
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("change feed socket failed")
                return
            key = _decode(data)
            if key is not None:
                self.deliver_remote(*key)

    # --- sending --------------------------------------------------------------------

    def _send_all(self, user: str, mailbox: str) -> None:
        """The ``publish`` hook: one datagram to each sibling. Called on the loop thread
        by the backends; from another thread it is handed over to the loop."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._send_all_now, user, mailbox)
            return
        self._send_all_now(user, mailbox)

    def _send_all_now(self, user: str, mailbox: str) -> None:
        self._discover()
        key = (user, mailbox)
        for name, peer in list(self._peers.items()):
            if peer.backlog:
                peer.backlog.add(key)
            else:
                self._send(name, peer, key)

    def _send(self, name: str, peer: _Peer, key: tuple[str, str]) -> bool:
        try:
            peer.sock.send(_encode(*key))
            return True
        except (BlockingIOError, InterruptedError):
            peer.backlog.add(key)
            if self._loop is not None and len(peer.backlog) == 1:
                self._loop.add_writer(peer.sock.fileno(), self._flush, name)
        except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError):
            self._drop(name, unlink=True)  # the process is gone
        except OSError as exc:
            log.warning("cannot signal %s: %s", peer.path, exc)
        return False

    def _flush(self, name: str) -> None:
        """The sibling's queue has room again: send what waited, until it fills up."""
        peer = self._peers.get(name)
        if peer is None:
            return
        if self._loop is not None:
            self._loop.remove_writer(peer.sock.fileno())
        pending, peer.backlog = peer.backlog, set()
        for i, key in enumerate(pending):
            if not self._send(name, peer, key):
                if name in self._peers:
                    peer.backlog.update(list(pending)[i + 1 :])
                return

    def _discover(self) -> None:
        """Keeps one connected socket per sibling; the directory is listed again only
        when its modification time changes (a worker started or a socket was removed).
        File times are coarse, so a listing made within ``RESCAN_NS`` of the last change
        may have missed a second change in the same tick: that one is not trusted."""
        try:
            mtime = self.run_dir.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._dir_mtime and self._scanned_at - mtime > RESCAN_NS:
            return
        self._dir_mtime = mtime
        self._scanned_at = time.time_ns()
        present = set()
        with os.scandir(self.run_dir) as entries:
            for entry in entries:
                name = entry.name
                if not (name.startswith(SOCKET_PREFIX) and name.endswith(SOCKET_SUFFIX)):
                    continue
                path = Path(entry.path)
                info = entry.stat()
                if path == self._me or not stat.S_ISSOCK(info.st_mode):
                    continue
                present.add(name)
                old = self._peers.get(name)
                if old is not None and old.inode != info.st_ino:
                    self._drop(name, unlink=False)  # the same pid, a new process
                if name not in self._peers:
                    self._connect(name, path, info.st_ino)
        for name in set(self._peers) - present:
            self._drop(name, unlink=False)

    def _connect(self, name: str, path: Path, inode: int) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            _unlink_if(path, inode)
            return
        self._peers[name] = _Peer(path, inode, sock)

    def _drop(self, name: str, unlink: bool) -> None:
        peer = self._peers.pop(name, None)
        if peer is None:
            return
        if peer.backlog and self._loop is not None:
            self._loop.remove_writer(peer.sock.fileno())
        peer.sock.close()
        if unlink:
            _unlink_if(peer.path, peer.inode)


def _unlink_if(path: Path, inode: int) -> None:
    """Removes a dead process's socket, unless a new process has bound the same name."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_ino == inode:
            path.unlink()
