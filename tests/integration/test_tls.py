"""STARTTLS and implicit TLS against a real server, with a throwaway CA (trustme),
checked by imaplib and by ``openssl s_client``; LOGINDISABLED before TLS; the STARTTLS
command-injection class of bug (RFC 3501 section 6.2.1, RFC 8314, RFC 2595 section 3.1).
"""

from __future__ import annotations

import imaplib
import signal
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from security.tlsutil import Certs, local_ip, make_certs, read_until, write_config
from serverutil import (
    ServerHandle,
    free_port,
    pyimapd_cmd,
    python_env,
    register_server,
    require_client,
    start_server,
)

NO_DELAY = "[auth]\nfailure_delay = 0\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    ip = local_ip()
    return make_certs(tmp_path_factory.mktemp("certs"), extra_names=(ip,) if ip else ())


@pytest.fixture(scope="module")
def tls_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, certs: Certs
) -> Iterator[tuple[ServerHandle, int]]:
    tmp = tmp_path_factory.mktemp("tls")
    tls_port = free_port()
    args = [*certs.server_args(), "--listen-tls", f"127.0.0.1:{tls_port}"]
    args += write_config(tmp / "pyimapd.toml", NO_DELAY)
    handle = start_server(tmp, extra_args=args)
    register_server(request.node, handle)
    yield handle, tls_port
    handle.stop()


def test_starttls_with_imaplib(tls_server: tuple[ServerHandle, int], certs: Certs) -> None:
    server, _ = tls_server
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    assert "STARTTLS" in conn.capabilities
    conn.starttls(certs.client_context())
    assert isinstance(conn.sock, ssl.SSLSocket)
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    # RFC 3501 6.2.1: the client re-reads capabilities; STARTTLS is gone from them
    assert "STARTTLS" not in conn.capabilities
    assert "AUTH=PLAIN" in conn.capabilities
    assert conn.login("demo", "demo")[0] == "OK"
    assert conn.select("INBOX")[0] == "OK"
    conn.logout()


def test_implicit_tls_with_imaplib(tls_server: tuple[ServerHandle, int], certs: Certs) -> None:
    server, tls_port = tls_server
    conn = imaplib.IMAP4_SSL(server.host, tls_port, ssl_context=certs.client_context(),
                             timeout=10)
    assert "STARTTLS" not in conn.capabilities
    assert "LOGINDISABLED" not in conn.capabilities
    assert conn.login("mrc", "secret")[0] == "OK"
    conn.logout()


def _s_client(args: list[str], certs: Certs, stdin: bytes) -> str:
    openssl = require_client("openssl")
    proc = subprocess.run(
        [openssl, "s_client", "-CAfile", str(certs.ca_path), "-verify_return_error",
         "-crlf", "-ign_eof", *args],
        input=stdin, capture_output=True, timeout=30,
    )
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def test_openssl_s_client_starttls(tls_server: tuple[ServerHandle, int], certs: Certs) -> None:
    server, _ = tls_server
    out = _s_client(["-connect", server.address, "-starttls", "imap"], certs,
                    b"a1 CAPABILITY\na2 LOGIN demo demo\na3 LOGOUT\n")
    assert "Verify return code: 0 (ok)" in out, out
    assert "a2 OK" in out and "a3 OK" in out, out


def test_openssl_s_client_implicit(tls_server: tuple[ServerHandle, int], certs: Certs) -> None:
    server, tls_port = tls_server
    out = _s_client(["-connect", f"127.0.0.1:{tls_port}"], certs, b"a1 NOOP\na2 LOGOUT\n")
    assert "Verify return code: 0 (ok)" in out, out
    assert "* OK" in out and "a2 OK" in out, out
    assert "Protocol  : TLSv1.2" in out or "TLSv1.3" in out, out


def test_old_tls_versions_refused(tls_server: tuple[ServerHandle, int], certs: Certs) -> None:
    _, tls_port = tls_server
    ctx = certs.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.2"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw, \
            pytest.raises((ssl.SSLError, OSError)):
        old.wrap_socket(raw, server_hostname="localhost").close()


def _greeted(server: ServerHandle) -> socket.socket:
    sock = server.connect()
    assert read_until(sock, b"\r\n").startswith(b"* OK")
    return sock


def test_starttls_injection_is_not_executed(
    tls_server: tuple[ServerHandle, int], certs: Certs
) -> None:
    """Commands pipelined behind STARTTLS in the same packet must be thrown away."""
    server, _ = tls_server
    sock = _greeted(server)
    sock.sendall(b"a STARTTLS\r\nb LOGIN demo demo\r\nc CAPABILITY\r\n")
    reply = read_until(sock, b"a OK")
    assert b"a OK" in reply and b"b " not in reply
    tls = certs.client_context().wrap_socket(sock, server_hostname="localhost")
    tls.sendall(b"d NOOP\r\ne LOGOUT\r\n")
    after = read_until(tls, b"e OK")
    assert b"d OK" in after and b"e OK" in after, after
    assert b"b OK" not in after and b"b NO" not in after and b"c OK" not in after, after
    assert b"* CAPABILITY" not in after
    tls.close()
    assert "discarded" in server.log_text()


