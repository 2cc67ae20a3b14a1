"""The standard library's imaplib against a real pyimapd: one small test per command.

The tests share one server per module (user demo) and each works in mailboxes named
after itself, so they do not see each other's messages.
"""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Iterator

import pytest

from integration.clienthelp import make_message
from serverutil import ServerHandle

pytestmark = pytest.mark.timeout(60)


def ok(result: tuple[str, list]) -> list:  # type: ignore[type-arg]
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def connect(server: ServerHandle, user: str = "demo", password: str = "demo") -> imaplib.IMAP4:
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    ok(conn.login(user, password))
    return conn


@pytest.fixture
def mbox(request: pytest.FixtureRequest, imaplib_conn: imaplib.IMAP4) -> Iterator[str]:
    """A fresh mailbox named after the test."""
    name = "t-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
    ok(imaplib_conn.create(name))
    yield name


def fill(conn: imaplib.IMAP4, mbox: str, count: int, flags: str = "") -> list[bytes]:
    messages = [make_message(f"{mbox} message {i}") for i in range(1, count + 1)]
    for msg in messages:
        ok(conn.append(mbox, flags or None, None, msg))
    return messages


def test_capability_and_noop(imaplib_conn: imaplib.IMAP4) -> None:
    caps = imaplib_conn.capabilities
    assert "IMAP4REV1" in caps and "IDLE" in caps, caps
    ok(imaplib_conn.noop())
    data = ok(imaplib_conn.capability())
    assert b"IMAP4rev1" in data[0]


def test_login_wrong_password_is_refused(module_server: ServerHandle) -> None:
    conn = imaplib.IMAP4(module_server.host, module_server.port, timeout=10)
    assert "AUTH=PLAIN" in conn.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.login("demo", "wrong")
    ok(conn.login("demo", "demo"))
    assert conn.logout()[0] == "BYE"


def test_authenticate_plain(module_server: ServerHandle) -> None:
    conn = imaplib.IMAP4(module_server.host, module_server.port, timeout=10)
    ok(conn.authenticate("PLAIN", lambda _challenge: b"\0mrc\0secret"))
    assert conn.state == "AUTH"
    ok(conn.select("INBOX"))
    assert conn.logout()[0] == "BYE"


def test_logout_says_bye(module_server: ServerHandle) -> None:
    conn = connect(module_server)
    typ, data = conn.logout()
    assert typ == "BYE", (typ, data)


def test_create_list_rename_delete(imaplib_conn: imaplib.IMAP4) -> None:
    ok(imaplib_conn.create("lib-crud/child/grandchild"))
    listed = b"\n".join(ok(imaplib_conn.list('""', "lib-crud*")))
    for name in (b"lib-crud", b"lib-crud/child", b"lib-crud/child/grandchild"):
        assert re.search(rb'"/" "?' + re.escape(name) + rb'"?(\n|$)', listed), listed
    typ, _ = imaplib_conn.create("lib-crud")
    assert typ == "NO"
    ok(imaplib_conn.rename("lib-crud", "lib-renamed"))
    listed = b"\n".join(x for x in ok(imaplib_conn.list('""', "lib-*")) if x)
    assert b"lib-crud" not in listed and b"lib-renamed/child/grandchild" in listed, listed
    ok(imaplib_conn.delete("lib-renamed/child/grandchild"))
    ok(imaplib_conn.delete("lib-renamed/child"))
    ok(imaplib_conn.delete("lib-renamed"))
    assert ok(imaplib_conn.list('""', "lib-*")) == [None]
    typ, _ = imaplib_conn.delete("lib-renamed")
    assert typ == "NO"


def test_list_percent_and_star(imaplib_conn: imaplib.IMAP4) -> None:
    for name in ("lib-pct", "lib-pct/a", "lib-pct/a/b"):
        ok(imaplib_conn.create(name))
    top = [x for x in ok(imaplib_conn.list('""', "lib-pct/%")) if x]
    assert len(top) == 1 and top[0].endswith(b"lib-pct/a"), top
    deep = [x for x in ok(imaplib_conn.list("lib-pct/", "*")) if x]
    assert len(deep) == 2, deep


def test_subscribe_lsub_unsubscribe(imaplib_conn: imaplib.IMAP4) -> None:
    ok(imaplib_conn.create("lib-sub"))
    ok(imaplib_conn.subscribe("lib-sub"))
    assert any(x and x.endswith(b"lib-sub") for x in ok(imaplib_conn.lsub('""', "lib-*")))
    ok(imaplib_conn.unsubscribe("lib-sub"))
    assert ok(imaplib_conn.lsub('""', "lib-sub")) == [None]


