"""Quota end to end: ``pyimapd user quota`` sets a limit on a running server's store,
LMTP answers 552 5.2.2 for the full mailbox only (RFC 2033 4.2, RFC 3463), and IMAP's
GETQUOTAROOT (RFC 9208) shows the limit."""

from __future__ import annotations

import imaplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyimapd.cli import main
from serverutil import ServerHandle, free_port, register_server, start_server

USERS = {"demo": "demo", "mrc": "secret"}


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerHandle, int]]:
    port = free_port()
    handle = start_server(tmp_path, USERS, extra_args=("--listen-lmtp", f"127.0.0.1:{port}"))
    register_server(request.node, handle)
    yield handle, port
    handle.stop()


def _lines_until(sock: socket.socket, done: str, count: int = 1) -> list[str]:
    """Reads reply lines until ``count`` of them start with ``done``."""
    data = b""
    while True:
        lines = data.decode().split("\r\n")[:-1]
        if sum(1 for line in lines if line.startswith(done)) >= count:
            return lines
        chunk = sock.recv(4096)
        if not chunk:
            return lines
        data += chunk


def test_cli_quota_then_lmtp_and_imap(
    server: tuple[ServerHandle, int], capsys: pytest.CaptureFixture[str]
) -> None:
    handle, port = server
    common = ["--data-dir", str(handle.data_dir)]
    assert main(["user", "quota", "mrc", *common]) == 0
    assert capsys.readouterr().out == "storage: none\nmessages: none\n"
    assert main(["user", "quota", "mrc", "--storage", "1", "--messages", "5", *common]) == 0
    assert capsys.readouterr().out == "storage: 1 KiB\nmessages: 5\n"
    assert main(["user", "quota", "mrc", "--messages", "none", *common]) == 0
    assert capsys.readouterr().out == "storage: 1 KiB\nmessages: none\n"
    assert main(["user", "quota", "ghost", *common]) == 1
    with pytest.raises(SystemExit):
        main(["user", "quota", "mrc", "--storage", "-3", *common])

    body = "Subject: big\r\n\r\n" + "x" * 2000 + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"LHLO test\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<demo>\r\n"
                     b"RCPT TO:<mrc>\r\nDATA\r\n")
        replies = _lines_until(sock, "354")
        assert [r[:3] for r in replies[-3:]] == ["250", "250", "354"], replies
        sock.sendall(body.encode() + b".\r\n")
        after = _lines_until(sock, "5", 1)
    assert after[0].startswith("250 2.0.0 <demo>"), after
    assert after[1].startswith("552 5.2.2 <mrc>"), after

    conn = imaplib.IMAP4(handle.host, handle.port, timeout=10)
    conn.login("mrc", "secret")
    typ, data = conn.getquotaroot("INBOX")
    assert (typ, data) == ("OK", [[b'INBOX ""'], [b'"" (STORAGE 0 1)']])
    assert conn.select("INBOX")[1] == [b"0"]
    conn.logout()
