"""Each SASL mechanism against an independent client implementation: imaplib's
``authenticate`` for PLAIN and LOGIN, ``login_cram_md5`` for CRAM-MD5, and scramp for
SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 4422, 4616, 2195, 5802, 7677), plus SASL-IR (RFC 4959),
the ``*`` cancel, the login cache's invalidation by ``user passwd``/``user del`` from
another process, the failed-login delay, and the proof that no secret is stored in clear.
"""

from __future__ import annotations

import base64
import imaplib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scramp import ScramClient

from security.tlsutil import read_until, write_config
from serverutil import ServerHandle, register_server, run_cli, start_server

USERS = {"demo": "demo", "mrc": "secret", "uni": "pässwörd-ü"}


@pytest.fixture(scope="module")
def sasl_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    tmp = tmp_path_factory.mktemp("sasl")
    args = write_config(tmp / "pyimapd.toml", "[auth]\nfailure_delay = 0\n")
    handle = start_server(tmp, users=USERS, extra_args=args)
    register_server(request.node, handle)
    yield handle
    handle.stop()


def _connect(server: ServerHandle) -> imaplib.IMAP4:
    return imaplib.IMAP4(server.host, server.port, timeout=10)


def _scram(mechanism: str, user: str, password: str) -> Callable[[bytes], bytes]:
    client = ScramClient([mechanism], user, password)
    steps = iter(range(3))

    def respond(challenge: bytes) -> bytes:
        step = next(steps)
        if step == 0:
            return client.get_client_first().encode()
        if step == 1:
            client.set_server_first(challenge.decode())
            return client.get_client_final().encode()
        client.set_server_final(challenge.decode())  # raises if the server signature is bad
        return b""

    return respond


def _login_mech(user: str, password: str) -> Callable[[bytes], bytes]:
    def respond(challenge: bytes) -> bytes:
        return (user if challenge.startswith(b"User") else password).encode()

    return respond


@pytest.mark.parametrize("user", ["demo", "uni"])
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_with_scramp(sasl_server: ServerHandle, mechanism: str, user: str) -> None:
    conn = _connect(sasl_server)
    assert f"AUTH={mechanism}" in conn.capabilities
    typ, _ = conn.authenticate(mechanism, _scram(mechanism, user, USERS[user]))
    assert typ == "OK"
    assert conn.select("INBOX")[0] == "OK"
    conn.logout()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_wrong_password_and_unknown_user(sasl_server: ServerHandle, mechanism: str) -> None:
    for user, password in (("demo", "wrong"), ("ghost", "demo")):
        conn = _connect(sasl_server)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            conn.authenticate(mechanism, _scram(mechanism, user, password))
        conn.logout()


def test_plain_with_imaplib(sasl_server: ServerHandle) -> None:
    conn = _connect(sasl_server)
    assert conn.authenticate("PLAIN", lambda _: "\x00uni\x00pässwörd-ü".encode())[0] == "OK"
    conn.logout()
    conn = _connect(sasl_server)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.authenticate("PLAIN", lambda _: b"\x00demo\x00nope")
    conn.logout()


def test_login_mechanism_with_imaplib(sasl_server: ServerHandle) -> None:
    conn = _connect(sasl_server)
    assert conn.authenticate("LOGIN", _login_mech("mrc", "secret"))[0] == "OK"
    conn.logout()
    conn = _connect(sasl_server)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.authenticate("LOGIN", _login_mech("mrc", "nope"))
    conn.logout()


def test_cram_md5_with_imaplib(sasl_server: ServerHandle) -> None:
    conn = _connect(sasl_server)
    assert conn.login_cram_md5("mrc", "secret")[0] == "OK"
    conn.logout()
    conn = _connect(sasl_server)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.login_cram_md5("mrc", "nope")
    conn.logout()


def _raw(server: ServerHandle, payload: bytes, until: bytes) -> bytes:
    with server.connect() as sock:
        read_until(sock, b"\r\n")
        sock.sendall(payload)
        return read_until(sock, until)


