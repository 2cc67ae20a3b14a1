"""Issue 20: passwords move too. ``pyimapd user import-passwd`` takes a Dovecot
passwd-file with every scheme Dovecot users have (hashes made by Dovecot's own
``doveadm pw``); the users log in over IMAP and ManageSieve with their old passwords,
and their hashes are argon2id afterwards. A file with an unknown scheme is refused with
the line number, and nothing of it is imported."""

from __future__ import annotations

import asyncio
import imaplib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyimapd.config import Config
from pyimapd.server import open_backend
from serverutil import ServerHandle, free_port, register_server, start_server

pytestmark = pytest.mark.skipif(shutil.which("doveadm") is None, reason="needs doveadm")

SCHEMES = ("ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "SSHA512",
           "CRAM-MD5", "PLAIN")


def doveadm_pw(scheme: str, password: str) -> str:
    done = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def pyimapd(data: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyimapd", *argv, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60)


def hashes(data: Path) -> dict[str, str]:
    async def read() -> dict[str, str]:
        backend = open_backend(Config(data_dir=data))
        await backend.start()
        try:
            out = {}
            for name in await backend.users.list_users():
                record = await backend.users.get_user(name)
                assert record is not None
                out[name] = record.password_hash
            return out
        finally:
            await backend.close()

    return asyncio.run(read())


def server(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[ServerHandle, int]:
    """pyimapd with a ManageSieve listener and no failed-login delay."""
    sieve_port = free_port()
    config = tmp_path / "pyimapd.toml"
    config.write_text("[auth]\nfailure_delay = 0\n")
    handle = start_server(tmp_path, {"demo": "demo"}, extra_args=(
        "--listen-managesieve", f"127.0.0.1:{sieve_port}", "--config", str(config)))
    register_server(request.node, handle)
    return handle, sieve_port


def test_dovecot_passwords_log_in_and_are_rehashed(tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    handle, sieve_port = server(tmp_path, request)
    try:
        bad = tmp_path / "bad.passwd"
        bad.write_text(f"ok:{doveadm_pw('PLAIN', 'x')}\nnope:{{MD5-CRYPT}}$1$abc$def::\n"
                       "noscheme:plaintext\n")
        done = pyimapd(handle.data_dir, "user", "import-passwd", str(bad))
        assert done.returncode == 1
        assert "line 2: unknown password scheme {MD5-CRYPT}" in done.stderr, done.stderr
        assert "line 3: no {SCHEME} prefix" in done.stderr, done.stderr
        assert "ok" not in hashes(handle.data_dir)  # nothing of a bad file is imported
        lines = [f"u{n}:{doveadm_pw(s, f'pw-{s}')}:1000:1000::/home/u{n}::"
                 for n, s in enumerate(SCHEMES)]
        good = tmp_path / "users.passwd"
        good.write_text("# from Dovecot\n" + "\n".join(lines) + "\n")
        done = pyimapd(handle.data_dir, "user", "import-passwd", str(good))
        assert done.returncode == 0, done.stderr
        assert "8 accounts added" in done.stdout
        before = hashes(handle.data_dir)
        assert before["u0"].startswith("{ARGON2ID}$argon2id$")
        assert before["u7"].startswith("$argon2id$")  # {PLAIN} is never kept
        for n, scheme in enumerate(SCHEMES):
            conn = imaplib.IMAP4(handle.host, handle.port)
            with pytest.raises(imaplib.IMAP4.error):
                conn.login(f"u{n}", "wrong")
            assert conn.login(f"u{n}", f"pw-{scheme}")[0] == "OK", scheme
            conn.logout()
        after = hashes(handle.data_dir)
        for n in range(len(SCHEMES)):
            assert after[f"u{n}"].startswith("$argon2id$"), (SCHEMES[n], after[f"u{n}"])
        # CRAM-MD5 keeps working with the secret derived at the rehash.
        conn = imaplib.IMAP4(handle.host, handle.port)
        assert conn.login_cram_md5("u6", "pw-CRAM-MD5")[0] == "OK"
        conn.logout()
    finally:
        handle.stop()


def test_imported_password_over_managesieve(tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    from sievelib.managesieve import Client

    handle, sieve_port = server(tmp_path, request)
    try:
        passwd = tmp_path / "users.passwd"
        passwd.write_text(f"ann:{doveadm_pw('SHA512-CRYPT', 'sesame')}::::::\n")
        assert pyimapd(handle.data_dir, "user", "import-passwd", str(passwd)).returncode == 0
        client = Client("127.0.0.1", sieve_port)
        assert client.connect("ann", "sesame", starttls=False, authmech="PLAIN"), client.errmsg
        assert client.listscripts() == (None, [])
        client.logout()
        assert hashes(handle.data_dir)["ann"].startswith("$argon2id$")
    finally:
        handle.stop()
