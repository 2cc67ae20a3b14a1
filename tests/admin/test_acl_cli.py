"""``pyimapd acl get|set|delete`` and ``pyimapd mailbox create --shared`` through the real
command line, then the result as a client sees it: the same checks as SETACL."""

from __future__ import annotations

import imaplib
from pathlib import Path

import pytest

from serverutil import ServerError, create_users, run_cli, start_server


def test_acl_set_get_delete_with_setacl_checks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_users(data, {"demo": "demo", "bob": "bob"})
    where = ["--data-dir", str(data)]
    run_cli("mailbox", "create", "demo", "Bills", *where)
    run_cli("acl", "set", "demo", "Bills", "bob", "lr", *where)
    run_cli("acl", "set", "demo", "Bills", "bob", "+sd", *where)  # d = e t (RFC 4314 2.1.1)
    listing = run_cli("acl", "get", "demo", "Bills", *where).stdout
    assert listing.splitlines() == ["demo\tlrswipkxteacd", "bob\tlrsted"]
    with pytest.raises(ServerError, match="The q right is not supported"):
        run_cli("acl", "set", "demo", "Bills", "bob", "lq", *where)
    with pytest.raises(ServerError, match="owner always has every right"):
        run_cli("acl", "set", "demo", "Bills", "demo", "l", *where)
    with pytest.raises(ServerError, match="does not exist"):
        run_cli("acl", "get", "demo", "Nowhere", *where)
    with pytest.raises(ServerError, match="No user ghost"):
        run_cli("acl", "get", "ghost", "INBOX", *where)
    run_cli("acl", "delete", "demo", "Bills", "bob", *where)
    assert run_cli("acl", "get", "demo", "Bills", *where).stdout.splitlines() == [
        "demo\tlrswipkxteacd"]


def test_shared_mailbox_created_and_granted_from_the_command_line(tmp_path: Path) -> None:
    """While a server runs on the same data dir, as an administrator would."""
    config = tmp_path / "pyimapd.toml"
    config.write_text('[namespaces]\nshared_owner = "public"\n')
    server = start_server(tmp_path, users={"demo": "demo"}, extra_args=["--config", str(config)])
    data = server.data_dir
    where = ["--data-dir", str(data), "--config", str(config)]
    with pytest.raises(ServerError, match="shared_owner"):
        run_cli("mailbox", "create", "--shared", "News", "--data-dir", str(data))
    out = run_cli("mailbox", "create", "--shared", "News", *where).stdout
    assert "Shared/News" in out
    with pytest.raises(ServerError, match="exists"):
        run_cli("mailbox", "create", "--shared", "News", *where)
    with pytest.raises(ServerError, match="--shared NAME"):
        run_cli("mailbox", "create", "--shared", "demo", "News", *where)
    run_cli("acl", "set", "public", "News", "anyone", "lr", *where)
    try:
        conn = imaplib.IMAP4(server.host, server.port)
        conn.login("demo", "demo")
        typ, lines = conn.list('""', "Shared/*")
        assert typ == "OK"
        assert any(line.endswith(b' Shared/News') for line in lines if line), lines
        typ, data_ = conn.myrights('Shared/News')
        assert typ == "OK" and data_[0].endswith(b" lr"), data_
        # The pseudo-owner has a random password: nobody logs in as it.
        other = imaplib.IMAP4(server.host, server.port)
        with pytest.raises(imaplib.IMAP4.error):
            other.login("public", "")
        other.logout()
        conn.logout()
    finally:
        server.stop()
