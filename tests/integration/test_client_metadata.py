"""METADATA (RFC 5464) driven by real clients against a real pyimapd. imaplib has no
METADATA method (nor has IMAPClient), so imaplib sends the commands by name
(``_simple_command``) and reads the untagged METADATA responses; curl is the second
client, with ``-X 'SETMETADATA ...'`` on an IMAP URL."""

from __future__ import annotations

import imaplib

import pytest

from integration.test_client_curl import curl, run_curl, url  # noqa: F401 - curl fixture
from serverutil import ServerHandle

pytestmark = pytest.mark.timeout(60)

for _name in ("GETMETADATA", "SETMETADATA"):  # imaplib refuses commands it does not know
    imaplib.Commands.setdefault(_name, ("AUTH", "SELECTED"))


def _login(server: ServerHandle, user: str, password: str) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(server.host, server.port)
    conn.login(user, password)
    return conn


def test_imaplib_set_get_and_share(module_server: ServerHandle) -> None:
    demo = _login(module_server, "demo", "demo")
    assert "METADATA" in demo.capabilities
    assert demo.create("md-notes")[0] == "OK"
    typ, _ = demo._simple_command(
        "SETMETADATA", "md-notes", '(/private/comment "mine" /shared/comment "ours")')
    assert typ == "OK"
    typ, data = demo._simple_command(
        "GETMETADATA", "md-notes", "(/shared/comment /private/comment)")
    assert typ == "OK"
    _, found = demo._untagged_response(typ, data, "METADATA")
    assert found == [b'md-notes (/shared/comment "ours" /private/comment "mine")'], found
    assert demo.setacl("md-notes", "mrc", "lr")[0] == "OK"
    mrc = _login(module_server, "mrc", "secret")
    typ, data = mrc._simple_command(
        "GETMETADATA", '"Other Users/demo/md-notes"', "(/shared/comment /private/comment)")
    _, found = mrc._untagged_response(typ, data, "METADATA")
    assert found == [b'"Other Users/demo/md-notes" (/shared/comment "ours")'], found
    typ, data = mrc._simple_command(
        "SETMETADATA", '"Other Users/demo/md-notes"', '(/shared/comment "theirs")')
    assert typ == "NO" and b"[NOPERM]" in data[0], (typ, data)
    for conn in (demo, mrc):
        conn.logout()


def test_curl_setmetadata(curl: str, module_server: ServerHandle) -> None:  # noqa: F811
    """curl prints only untagged responses named like its command, so it sets the entry
    (curl fails on a NO) and imaplib reads it back."""
    run_curl(curl, url(module_server), "-X", 'SETMETADATA INBOX (/shared/comment "from curl")')
    demo = _login(module_server, "demo", "demo")
    typ, data = demo._simple_command("GETMETADATA", "INBOX", "/shared/comment")
    _, found = demo._untagged_response(typ, data, "METADATA")
    assert found == [b'INBOX (/shared/comment "from curl")'], found
    demo.logout()
