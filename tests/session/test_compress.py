"""COMPRESS=DEFLATE (RFC 4978) in the session: after the OK both directions are raw
deflate, every response is flushed at once, COMPRESSIONACTIVE on a second COMPRESS,
errors before compression, and a bounded decompressor."""

from __future__ import annotations

import asyncio
import zlib

from harness import Client, Harness


class Deflated:
    """The client's side of the compression layer, over a harness Client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inp = zlib.decompressobj(-15)
        self.seen = 0
        self.text = b""

    def send(self, line: bytes) -> None:
        self.client.send(self.out.compress(line) + self.out.flush(zlib.Z_SYNC_FLUSH))

    async def until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        channel = self.client.channel
        async with asyncio.timeout(timeout):
            while marker not in self.text:
                raw = bytes(channel.outbox[self.seen :])
                self.seen += len(raw)
                self.text += self.inp.decompress(raw)
                if marker in self.text:
                    break
                channel.new_output.clear()
                await channel.new_output.wait()
        out, self.text = self.text.split(marker, 1)
        return out + marker


async def test_compressed_session(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert (await c.command("a COMPRESS DEFLATE")) == b"a OK DEFLATE active\r\n"
    z = Deflated(c)
    z.seen = len(c.channel.outbox)  # everything up to the OK was plain
    z.send(b"b SELECT INBOX\r\n")
    out = await z.until(b"b OK [READ-WRITE] SELECT completed\r\n")
    assert out.startswith(b"* ")
    z.send(b"c COMPRESS DEFLATE\r\n")
    assert await z.until(b"\r\n") == b"c NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS\r\n"
    message = b"Subject: z\r\n\r\n" + b"compressible " * 5000 + b"\r\n"
    z.send(b"d APPEND INBOX {%d}\r\n" % len(message))
    assert await z.until(b"\r\n") == b"+ Ready for literal data\r\n"  # flushed at once
    z.send(message + b"\r\n")
    out = await z.until(b"d OK")
    assert b"* 1 EXISTS" in out
    z.send(b"e FETCH 1 BODY.PEEK[]\r\n")
    out = await z.until(b"e OK FETCH completed\r\n")
    assert message in out
    wire = len(c.channel.outbox)
    assert wire < len(message) // 10  # it really is compressed
    z.send(b"f IDLE\r\n")
    assert await z.until(b"\r\n") == b"+ idling\r\n"
    z.send(b"DONE\r\n")
    assert await z.until(b"\r\n") == b"f OK IDLE terminated\r\n"
    z.send(b"g LOGOUT\r\n")
    await z.until(b"g OK LOGOUT completed\r\n")


async def test_refusals_stay_uncompressed(harness: Harness) -> None:
    c = await harness.connect()
    assert (await c.command("a COMPRESS DEFLATE")).startswith(b"a BAD ")  # not logged in
    await c.command("b LOGIN demo demo")
    assert await c.command("c COMPRESS LZW") == b"c BAD Unknown compression algorithm LZW\r\n"
    assert (await c.command("d COMPRESS")).startswith(b"d BAD ")
    assert await c.command("e NOOP") == b"e OK NOOP completed\r\n"


async def test_bytes_pipelined_behind_compress_are_dropped(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send("a COMPRESS DEFLATE\r\nb LOGOUT\r\n")
    assert await c.read_until(rb"^a .*\r\n") == b"a OK DEFLATE active\r\n"
    z = Deflated(c)
    z.seen = len(c.channel.outbox)
    z.send(b"c NOOP\r\n")
    assert await z.until(b"\r\n") == b"c OK NOOP completed\r\n"


async def test_garbage_ends_the_connection(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("a COMPRESS DEFLATE")
    c.send(b"\xff\xff\xff\xff not deflate")
    async with asyncio.timeout(5):
        while not c.channel.closed:
            c.channel.new_output.clear()
            await c.channel.new_output.wait()


class _Inner:
    """A Channel stub that serves one compressed blob."""

    peer, peer_host, loopback, secure, tls_available = "x", "x", True, False, False

    def __init__(self, data: bytes) -> None:
        self.data = [data]
        self.written = bytearray()

    async def read(self) -> bytes:
        return self.data.pop() if self.data else b""

    def write(self, data: bytes) -> None:
        self.written += data

    async def drain(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def hold_input(self) -> int:
        return 0

    async def start_tls(self) -> None:
        raise RuntimeError


async def test_decompression_is_bounded() -> None:
    from pyimapd.session.compress import READ_MAX, DeflateChannel

    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    blob = bomb.compress(b"\0" * 10_000_000) + bomb.flush()
    assert len(blob) < 20_000
    channel = DeflateChannel(_Inner(blob))  # type: ignore[arg-type]
    total = 0
    while chunk := await channel.read():
        assert len(chunk) <= READ_MAX
        total += len(chunk)
    assert total == 10_000_000
    channel.write(b"* OK hi\r\n")
    await channel.drain()
    assert zlib.decompressobj(-15).decompress(bytes(channel.inner.written)) == b"* OK hi\r\n"


def test_real_server(tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    """Over the real transport: the OK in plain text, then deflate both ways."""
    import socket

    from serverutil import DEFAULT_USERS, register_server, start_server

    handle = start_server(tmp_path, DEFAULT_USERS)
    register_server(request.node, handle)
    user, password = next(iter(DEFAULT_USERS.items()))
    try:
        with socket.create_connection((handle.host, handle.port), timeout=10) as sock:
            f = sock.makefile("rb")
            f.readline()
            sock.sendall(f"a LOGIN {user} {password}\r\nb COMPRESS DEFLATE\r\n".encode())
            assert f.readline().startswith(b"a OK")
            assert f.readline() == b"b OK DEFLATE active\r\n"
            out, inp = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
            sock.sendall(out.compress(b"c NOOP\r\nd LOGOUT\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
            text = b""
            while b"d OK" not in text:
                raw = sock.recv(4096)
                assert raw, text
                text += inp.decompress(raw)
            assert b"c OK NOOP completed\r\n* BYE " in text
    finally:
        handle.stop()
