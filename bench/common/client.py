"""A minimal asyncio IMAP client for load generation: raw sockets, just enough parsing.

How this works: a command is written in one ``write``; the reply is read line by line
until the line that starts with the command's tag. A line ending in ``{N}`` announces a
literal of N bytes, read with ``readexactly`` without looking at it, so a 5 MB body costs
one buffer copy. Untagged lines are kept only when the caller asks (SELECT, APPEND), and
then only their text, literals left out. Every command returns its wall time, measured
from the write to the tagged line.
"""

from __future__ import annotations

import asyncio
import re
import time

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
EXISTS = re.compile(rb"^\* (\d+) EXISTS", re.M)
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


class ImapError(RuntimeError):
    pass


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.counter = 0
        self.received = 0  # bytes of literals read

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        conn = cls(reader, writer)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting!r}")
        return conn

    def _tag(self) -> bytes:
        self.counter += 1
        return b"t%d" % self.counter

    async def _line(self, keep: list[bytes] | None) -> bytes:
        """One response line with its literals (skipped, or kept as ``<literal>``)."""
        line = await self.reader.readline()
        if not line:
            raise ImapError("connection closed")
        parts = [line] if keep is not None else None
        while (m := LITERAL.search(line)) is not None:
            size = int(m.group(1))
            await self.reader.readexactly(size)
            self.received += size
            line = await self.reader.readline()
            if parts is not None:
                parts.append(line)
        return b"".join(parts) if parts is not None else line

    async def _until(self, tag: bytes, keep: list[bytes] | None) -> bytes:
        while True:
            line = await self._line(keep)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ImapError(line.decode(errors="replace").strip())
                return line
            if keep is not None:
                keep.append(line)

    async def cmd(self, text: bytes, keep: list[bytes] | None = None) -> float:
        """Send ``text`` (no tag, no CRLF); wait for its OK; return seconds taken."""
        tag = self._tag()
        t0 = time.perf_counter()
        self.writer.write(tag + b" " + text + b"\r\n")
        line = await self._until(tag, keep)
        if keep is not None:
            keep.append(line)
        return time.perf_counter() - t0

    async def append(self, mailbox: bytes, data: bytes, flags: bytes = b"",
                     keep: list[bytes] | None = None) -> float:
        """APPEND with a synchronizing literal (every server accepts it)."""
        tag = self._tag()
        t0 = time.perf_counter()
        self.writer.write(b"%s APPEND %s (%s) {%d}\r\n" % (tag, mailbox, flags, len(data)))
        line = await self.reader.readline()
        if not line.startswith(b"+"):
            raise ImapError(f"APPEND not continued: {line!r}")
        self.writer.write(data + b"\r\n")
        line = await self._until(tag, keep)
        if keep is not None:
            keep.append(line)
        return time.perf_counter() - t0

    async def idle(self, seconds: float) -> float:
        """IDLE, wait ``seconds``, DONE; returns the time spent other than the wait."""
        tag = self._tag()
        t0 = time.perf_counter()
        self.writer.write(tag + b" IDLE\r\n")
        while not (await self._line(None)).startswith(b"+"):
            pass
        t1 = time.perf_counter()
        await asyncio.sleep(seconds)
        t2 = time.perf_counter()
        self.writer.write(b"DONE\r\n")
        await self._until(tag, None)
        return (t1 - t0) + (time.perf_counter() - t2)

    async def login(self, user: str, password: str) -> float:
        return await self.cmd(b"LOGIN %s %s" % (user.encode(), password.encode()))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