def test_plaintext_after_starttls_ok_breaks_the_handshake(
    tls_server: tuple[ServerHandle, int], certs: Certs
) -> None:
    """Plaintext sent after the OK is read as (bad) handshake data, never as a command."""
    server, _ = tls_server
    before = server.log_text().count("user mrc logged in")
    sock = _greeted(server)
    sock.sendall(b"a STARTTLS\r\n")
    assert b"a OK" in read_until(sock, b"a OK")
    sock.sendall(b"b LOGIN mrc secret\r\n")
    rest = read_until(sock, b"\r\n")
    assert b"b OK" not in rest
    sock.close()
    assert server.log_text().count("user mrc logged in") == before
    with imaplib.IMAP4(server.host, server.port, timeout=10) as conn:  # still up
        assert conn.noop()[0] == "OK"


def test_starttls_refused_when_secure_or_authenticated(
    tls_server: tuple[ServerHandle, int], certs: Certs
) -> None:
    server, tls_port = tls_server
    conn = imaplib.IMAP4_SSL(server.host, tls_port, ssl_context=certs.client_context(),
                             timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="already active"):
            conn._simple_command("STARTTLS")
    finally:
        conn.logout()
    raw = socket.create_connection((server.host, tls_port), timeout=10)
    with certs.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
        read_until(tls, b"\r\n")
        tls.sendall(b"a LOGIN demo demo\r\nb STARTTLS\r\nc LOGOUT\r\n")
        out = read_until(tls, b"c OK")
    assert b"a OK" in out and b"b BAD" in out, out


def test_no_starttls_without_certificate(server: ServerHandle) -> None:
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    assert "STARTTLS" not in conn.capabilities
    assert conn._simple_command("STARTTLS")[0] == "NO"
    conn.logout()


@pytest.fixture
def wide_server(
    request: pytest.FixtureRequest, tmp_path: Path, certs: Certs
) -> Iterator[tuple[ServerHandle, str]]:
    ip = local_ip()
    if ip is None:
        pytest.skip("this host has no non-loopback address (covered in tests/security)")
    address = f"{ip}:{free_port()}"
    args = [*certs.server_args(), "--listen", address]
    handle = start_server(tmp_path, extra_args=args)
    register_server(request.node, handle)
    yield handle, address
    handle.stop()


def test_logindisabled_before_tls_off_loopback(
    wide_server: tuple[ServerHandle, str], certs: Certs
) -> None:
    server, address = wide_server
    host, port = address.rsplit(":", 1)
    conn = imaplib.IMAP4(host, int(port), timeout=10)
    caps = conn.capabilities
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert "AUTH=PLAIN" not in caps and "AUTH=LOGIN" not in caps
    assert "AUTH=SCRAM-SHA-256" in caps  # no password crosses the wire
    typ, data = conn._simple_command("LOGIN", "demo", "demo")
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[-1]
    with pytest.raises(imaplib.IMAP4.error):
        conn.authenticate("PLAIN", lambda _: b"\x00demo\x00demo")
    conn.starttls(certs.client_context())
    assert "LOGINDISABLED" not in conn.capabilities
    assert "AUTH=PLAIN" in conn.capabilities
    assert conn.login("demo", "demo")[0] == "OK"
    conn.logout()
    # the loopback listener of the same server still allows LOGIN
    with imaplib.IMAP4(server.host, server.port, timeout=10) as local:
        assert "LOGINDISABLED" not in local.capabilities


def _peer_cert_issuer(port: int, ca_path: Path) -> bool:
    """True when the server on ``port`` presents a certificate signed by ``ca_path``."""
    ctx = ssl.create_default_context(cafile=str(ca_path))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost"):
            return True
    except ssl.SSLCertVerificationError:
        return False


def test_sighup_reloads_the_certificate(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    first = make_certs(tmp_path / "one", "one")
    live = make_certs(tmp_path / "live", "live")
    for src, dst in ((first.cert_path, live.cert_path), (first.key_path, live.key_path)):
        dst.write_bytes(src.read_bytes())
    tls_port = free_port()
    args = [*live.server_args(), "--listen-tls", f"127.0.0.1:{tls_port}", "--workers", "1"]
    server = start_server(tmp_path, extra_args=args)
    register_server(request.node, server)
    try:
        assert _peer_cert_issuer(tls_port, first.ca_path)
        second = make_certs(tmp_path / "two", "two")
        live.key_path.write_bytes(second.key_path.read_bytes())
        live.cert_path.write_bytes(second.cert_path.read_bytes())
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "TLS certificate reloaded" not in server.log_text():
            assert time.monotonic() < deadline, "no reload logged"
            time.sleep(0.05)
        assert _peer_cert_issuer(tls_port, second.ca_path)
        assert not _peer_cert_issuer(tls_port, first.ca_path)
        live.key_path.write_text("not a key")  # a broken reload keeps the old pair
        server.proc.send_signal(signal.SIGHUP)
        while "TLS reload failed" not in server.log_text():
            assert time.monotonic() < deadline, "no failed reload logged"
            time.sleep(0.05)
        assert _peer_cert_issuer(tls_port, second.ca_path)
    finally:
        server.stop()


def test_listen_tls_without_certificate_is_an_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        pyimapd_cmd("serve", "--data-dir", str(tmp_path / "d"), "--listen",
                    f"127.0.0.1:{free_port()}", "--listen-tls", f"127.0.0.1:{free_port()}",
                    "--workers", "1"),
        capture_output=True, text=True, timeout=30, env=python_env(),
    )
    assert proc.returncode != 0
    assert "--listen-tls needs --tls-cert" in proc.stderr
