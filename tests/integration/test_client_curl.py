"""curl's IMAP URLs (RFC 5092) against a real pyimapd: list, fetch by UID, search,
append with -T, and the quick start's ``curl imap://demo:demo@HOST:PORT/INBOX``."""

from __future__ import annotations

import imaplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.clienthelp import make_message
from serverutil import ServerHandle, require_client

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def curl() -> str:
    return require_client("curl")


def run_curl(curl: str, *args: str) -> bytes:
    proc = subprocess.run(
        [curl, "--silent", "--show-error", "--max-time", "20", *args],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def url(server: ServerHandle, path: str = "", user: str = "demo:demo") -> str:
    return f"imap://{user}@{server.host}:{server.port}/{path}"


@pytest.fixture
def lib(module_server: ServerHandle) -> Iterator[imaplib.IMAP4]:
    conn = imaplib.IMAP4(module_server.host, module_server.port, timeout=10)
    conn.login("demo", "demo")
    yield conn
    conn.logout()


def uid_of_last(conn: imaplib.IMAP4, mailbox: str) -> int:
    typ, data = conn.select(mailbox)
    assert typ == "OK", data
    typ, data = conn.uid("SEARCH", "ALL")
    assert typ == "OK" and data[0], data
    return int(data[0].split()[-1])


def test_list_mailboxes(curl: str, module_server: ServerHandle, lib: imaplib.IMAP4) -> None:
    assert lib.create("curl-list/sub")[0] == "OK"
    out = run_curl(curl, url(module_server))
    lines = out.decode().splitlines()
    assert any(line.endswith('"/" INBOX') for line in lines), lines
    assert any(line.endswith('"/" curl-list') for line in lines), lines
    assert all(line.startswith("* LIST (") for line in lines), lines


def test_inbox_url(curl: str, module_server: ServerHandle) -> None:
    out = run_curl(curl, url(module_server, "INBOX"))
    assert b'"/" INBOX' in out, out


def test_fetch_by_uid(curl: str, module_server: ServerHandle, lib: imaplib.IMAP4) -> None:
    msg = make_message("fetched by curl", body="line 1\r\nline 2\r\n")
    assert lib.append("INBOX", None, None, msg)[0] == "OK"
    uid = uid_of_last(lib, "INBOX")
    out = run_curl(curl, url(module_server, f"INBOX;UID={uid}"))
    assert out == msg
    typ, data = lib.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK" and b"\\Seen" in data[0], data  # curl fetches BODY[], not PEEK


def test_fetch_section(curl: str, module_server: ServerHandle, lib: imaplib.IMAP4) -> None:
    msg = make_message("section by curl", body="just the text\r\n")
    assert lib.append("INBOX", None, None, msg)[0] == "OK"
    uid = uid_of_last(lib, "INBOX")
    out = run_curl(curl, url(module_server, f"INBOX;UID={uid}/;SECTION=TEXT"))
    assert out == b"just the text\r\n"


def test_search(curl: str, module_server: ServerHandle, lib: imaplib.IMAP4) -> None:
    assert lib.create("curl-search")[0] == "OK"
    assert lib.append("curl-search", None, None, make_message("needle"))[0] == "OK"
    assert lib.append("curl-search", None, None, make_message("hay"))[0] == "OK"
    out = run_curl(curl, url(module_server, "curl-search?SUBJECT%20needle"))
    assert out.strip() == b"* SEARCH 1", out


def test_append_with_upload(
    curl: str, module_server: ServerHandle, lib: imaplib.IMAP4, tmp_path: Path
) -> None:
    msg = make_message("uploaded by curl", body="sent with -T\r\n")
    path = tmp_path / "message.eml"
    path.write_bytes(msg)
    assert lib.create("curl-append")[0] == "OK"
    run_curl(curl, "-T", str(path), url(module_server, "curl-append"))
    assert lib.select("curl-append") == ("OK", [b"1"])
    typ, data = lib.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == msg, data


def test_wrong_password(curl: str, module_server: ServerHandle) -> None:
    proc = subprocess.run(
        [curl, "--silent", "--max-time", "20", url(module_server, "", "demo:wrong")],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 67, proc  # CURLE_LOGIN_DENIED