def test_sasl_ir_and_cancel(sasl_server: ServerHandle) -> None:
    ir = base64.b64encode(b"\x00demo\x00demo")
    out = _raw(sasl_server, b"a AUTHENTICATE PLAIN " + ir + b"\r\n", b"a ")
    assert b"a OK" in out and b"+" not in out
    out = _raw(sasl_server, b"a AUTHENTICATE SCRAM-SHA-256\r\n*\r\nb NOOP\r\n", b"b OK")
    assert b"a BAD" in out and b"cancelled" in out
    out = _raw(sasl_server, b"a AUTHENTICATE PLAIN\r\n%%%\r\nb NOOP\r\n", b"b OK")
    assert b"a BAD" in out
    out = _raw(sasl_server, b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\x00mrc\x00secret\x00x")
               + b"\r\nb NOOP\r\n", b"b OK")
    assert b"a BAD" in out
    authz = base64.b64encode(b"mrc\x00demo\x00demo")
    out = _raw(sasl_server, b"a AUTHENTICATE PLAIN " + authz + b"\r\n", b"a ")
    assert b"a NO" in out  # acting as another user is refused
    out = _raw(sasl_server, b"a AUTHENTICATE GSSAPI\r\n", b"a ")
    assert b"a NO" in out


def test_passwd_and_del_invalidate_cached_logins(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The CLI runs in another process; the server's login cache must notice."""
    args = write_config(tmp_path / "pyimapd.toml", "[auth]\nfailure_delay = 0\n")
    server = start_server(tmp_path, users={"bob": "first-pass"}, extra_args=args)
    register_server(request.node, server)
    try:
        for _ in range(2):  # the second one is served from the cache
            with _connect(server) as conn:
                assert conn.login("bob", "first-pass")[0] == "OK"
        run_cli("user", "passwd", "bob", "--password-stdin", "--data-dir", str(server.data_dir),
                stdin="second-pass\n")
        for login in (
            lambda c: c.login("bob", "first-pass"),
            lambda c: c.authenticate("SCRAM-SHA-256", _scram("SCRAM-SHA-256", "bob", "first-pass")),
            lambda c: c.login_cram_md5("bob", "first-pass"),
        ):
            with _connect(server) as conn, pytest.raises(imaplib.IMAP4.error):
                login(conn)
        with _connect(server) as conn:
            assert conn.login("bob", "second-pass")[0] == "OK"
        with _connect(server) as conn:
            assert conn.login_cram_md5("bob", "second-pass")[0] == "OK"
        run_cli("user", "del", "bob", "--data-dir", str(server.data_dir))
        with _connect(server) as conn, pytest.raises(imaplib.IMAP4.error):
            conn.login("bob", "second-pass")
    finally:
        server.stop()


def test_failed_logins_are_delayed_and_logged(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    args = write_config(tmp_path / "pyimapd.toml",
                        "[auth]\nfailure_delay = 0.25\nfailure_delay_max = 5\n")
    server = start_server(tmp_path, extra_args=[*args, "--workers", "1"])
    register_server(request.node, server)
    try:
        times = []
        with _connect(server) as conn:
            for _ in range(4):
                start = time.monotonic()
                with pytest.raises(imaplib.IMAP4.error):
                    conn.login("demo", "wrong")
                times.append(time.monotonic() - start)
        # 0.25, 0.5, 1, 2 s: generous margins for a loaded machine
        assert times[3] >= 1.5 and times[3] > times[0], times
        log = server.log_text()
        assert "authentication failed for 'demo' from 127.0.0.1" in log
    finally:
        server.stop()


def test_no_secret_is_stored_in_the_clear(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The password's bytes (raw, base64, hex, UTF-16) appear in no file of the data
    dir, even after logins with every mechanism and a clean shutdown."""
    password = "Zq9-Unique-Pa55phrase-7731"
    server = start_server(tmp_path, users={"carol": password})
    register_server(request.node, server)
    try:
        with _connect(server) as conn:
            conn.login("carol", password)
        with _connect(server) as conn:
            conn.login_cram_md5("carol", password)
        with _connect(server) as conn:
            conn.authenticate("SCRAM-SHA-1", _scram("SCRAM-SHA-1", "carol", password))
    finally:
        server.stop()
    raw = password.encode()
    forms = [raw, base64.b64encode(raw), raw.hex().encode(), password.encode("utf-16-le"),
             raw[:12]]
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("sqlite3") for p in files), files
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data, f"{form!r} found in {path}"
    assert password not in server.log_text()
