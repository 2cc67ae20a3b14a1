"""Drives a real Session over an in-memory channel, on the memory or SQLite backend: fast
tests of the session layer without sockets or subprocesses."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pgutil import fresh_dsn
from pyimapd.auth.passwords import Passwords
from pyimapd.config import Argon2Params, Config
from pyimapd.server import open_backend
from pyimapd.session.session import ServerContext, Session

FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost=1024, parallelism=1)


class MemoryChannel:
    """The client's end is a pair of queues; the session sees a Channel."""

    def __init__(self) -> None:
        self.peer = "test:0"
        self.peer_host = "test"
        self.loopback = True
        self.secure = False
        self.tls_available = False
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.outbox = bytearray()
        self.closed = False
        self.new_output = asyncio.Event()

    async def read(self) -> bytes:
        return await self.inbox.get()

    def write(self, data: bytes) -> None:
        self.outbox += data
        self.new_output.set()

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def close(self) -> None:
        self.closed = True
        self.new_output.set()

    def hold_input(self) -> int:
        return 0

    async def start_tls(self) -> None:
        raise RuntimeError("no TLS on a memory channel")


class Client:
    """Sends lines and reads what the server wrote, up to a tagged response."""

    def __init__(self, channel: MemoryChannel) -> None:
        self.channel = channel
        self._pos = 0

    def send(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.channel.inbox.put_nowait(raw)

    async def read_until(self, pattern: bytes, timeout: float = 5.0) -> bytes:
        regex = re.compile(pattern, re.M)
        async with asyncio.timeout(timeout):
            while True:
                m = regex.search(self.channel.outbox, self._pos)
                if m:
                    out = bytes(self.channel.outbox[self._pos : m.end()])
                    self._pos = m.end()
                    return out
                if self.channel.closed:
                    raise EOFError(bytes(self.channel.outbox[self._pos :]))
                self.channel.new_output.clear()
                await self.channel.new_output.wait()

    async def command(self, line: str, timeout: float = 5.0) -> bytes:
        """Sends ``TAG ...`` and returns everything up to the tagged response line."""
        tag = line.split(" ", 1)[0]
        self.send(line + "\r\n")
        return await self.read_until(rb"^" + re.escape(tag.encode()) + rb" .*\r\n", timeout)


class Harness:
    def __init__(self, tmp_path: Path, store: str = "memory") -> None:
        if store == "postgres":  # a fresh schema of the test cluster (tests/pgutil.py)
            store = fresh_dsn()
        self.config = Config(data_dir=tmp_path, store=store, argon2=FAST_ARGON2)
        self.backend = open_backend(self.config)
        self.passwords = Passwords(FAST_ARGON2)
        self.ctx = ServerContext(self.config, self.backend, self.passwords)
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, users: dict[str, str]) -> None:
        (self.config.data_dir / "tmp").mkdir(exist_ok=True)
        migrate = getattr(self.backend, "migrate", None)
        if migrate is not None:
            await migrate()
        await self.backend.start()
        for name, password in users.items():
            await self.backend.users.add_user(name, self.passwords.hash(password))

    async def connect(self, login: tuple[str, str] | None = None) -> Client:
        channel = MemoryChannel()
        session = Session(self.ctx, channel)
        self.tasks.append(asyncio.create_task(session.run()))
        client = Client(channel)
        await client.read_until(rb"^\* OK .*\r\n")
        if login:
            out = await client.command(f"L0 LOGIN {login[0]} {login[1]}")
            assert b"L0 OK" in out, out
        return client

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.backend.close()
