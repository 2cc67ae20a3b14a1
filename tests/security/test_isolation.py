"""Isolation: no command reaches another user's mail; mailbox names cannot escape the
store; the data dir and database files are private (0700 / 0600); LOGINDISABLED off
loopback (in-process); config validation of the security settings."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness import Harness
from pyimapd.config import ConfigError, load_config
from pyimapd.storage import names
from pyimapd.storage.interface import NotAllowed
from serverutil import ServerHandle


@pytest.fixture(params=["memory", "sqlite"])
async def two_users(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    h = Harness(tmp_path, store=request.param)
    await h.start({"alice": "a-pass", "bob": "b-pass"})
    alice = await h.connect(("alice", "a-pass"))
    for cmd in ("a1 CREATE Secret", "a2 CREATE Secret/Deeper",
                'a3 APPEND Secret "private to alice"', "a4 SUBSCRIBE Secret"):
        out = await alice.command(cmd) if "APPEND" not in cmd else await alice.command(
            "a3 APPEND Secret {18+}\r\nprivate-to-alice\r\n")
        assert b" OK" in out.splitlines()[-1], out
    bob = await h.connect(("bob", "b-pass"))
    yield h, bob
    await h.close()


BOB_TRIES = [
    "SELECT Secret", "EXAMINE Secret", "STATUS Secret (MESSAGES)", "DELETE Secret",
    "RENAME Secret Mine", "SELECT alice/Secret", "SELECT ../alice/Secret",
    "SELECT /alice/Secret", "SELECT ~alice/Secret", "SELECT #alice/Secret",
    "SELECT Secret/Deeper", "UNSUBSCRIBE Secret", "APPEND Secret {1+}\r\nx",
    'LIST "" *', 'LIST "" Secret', 'LSUB "" *', 'LIST "../alice" *', 'LIST "/" *',
    'LIST "~alice/" *',
]


async def test_no_command_reaches_another_users_mail(two_users) -> None:  # type: ignore[no-untyped-def]
    h, bob = two_users
    for i, cmd in enumerate(BOB_TRIES):
        out = await bob.command(f"b{i} {cmd}")
        assert b"Secret" not in out.replace(cmd.encode(), b"") or b"NO" in out, (cmd, out)
        assert b"private-to-alice" not in out
        if cmd.startswith(("SELECT", "EXAMINE", "STATUS", "DELETE", "RENAME", "APPEND")):
            assert out.splitlines()[-1].startswith(f"b{i} NO".encode()), (cmd, out)
    # COPY/MOVE into alice's name lands in bob's own namespace, never in alice's store
    await bob.command("c1 SELECT INBOX")
    await bob.command("c2 APPEND INBOX {5+}\r\nhello")
    await bob.command("c3 SELECT INBOX")
    out = await bob.command("c4 COPY 1 Secret")
    assert b"c4 NO [TRYCREATE]" in out
    alice = await h.connect(("alice", "a-pass"))
    out = await alice.command("d1 STATUS Secret (MESSAGES)")
    assert b"MESSAGES 1" in out  # untouched by bob
    out = await alice.command('d2 LIST "" *')
    assert b"Secret" in out and b"INBOX" in out


@pytest.mark.parametrize(
    "name",
    ["..", "a/../b", "../etc", "/etc/passwd", "a//b", "a/", "./a", "a/./b", "a\x00b",
     "a\x7fb", "a\nb", "*", "a%b", "x" * 1001, "/".join(["a"] * 51)],
)
def test_names_that_cannot_be_created(name: str) -> None:
    with pytest.raises(NotAllowed):
        names.validate(name)


async def test_odd_utf7_and_escaping_names_rejected_on_the_wire(tmp_path: Path) -> None:
    h = Harness(tmp_path, store="sqlite")
    await h.start({"u": "p"})
    c = await h.connect(("u", "p"))
    for i, wire in enumerate(["&Jjo", "&-&", "&AGE-", "&2DQ-", "&ZeVnLIqe-&", "&_-",
                              '"../x"', "/x", '"x/.."', '"a\\x00b"']):
        out = await c.command(f"t{i} CREATE {wire}")
        last = out.splitlines()[-1]
        assert last.startswith((f"t{i} BAD".encode(), f"t{i} NO".encode())), (wire, out)
    out = await c.command('z LIST "" *')
    assert out.count(b"* LIST") == 6  # INBOX and the five special-use mailboxes only
    await h.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_dir_and_db_files_are_private(server: ServerHandle) -> None:
    """Checked on a real server that has served a login (WAL and SHM files exist)."""
    import imaplib

    with imaplib.IMAP4(server.host, server.port, timeout=10) as conn:
        conn.login("demo", "demo")
        conn.create("Private")
    assert _mode(server.data_dir) == 0o700
    files = [p for p in server.data_dir.rglob("*") if p.is_file() and "sqlite" in p.name]
    assert files
    for path in files:
        assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))
    for path in server.data_dir.rglob("*"):
        if path.is_dir():
            assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))


async def test_logindisabled_off_loopback_in_process(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    await h.start({"u": "p"})
    c = await h.connect()
    c.channel.loopback = False
    out = await c.command("a CAPABILITY")
    assert b"LOGINDISABLED" in out and b"AUTH=PLAIN" not in out and b"STARTTLS" not in out
    assert b"AUTH=SCRAM-SHA-256" in out
    out = await c.command("b LOGIN u p")
    assert b"b NO [PRIVACYREQUIRED]" in out
    out = await c.command("c AUTHENTICATE LOGIN")
    assert b"c NO [PRIVACYREQUIRED]" in out
    out = await c.command("d STARTTLS")
    assert b"d NO" in out  # no certificate configured
    c.channel.secure = True  # as after a handshake
    out = await c.command("e CAPABILITY")
    assert b"LOGINDISABLED" not in out and b"AUTH=PLAIN" in out
    assert b"f OK" in await c.command("f LOGIN u p")
    await h.close()


def test_security_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[server]\nlisten_tls = ['0.0.0.0:993']\n[tls]\ncert = 'c.pem'\nkey = 'k.pem'\n"
        "[auth]\nplaintext_auth = 'never'\nlogin_cache_ttl = 60\nmechanisms = ['scram-sha-256']\n"
        "[limits]\nmax_connections = 10\nmax_connections_per_ip = 2\nmax_line = 1000\n"
    )
    config = load_config(path)
    assert config.listen_tls == ("0.0.0.0:993",)
    assert config.tls.cert == Path("c.pem") and config.tls.enabled
    assert config.auth.mechanisms == ("SCRAM-SHA-256",)
    assert config.connections.max_connections_per_ip == 2
    assert config.limits.max_line == 1000
    for bad in ("[tls]\ncert = 'only-cert.pem'\n", "[auth]\nplaintext_auth = 'maybe'\n",
                "[tls]\nmin_version = 'TLSv1'\n", "[limits]\nmax_connections = 0\n"):
        path.write_text(bad)
        with pytest.raises(ConfigError):
            load_config(path)
