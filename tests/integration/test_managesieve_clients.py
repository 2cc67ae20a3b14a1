"""Real ManageSieve clients against ``pyimapd serve --listen-managesieve`` over
STARTTLS (RFC 5804): sieve-connect (Debian) and sievelib's client (PyPI) upload, check,
list, activate, download and delete scripts, and a bad script is refused with its
position."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from security.tlsutil import Certs, make_certs, write_config
from serverutil import ServerHandle, free_port, register_server, require_client, start_server

SCRIPT = 'require ["fileinto"];\nif header :contains "subject" "bills" {\n  fileinto "Bills";\n}\n'


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def sieve_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 certs: Certs) -> Iterator[tuple[ServerHandle, int]]:
    tmp = tmp_path_factory.mktemp("managesieve")
    port = free_port()
    args = [*certs.server_args(), "--listen-managesieve", f"127.0.0.1:{port}"]
    args += write_config(tmp / "pyimapd.toml", "[auth]\nfailure_delay = 0\n")
    handle = start_server(tmp, extra_args=args)
    register_server(request.node, handle)
    yield handle, port
    handle.stop()


def _sieve_connect(
    port: int, certs: Certs, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    binary = require_client("sieve-connect")
    read, write = os.pipe()
    os.write(write, b"demo\n")
    os.close(write)
    try:
        return subprocess.run(
            [binary, "--server", "localhost", "--port", str(port), "--user", "demo",
             "--passwordfd", str(read), "--tlscafile", str(certs.ca_path), *args],
            input=stdin, capture_output=True, text=True, timeout=60, pass_fds=(read,))
    finally:
        os.close(read)


def test_sieve_connect(sieve_server: tuple[ServerHandle, int], certs: Certs,
                       tmp_path: Path) -> None:
    _, port = sieve_server
    local = tmp_path / "bills.sieve"
    local.write_text(SCRIPT)
    done = _sieve_connect(port, certs, "--upload", "--localsieve", str(local),
                          "--remotesieve", "bills")
    assert done.returncode == 0, done.stderr
    done = _sieve_connect(port, certs, "--activate", "--remotesieve", "bills")
    assert done.returncode == 0, done.stderr
    done = _sieve_connect(port, certs, "--list")
    assert done.returncode == 0, done.stderr
    assert "bills" in done.stdout and "ACTIVE" in done.stdout.upper(), done.stdout
    back = tmp_path / "back.sieve"
    done = _sieve_connect(port, certs, "--download", "--remotesieve", "bills",
                          "--localsieve", str(back))
    assert done.returncode == 0, done.stderr
    assert back.read_text().replace("\r\n", "\n") == SCRIPT
    bad = tmp_path / "bad.sieve"
    bad.write_text('fileinto "x";\n')
    done = _sieve_connect(port, certs, "--upload", "--localsieve", str(bad),
                          "--remotesieve", "bad")
    assert done.returncode != 0
    assert "1:1" in done.stdout + done.stderr, (done.stdout, done.stderr)
    done = _sieve_connect(port, certs, "--deactivate")
    assert done.returncode == 0, done.stderr
    done = _sieve_connect(port, certs, "--delete", "--remotesieve", "bills")
    assert done.returncode == 0, done.stderr
    done = _sieve_connect(port, certs, "--list")
    assert "bills" not in done.stdout


def test_sievelib_client(sieve_server: tuple[ServerHandle, int], certs: Certs,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sievelib.managesieve import Client

    _, port = sieve_server
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_path))  # its default TLS context
    client = Client("localhost", port)
    assert client.connect("demo", "demo", starttls=True, authmech="PLAIN"), client.errmsg
    try:
        assert client.havespace("lib", len(SCRIPT))
        assert client.putscript("lib", SCRIPT), client.errmsg
        assert client.checkscript(SCRIPT)
        assert not client.checkscript("stop\n")
        assert client.setactive("lib")
        active, others = client.listscripts()
        assert active == "lib", (active, others)
        # sievelib drops the final line end of what it downloads
        assert client.getscript("lib").replace("\r\n", "\n") == SCRIPT.rstrip("\n")
        assert client.renamescript("lib", "lib2"), client.errmsg
        assert client.setactive("")
        assert client.deletescript("lib2")
        assert client.listscripts() == (None, [])
    finally:
        client.logout()