def test_status(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 2)
    fill(imaplib_conn, mbox, 1, r"(\Seen)")
    data = ok(imaplib_conn.status(mbox, "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))
    text = data[0].decode()
    assert re.search(r"MESSAGES 3\b", text) and re.search(r"UNSEEN 2\b", text), text
    assert re.search(r"RECENT 3\b", text) and re.search(r"UIDNEXT \d+", text), text
    assert re.search(r"UIDVALIDITY \d+", text), text


def test_append_with_flags_and_date_round_trips(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    msg = make_message("dated", body="Line one\r\nLine two\r\n")
    when = '"17-Jul-1996 02:44:25 -0700"'
    data = ok(imaplib_conn.append(mbox, r"(\Flagged $Work)", when, msg))
    ok(imaplib_conn.select(mbox))
    data = ok(imaplib_conn.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"))
    meta, body = data[0]
    assert body == msg
    assert b"\\Flagged" in meta and b"$Work" in meta, meta
    assert f"RFC822.SIZE {len(msg)}".encode() in meta, meta
    assert b'INTERNALDATE "17-Jul-1996 02:44:25 -0700"' in meta, meta


def test_select_examine_and_check(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 3)
    assert ok(imaplib_conn.select(mbox)) == [b"3"]
    assert imaplib_conn.untagged_responses.get("RECENT") == [b"3"]
    ok(imaplib_conn.check())
    assert ok(imaplib_conn.select(mbox, readonly=True)) == [b"3"]
    typ, _ = imaplib_conn._simple_command("STORE", "1", "+FLAGS", r"(\Deleted)")
    data = ok(imaplib_conn.fetch("1", "(FLAGS)"))
    assert b"\\Deleted" not in data[0], (typ, data)


def test_store_flag_forms(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 2)
    ok(imaplib_conn.select(mbox))
    data = ok(imaplib_conn.store("1", "FLAGS", r"(\Answered)"))
    assert b"\\Answered" in data[0]
    data = ok(imaplib_conn.store("1", "+FLAGS", r"(\Flagged keyword1)"))
    assert b"\\Flagged" in data[0] and b"keyword1" in data[0]
    data = ok(imaplib_conn.store("1", "-FLAGS", r"(\Answered)"))
    assert b"\\Answered" not in data[0]
    assert ok(imaplib_conn.store("2", "+FLAGS.SILENT", r"(\Seen)")) == [None]
    data = ok(imaplib_conn.fetch("1:2", "(FLAGS)"))
    assert b"\\Seen" in data[1] and b"\\Seen" not in data[0], data


def test_search(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    ok(imaplib_conn.append(mbox, r"(\Seen)", None, make_message("apples", sender="a@x.org")))
    ok(imaplib_conn.append(mbox, None, None, make_message("pears", body="x" * 3000)))
    ok(imaplib_conn.append(mbox, r"(\Flagged)", None, make_message("more apples")))
    ok(imaplib_conn.select(mbox))
    assert ok(imaplib_conn.search(None, "ALL")) == [b"1 2 3"]
    assert ok(imaplib_conn.search(None, "SEEN")) == [b"1"]
    assert ok(imaplib_conn.search(None, "UNSEEN")) == [b"2 3"]
    assert ok(imaplib_conn.search(None, "SUBJECT", "apples")) == [b"1 3"]
    assert ok(imaplib_conn.search(None, "LARGER", "2000")) == [b"2"]
    assert ok(imaplib_conn.search(None, "OR", "SEEN", "FLAGGED")) == [b"1 3"]
    assert ok(imaplib_conn.search(None, "NOT", "FROM", "a@x.org")) == [b"2 3"]
    assert ok(imaplib_conn.search(None, "2:*")) == [b"2 3"]
    today = time.strftime("%d-%b-%Y", time.gmtime(time.time() + 2 * 86400))
    assert ok(imaplib_conn.search(None, "BEFORE", today)) == [b"1 2 3"]
    assert ok(imaplib_conn.search(None, "SINCE", today)) == [b""]


def test_fetch_items(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    msg = make_message("fetch me", body="Body text\r\n")
    ok(imaplib_conn.append(mbox, None, None, msg))
    ok(imaplib_conn.select(mbox))
    data = ok(imaplib_conn.fetch("1", "(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)"))
    text = data[0]
    assert b'"fetch me"' in text and b"ENVELOPE" in text and b"BODYSTRUCTURE" in text, text
    assert re.search(rb'\(?"TEXT" "PLAIN"', text, re.I), text
    data = ok(imaplib_conn.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert data[0][1] == b"Subject: fetch me\r\n\r\n"
    data = ok(imaplib_conn.fetch("1", "(BODY.PEEK[TEXT])"))
    assert data[0][1] == b"Body text\r\n"
    data = ok(imaplib_conn.fetch("1", "(BODY.PEEK[]<0.5>)"))
    assert data[0][1] == msg[:5]
    data = ok(imaplib_conn.fetch("1", "(FLAGS)"))
    assert b"\\Seen" not in data[0]
    data = ok(imaplib_conn.fetch("1", "(RFC822)"))
    assert data[0][1] == msg
    data = ok(imaplib_conn.fetch("1", "(FLAGS)"))
    assert b"\\Seen" in data[0]
    data = ok(imaplib_conn.fetch("1", "FULL"))
    assert b"INTERNALDATE" in data[0] and b"BODY (" in data[0], data


def test_copy_and_trycreate(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 2, r"(\Flagged)")
    dest = mbox + "-dest"
    ok(imaplib_conn.create(dest))
    ok(imaplib_conn.select(mbox))
    ok(imaplib_conn.copy("1:2", dest))
    typ, data = imaplib_conn.copy("1", mbox + "-missing")
    assert typ == "NO" and b"[TRYCREATE]" in data[0], (typ, data)
    text = ok(imaplib_conn.status(dest, "(MESSAGES)"))[0]
    assert b"MESSAGES 2" in text


def test_expunge_and_close(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 4)
    ok(imaplib_conn.select(mbox))
    ok(imaplib_conn.store("2", "+FLAGS", r"(\Deleted)"))
    assert ok(imaplib_conn.expunge()) == [b"2"]
    ok(imaplib_conn.store("1", "+FLAGS", r"(\Deleted)"))
    ok(imaplib_conn.close())
    assert b"MESSAGES 2" in ok(imaplib_conn.status(mbox, "(MESSAGES)"))[0]


def test_uid_commands(imaplib_conn: imaplib.IMAP4, mbox: str) -> None:
    fill(imaplib_conn, mbox, 3)
    ok(imaplib_conn.select(mbox))
    uids = ok(imaplib_conn.uid("SEARCH", "ALL"))[0].split()
    assert len(uids) == 3 and uids == sorted(uids, key=int)
    data = ok(imaplib_conn.uid("FETCH", uids[1].decode(), "(FLAGS)"))
    assert b"UID " + uids[1] in data[0], data
    ok(imaplib_conn.uid("STORE", uids[2].decode(), "+FLAGS", r"(\Flagged)"))
    assert ok(imaplib_conn.uid("SEARCH", "FLAGGED")) == [uids[2]]
    dest = mbox + "-uidcopy"
    ok(imaplib_conn.create(dest))
    ok(imaplib_conn.uid("COPY", b",".join(uids[:2]).decode(), dest))
    assert b"MESSAGES 2" in ok(imaplib_conn.status(dest, "(MESSAGES)"))[0]


def test_idle_sees_new_message(
    module_server: ServerHandle, imaplib_conn: imaplib.IMAP4, mbox: str
) -> None:
    ok(imaplib_conn.select(mbox))
    tag = imaplib_conn._new_tag()  # imaplib has no IDLE before Python 3.14
    imaplib_conn.send(tag + b" IDLE\r\n")
    assert imaplib_conn.readline().startswith(b"+")
    other = connect(module_server)
    try:
        ok(other.append(mbox, None, None, make_message("wake up")))
    finally:
        other.logout()
    line = imaplib_conn.readline()
    while b"RECENT" in line:
        line = imaplib_conn.readline()
    assert line.strip() == b"* 1 EXISTS", line
    imaplib_conn.send(b"DONE\r\n")
    while not (line := imaplib_conn.readline()).startswith(tag):
        assert line.startswith(b"* "), line
    assert line.split()[1] == b"OK", line
    ok(imaplib_conn.noop())


def test_bad_command_keeps_connection(imaplib_conn: imaplib.IMAP4) -> None:
    with pytest.raises(imaplib.IMAP4.error):
        imaplib_conn.xatom("FROBNICATE")
    with pytest.raises(imaplib.IMAP4.error):
        imaplib_conn._simple_command("FETCH", "1", "FLAGS")  # no mailbox selected
    ok(imaplib_conn.noop())
