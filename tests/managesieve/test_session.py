"""ManageSieve sessions (RFC 5804) over an in-memory channel, on every backend: the
greeting, logging in through the IMAP authenticator, every command with its responses
and error codes, and scripts checked by the Sieve interpreter before they are stored."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness import Harness, MemoryChannel
from pyimapd.config import SieveConfig
from pyimapd.managesieve.session import SieveServices, SieveSession, check_script
from pyimapd.sieve import EXTENSIONS

GOOD = ('require ["fileinto"];\r\nif header :contains "subject" "bills" {\r\n'
        '  fileinto "Bills";\r\n}\r\n')


class SieveClient:
    def __init__(self, channel: MemoryChannel) -> None:
        self.channel = channel
        self.pos = 0

    def send(self, data: bytes | str) -> None:
        self.channel.inbox.put_nowait(data.encode() if isinstance(data, str) else data)

    async def until_status(self, timeout: float = 5.0) -> bytes:
        """Up to and including the next OK/NO/BYE line."""
        regex = re.compile(rb"^(OK|NO|BYE)\b.*\r\n", re.M)
        async with asyncio.timeout(timeout):
            while True:
                m = regex.search(self.channel.outbox, self.pos)
                if m:
                    end = m.end()
                    lit = re.search(rb"\{(\d+)\}\r\n\Z", m.group())
                    if lit:  # the text came as a literal: read it and its CRLF
                        end += int(lit.group(1)) + 2
                    if len(self.channel.outbox) >= end:
                        out = bytes(self.channel.outbox[self.pos:end])
                        self.pos = end
                        return out
                if self.channel.closed:
                    raise EOFError(bytes(self.channel.outbox[self.pos:]))
                self.channel.new_output.clear()
                await self.channel.new_output.wait()

    async def command(self, line: str | bytes) -> bytes:
        self.send(line + ("\r\n" if isinstance(line, str) else b"\r\n"))
        return await self.until_status()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def services(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SieveServices]:
    h = Harness(tmp_path, request.param)
    await h.start({"demo": "demo", "other": "secret"})
    config = h.config.__class__(**{**{f: getattr(h.config, f) for f in h.config.__slots__},
                                   "sieve": SieveConfig(max_scripts=3, max_script_size=300)})
    yield SieveServices(config, h.backend, h.ctx.authenticator, check_script,
                        tuple(sorted(EXTENSIONS)))
    await h.close()


async def connect(services: SieveServices, login: bool = True) -> SieveClient:
    channel = MemoryChannel()
    session = SieveSession(services, channel, logging.LoggerAdapter(
        logging.getLogger("test"), {}))
    asyncio.get_running_loop().create_task(session.run())
    client = SieveClient(channel)
    greeting = await client.until_status()
    assert greeting.endswith(b'OK "pyimapd ManageSieve ready"\r\n'), greeting
    if login:
        token = base64.b64encode(b"\0demo\0demo").decode()
        assert await client.command(f'AUTHENTICATE "PLAIN" "{token}"') == b'OK "Logged in"\r\n'
    return client


async def test_greeting_and_capabilities(services: SieveServices) -> None:
    c = await connect(services, login=False)
    out = await c.command("CAPABILITY")
    assert b'"IMPLEMENTATION" "pyimapd"\r\n' in out
    assert re.search(rb'^"SIEVE" "[^"]*\bfileinto\b[^"]*\bvacation\b', out, re.M), out
    assert re.search(rb'^"SASL" "[^"]*\bPLAIN\b', out, re.M), out
    assert b'"VERSION" "1.0"\r\n' in out and b'"MAXREDIRECTS" "4"\r\n' in out
    assert b"OWNER" not in out and b"STARTTLS" not in out  # no TLS on this channel
    assert (await c.command("LISTSCRIPTS")).startswith(b'NO "LISTSCRIPTS is not allowed')
    c2 = await connect(services)
    assert b'"OWNER" "demo"\r\n' in await c2.command("CAPABILITY")


async def test_login_failures(services: SieveServices) -> None:
    c = await connect(services, login=False)
    bad = base64.b64encode(b"\0demo\0wrong").decode()
    assert await c.command(f'AUTHENTICATE "PLAIN" "{bad}"') == b'NO "Authentication failed"\r\n'
    assert (await c.command('AUTHENTICATE "NOPE"')).startswith(b'NO "Unsupported mechanism')
    # A challenge, answered; then one cancelled with "*".
    c.send('AUTHENTICATE "PLAIN"\r\n')
    await asyncio.sleep(0.05)
    assert c.channel.outbox[c.pos:] == b'""\r\n'
    c.pos = len(c.channel.outbox)
    token = base64.b64encode(b"\0demo\0demo").decode()
    assert await c.command(f'"{token}"') == b'OK "Logged in"\r\n'
    c2 = await connect(services, login=False)
    c2.send('AUTHENTICATE "PLAIN"\r\n')
    await asyncio.sleep(0.05)
    c2.pos = len(c2.channel.outbox)
    assert await c2.command('"*"') == b'NO "Authentication cancelled"\r\n'


async def test_put_list_activate_get_rename_delete(services: SieveServices) -> None:
    c = await connect(services)
    raw = GOOD.encode()
    assert await c.command(b'PUTSCRIPT "bills" {%d+}\r\n' % len(raw) + raw) == (
        b'OK "Script stored"\r\n')
    assert await c.command('PUTSCRIPT "other" "keep;"') == b'OK "Script stored"\r\n'
    assert await c.command("LISTSCRIPTS") == b'"bills"\r\n"other"\r\nOK "Listscripts completed"\r\n'
    assert await c.command('SETACTIVE "bills"') == b'OK "bills is active"\r\n'
    assert await c.command("LISTSCRIPTS") == (
        b'"bills" ACTIVE\r\n"other"\r\nOK "Listscripts completed"\r\n')
    assert await c.command('GETSCRIPT "bills"') == (
        b"{%d}\r\n" % len(raw) + raw + b'\r\nOK "Getscript completed"\r\n')
    assert await c.command('DELETESCRIPT "bills"') == (
        b'NO (ACTIVE) "The active script cannot be deleted; deactivate it first"\r\n')
    assert await c.command('RENAMESCRIPT "bills" "money"') == b'OK "Script renamed"\r\n'
    assert await c.command('RENAMESCRIPT "money" "other"') == (
        b'NO (ALREADYEXISTS) "A script named other already exists"\r\n')
    assert await c.command('GETSCRIPT "bills"') == (
        b'NO (NONEXISTENT) "There is no script named bills"\r\n')
    assert await c.command('SETACTIVE ""') == b'OK "No script is active now"\r\n'
    assert await c.command('DELETESCRIPT "money"') == b'OK "Script deleted"\r\n'
    assert await c.command("LISTSCRIPTS") == b'"other"\r\nOK "Listscripts completed"\r\n'
    assert await c.command('SETACTIVE "nope"') == (
        b'NO (NONEXISTENT) "There is no script named nope"\r\n')


async def test_invalid_scripts_are_refused_with_their_position(services: SieveServices) -> None:
    c = await connect(services)
    out = await c.command('PUTSCRIPT "broken" "if true { fileinto \\"x\\"; }"')
    assert re.fullmatch(rb'NO \{\d+\}\r\n1:\d+: .*fileinto.*\r\n', out), out
    out = await c.command(b'CHECKSCRIPT {11+}\r\nkeep\r\nstop;')
    assert re.fullmatch(rb'NO ("2:\d+: [^"]+"|\{\d+\}\r\n2:\d+: .*)\r\n', out), out
    assert await c.command('CHECKSCRIPT "keep;"') == b'OK "Script is valid"\r\n'
    assert await c.command("LISTSCRIPTS") == b'OK "Listscripts completed"\r\n'  # nothing stored


async def test_quotas_and_havespace(services: SieveServices) -> None:
    c = await connect(services)
    assert await c.command('HAVESPACE "a" 300') == b'OK "Putscript would succeed"\r\n'
    assert await c.command('HAVESPACE "a" 301') == (
        b'NO (QUOTA/MAXSIZE) "Scripts are limited to 300 octets"\r\n')
    for name in ("a", "b", "c"):
        assert (await c.command(f'PUTSCRIPT "{name}" "keep;"')).startswith(b"OK")
    assert await c.command('HAVESPACE "d" 10') == b'NO (QUOTA/MAXSCRIPTS) "At most 3 scripts"\r\n'
    assert await c.command('HAVESPACE "a" 10') == b'OK "Putscript would succeed"\r\n'
    assert await c.command('PUTSCRIPT "d" "keep;"') == (
        b'NO (QUOTA/MAXSCRIPTS) "At most 3 scripts"\r\n')
    big = b"#" * 400 + b"\r\nkeep;"
    out = await c.command(b'PUTSCRIPT "a" {%d+}\r\n' % len(big) + big)
    assert out.startswith(b"NO (QUOTA/MAXSIZE)"), out
    assert await c.command("NOOP") == b'OK "Done"\r\n'  # still in step after the skip


async def test_other_commands_and_errors(services: SieveServices) -> None:
    c = await connect(services)
    assert await c.command('NOOP "STARTTLS-SYNC-42"') == b'OK (TAG "STARTTLS-SYNC-42") "Done"\r\n'
    assert await c.command("FROB") == b'NO "Unknown command FROB"\r\n'
    assert await c.command('PUTSCRIPT "x"') == b'NO "Wrong arguments for PUTSCRIPT"\r\n'
    assert await c.command('PUTSCRIPT "a\\u0001" "keep;"') == b'NO "Malformed quoted string"\r\n'
    assert await c.command(b'PUTSCRIPT {2+}\r\na\x01 "keep;"') == b'NO "Invalid script name"\r\n'
    assert await c.command('HAVESPACE "x" "ten"') == b'NO "Wrong arguments for HAVESPACE"\r\n'
    assert await c.command("UNAUTHENTICATE") == b'OK "Logged out; log in again"\r\n'
    out = await c.command("CAPABILITY")
    assert b'"SASL"' in out and b"OWNER" not in out, out
    # Five errors (the limit before login): the connection ends.
    assert await c.command("LISTSCRIPTS") == b'BYE "Too many invalid commands"\r\n'
    c2 = await connect(services)
    assert await c2.command("LOGOUT") == b'OK "Logout completed"\r\n'
    await asyncio.sleep(0.05)
    assert c.channel.closed and c2.channel.closed


async def test_scripts_are_per_user(services: SieveServices) -> None:
    c = await connect(services)
    assert (await c.command('PUTSCRIPT "mine" "keep;"')).startswith(b"OK")
    other = await connect(services, login=False)
    token = base64.b64encode(b"\0other\0secret").decode()
    assert (await other.command(f'AUTHENTICATE "PLAIN" "{token}"')).startswith(b"OK")
    assert await other.command("LISTSCRIPTS") == b'OK "Listscripts completed"\r\n'
    assert (await other.command('GETSCRIPT "mine"')).startswith(b"NO (NONEXISTENT)")
