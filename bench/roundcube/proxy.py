"""A timing proxy between Roundcube and an IMAP server: the server's time per page.

How this works: every connection Roundcube opens to the proxy is relayed byte for byte
to the server, on an asyncio loop of its own thread.  On the way in, each client line
that starts a command (``TAG COMMAND ...``) records when it left; on the way back, the
server's tagged reply to it (``TAG OK|NO|BAD``) closes the command.  The sum of those
intervals, over every connection, is the time the server spent answering, as Roundcube
waited for it; the greeting (connect to ``* OK``) counts too.  Literal data is not
parsed, it is only scanned for line ends, which a tagged status line in a message body
(at the start of a line, with the live tag) would fool: the pages timed here fetch
headers, not such bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from dataclasses import dataclass, field

COMMAND = re.compile(rb"^([A-Za-z0-9]+) ([A-Za-z]+(?: [A-Za-z]+)?)")
TAGGED = re.compile(rb"^([A-Za-z0-9]+) (?:OK|NO|BAD)\b")


@dataclass
class Tally:
    """What the server did in one window (a page): the seconds of each answer, by
    command name (``greeting`` for each new connection)."""

    calls: dict[str, list[float]] = field(default_factory=dict)

    @property
    def server_s(self) -> float:
        return sum(sum(times) for times in self.calls.values())

    @property
    def commands(self) -> int:
        return sum(len(times) for times in self.calls.values())

    @property
    def connections(self) -> int:
        return len(self.calls.get("greeting", []))


class TimingProxy:
    """Listens on 127.0.0.1:``port`` and relays to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.tally = Tally()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> TimingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def quiet_for(self, seconds: float, timeout: float = 30.0) -> None:
        """Until no command has been answered for ``seconds`` (a page's late requests,
        such as the unread counts, are part of the page)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now_count = self.tally.commands
            if now_count != last:
                last, since = now_count, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return
            time.sleep(0.05)  # polling the tally for the page's last command

    def take(self) -> Tally:
        """The tally since the last ``take``, and a fresh one from now."""
        with self._lock:
            tally, self.tally = self.tally, Tally()
        return tally

    def _record(self, name: str, seconds: float) -> None:
        with self._lock:
            self.tally.calls.setdefault(name, []).append(seconds)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 22))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port,
                                                             limit=1 << 22)
        pending: dict[bytes, tuple[str, float]] = {}

        async def client_to_server() -> None:
            while line := await reader.readline():
                m = COMMAND.match(line)
                if m:
                    name = m.group(2).decode().upper()
                    if name.startswith("UID "):
                        name = "UID " + name[4:].split(" ")[0]
                    pending[m.group(1)] = (name.split(" ")[0] if not name.startswith("UID")
                                           else name, time.perf_counter())
                up_writer.write(line)
                await up_writer.drain()
            up_writer.close()

        async def server_to_client() -> None:
            first = True
            while line := await up_reader.readline():
                now = time.perf_counter()
                if first:
                    self._record("greeting", now - started)
                    first = False
                m = TAGGED.match(line)
                if m and m.group(1) in pending:
                    name, sent = pending.pop(m.group(1))
                    self._record(name, now - sent)
                writer.write(line)
                await writer.drain()
            writer.close()

        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await asyncio.gather(client_to_server(), server_to_client())
