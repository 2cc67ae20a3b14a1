"""A cheap client for thousands of idling IMAP connections: raw sockets on one epoll.

How this works: the benchmark client shares the machine's cores with the server it
measures, so it must cost little per connection, or the fan-out figure measures the
client. Instead of one asyncio task and StreamReader per connection, every connection is
a non-blocking socket with a small state machine (greeting, LOGIN and SELECT, IDLE) driven
by one ``select.epoll`` loop; at most ``window`` connections are being set up at a time,
so the server's accept queues never overflow (a dropped SYN costs a 1 s retransmit).

During the fan-out each readable socket is read once with ``recv`` and its bytes are
scanned for a complete ``* n EXISTS`` line with n above what that connection's SELECT
reported (the new message, RFC 3501 section 7.3.1); the time of the ``epoll`` return that
delivered it is that connection's receipt time.
"""

from __future__ import annotations

import errno
import select
import socket
import time

LOGIN = b"a LOGIN bench bench\r\nb SELECT INBOX\r\n"
IDLE = b"c IDLE\r\n"

# Setup stages of one connection.
GREETING, SELECTING, IDLE_SENT, IDLING = range(4)


class SetupError(RuntimeError):
    """The server refused or broke a connection while it was being set up."""


class Idler:
    """One connection: its socket, unparsed bytes, stage and the EXISTS it last saw."""

    __slots__ = ("sock", "buf", "stage", "exists")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.stage = GREETING
        self.exists = -1

    def lines(self, data: bytes) -> list[bytes]:
        """Complete lines received so far (without CRLF); keeps the partial rest."""
        self.buf += data
        *complete, self.buf = self.buf.split(b"\r\n")
        return complete

    def advance(self, line: bytes) -> bytes | None:
        """Feeds one setup line; returns bytes to send next, if any."""
        if self.stage == GREETING:
            if not line.startswith(b"* OK"):
                raise SetupError(line)
            self.stage = SELECTING
            return LOGIN
        if self.stage == SELECTING:
            if line.startswith(b"* ") and line.endswith(b" EXISTS"):
                self.exists = int(line.split()[1])
            elif line[:2] in (b"a ", b"b ") and not line[2:].startswith(b"OK"):
                raise SetupError(line)
            elif line.startswith(b"b OK"):
                self.stage = IDLE_SENT
                return IDLE
            return None
        if self.stage == IDLE_SENT:
            if line.startswith(b"+"):
                self.stage = IDLING
            elif line.startswith(b"c "):
                raise SetupError(line)
        return None

    def new_exists(self, data: bytes) -> bool:
        """True once a ``* n EXISTS`` beyond the SELECTed count has arrived."""
        for line in self.lines(data):
            if (line.endswith(b" EXISTS") and line.startswith(b"* ")
                    and int(line[2:-7]) > self.exists):
                return True
        return False


class IdlerPool:
    """Opens ``n`` idling connections and times one fan-out to all of them."""

    def __init__(self, host: str, port: int, window: int = 200) -> None:
        self.host, self.port, self.window = host, port, window
        self.idlers: list[Idler] = []
        self.epoll = select.epoll()

    def open(self, n: int, timeout: float = 600.0) -> None:
        """Sets up ``n`` connections, ``window`` at a time, up to IDLE's continuation."""
        deadline = time.monotonic() + timeout
        setting_up: dict[int, Idler] = {}
        started = 0
        while started < n or setting_up:
            while started < n and len(setting_up) < self.window:
                idler = self._connect()
                setting_up[idler.sock.fileno()] = idler
                started += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.idlers)} of {n} connections idling")
            for fd, _ in self.epoll.poll(1.0):
                idler = setting_up[fd]
                if self._step(idler):
                    del setting_up[fd]
                    self.idlers.append(idler)

    def _connect(self) -> Idler:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((self.host, self.port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(err, "connect failed")
        self.epoll.register(sock.fileno(), select.EPOLLIN)
        return Idler(sock)

    def _step(self, idler: Idler) -> bool:
        """Reads what the socket has; True once the connection is idling."""
        try:
            data = idler.sock.recv(65536)
        except BlockingIOError:
            return False
        if not data:
            raise SetupError(b"connection closed during setup")
        for line in idler.lines(data):
            reply = idler.advance(line)
            if reply is not None:
                idler.sock.sendall(reply)
        return idler.stage == IDLING

    def fanout(self, trigger: socket.socket, message: bytes, timeout: float) -> list[float]:
        """Sends ``message`` on ``trigger`` and returns, per idler, the seconds from that
        send until its new ``* n EXISTS`` was read (the list is in no particular order)."""
        by_fd = {i.sock.fileno(): i for i in self.idlers}
        waiting = len(by_fd)
        seen: list[float] = []
        poll, now = self.epoll.poll, time.monotonic
        t0 = now()
        trigger.sendall(message)
        deadline = t0 + timeout
        while waiting:
            events = poll(1.0)
            t = now()
            if t > deadline:
                raise TimeoutError(f"{waiting} idlers never saw the new message")
            for fd, _ in events:
                idler = by_fd[fd]
                data = idler.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed while idling")
                if idler.new_exists(data):
                    self.epoll.unregister(fd)
                    seen.append(t - t0)
                    waiting -= 1
        return seen

    def close(self) -> None:
        for idler in self.idlers:
            idler.sock.close()
        self.idlers.clear()
        self.epoll.close()
