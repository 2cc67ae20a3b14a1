"""IMAPClient (which uses UID commands throughout) against a real pyimapd.

One server per module (user demo); each test works in mailboxes named after itself.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from integration.clienthelp import make_message
from serverutil import ServerHandle

pytestmark = pytest.mark.timeout(60)


def client_for(server: ServerHandle, user: str = "demo", password: str = "demo") -> IMAPClient:
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    client.login(user, password)
    return client


@pytest.fixture
def client(imap_client: IMAPClient) -> IMAPClient:
    return imap_client


@pytest.fixture
def folder(request: pytest.FixtureRequest, client: IMAPClient) -> Iterator[str]:
    name = "c-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
    client.create_folder(name)
    yield name


def test_capabilities_and_noop(client: IMAPClient) -> None:
    caps = client.capabilities()
    assert b"IMAP4REV1" in caps and b"IDLE" in caps, caps
    assert client.has_capability("IDLE")
    text, untagged = client.noop()  # raises unless the server answers OK
    assert untagged == [], untagged


def test_bad_login_and_plain_login(module_server: ServerHandle) -> None:
    c = IMAPClient(module_server.host, port=module_server.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        c.login("demo", "nope")
    c.plain_login("mrc", "secret")
    assert c.select_folder("INBOX")[b"EXISTS"] >= 0
    c.logout()


def test_folders_create_rename_delete(client: IMAPClient) -> None:
    client.create_folder("cf-parent/child")
    names = {name for _flags, _delim, name in client.list_folders("", "cf-*")}
    assert {"cf-parent", "cf-parent/child"} <= names, names
    assert client.folder_exists("cf-parent/child")
    with pytest.raises(IMAPClientError):
        client.create_folder("cf-parent")
    client.rename_folder("cf-parent", "cf-moved")
    assert client.folder_exists("cf-moved/child")
    assert not client.folder_exists("cf-parent")
    client.delete_folder("cf-moved/child")
    client.delete_folder("cf-moved")
    assert not client.folder_exists("cf-moved")
    delim = client.list_folders("", "")[0][1]
    assert delim == b"/"


def test_subscriptions(client: IMAPClient, folder: str) -> None:
    client.subscribe_folder(folder)
    assert folder in [name for _f, _d, name in client.list_sub_folders("", folder)]
    client.unsubscribe_folder(folder)
    assert client.list_sub_folders("", folder) == []


def test_status(client: IMAPClient, folder: str) -> None:
    client.append(folder, make_message("one"), flags=[b"\\Seen"])
    client.append(folder, make_message("two"))
    st = client.folder_status(
        folder, [b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"]
    )
    assert st[b"MESSAGES"] == 2 and st[b"UNSEEN"] == 1 and st[b"RECENT"] == 2, st
    assert st[b"UIDNEXT"] > 0 and st[b"UIDVALIDITY"] > 0


def test_append_fetch_round_trip(client: IMAPClient, folder: str) -> None:
    msg = make_message("round trip", body="first\r\nsecond\r\n")
    when = dt.datetime(2024, 3, 5, 10, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    client.append(folder, msg, flags=[b"\\Flagged", b"$Label"], msg_time=when)
    info = client.select_folder(folder)
    assert info[b"EXISTS"] == 1 and info[b"RECENT"] == 1
    assert info[b"UIDVALIDITY"] > 0 and info[b"UIDNEXT"] > 0
    assert b"\\Seen" in info[b"PERMANENTFLAGS"]
    (uid,) = client.search("ALL")
    got = client.fetch(
        [uid], ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[]"]
    )[uid]
    assert got[b"BODY[]"] == msg
    assert got[b"RFC822.SIZE"] == len(msg)
    assert set(got[b"FLAGS"]) >= {b"\\Flagged", b"$Label"}
    assert got[b"INTERNALDATE"].astimezone(dt.UTC) == when.astimezone(dt.UTC)
    env = got[b"ENVELOPE"]
    assert env.subject == b"round trip" and env.from_[0].mailbox == b"alice"
    assert got[b"BODYSTRUCTURE"][0].upper() == b"TEXT"


def test_examine_is_read_only(client: IMAPClient, folder: str) -> None:
    client.append(folder, make_message("ro"))
    info = client.select_folder(folder, readonly=True)
    assert info[b"READ-ONLY"] == [b""]
    (uid,) = client.search("ALL")
    client.fetch([uid], ["BODY[]"])
    assert b"\\Seen" not in client.get_flags([uid])[uid]


def test_flags(client: IMAPClient, folder: str) -> None:
    for i in range(3):
        client.append(folder, make_message(f"flag {i}"))
    client.select_folder(folder)
    uids = client.search("ALL")
    assert len(uids) == 3
    client.set_flags(uids[0], [b"\\Answered"])
    client.add_flags(uids[:2], [b"\\Flagged", b"custom"])
    client.remove_flags(uids[0], [b"\\Answered"])
    flags = client.get_flags(uids)
    assert set(flags[uids[0]]) - {b"\\Recent"} == {b"\\Flagged", b"custom"}
    assert set(flags[uids[1]]) - {b"\\Recent"} == {b"\\Flagged", b"custom"}
    assert set(flags[uids[2]]) - {b"\\Recent"} == set()
    client.add_flags(uids[2], [b"\\Seen"], silent=True)
    assert b"\\Seen" in client.get_flags(uids[2])[uids[2]]


def test_search_criteria(client: IMAPClient, folder: str) -> None:
    client.append(folder, make_message("banana split"), flags=[b"\\Seen"])
    client.append(folder, make_message("apple pie", body="crumble " * 400))
    client.append(folder, make_message("banana bread"), flags=[b"\\Flagged"])
    client.select_folder(folder)
    uids = client.search("ALL")
    assert client.search(["SUBJECT", "banana"]) == [uids[0], uids[2]]
    assert client.search(["UNSEEN", "SUBJECT", "banana"]) == [uids[2]]
    assert client.search(["LARGER", 2000]) == [uids[1]]
    assert client.search(["OR", "SEEN", "FLAGGED"]) == [uids[0], uids[2]]
    assert client.search(["NOT", "SEEN"]) == [uids[1], uids[2]]
    assert client.search(["BODY", "crumble"]) == [uids[1]]
    assert client.search(["SINCE", dt.date.today() - dt.timedelta(days=2)]) == uids
    assert client.search(["UID", f"{uids[1]}:*"]) == uids[1:]


def test_copy_and_missing_destination(client: IMAPClient, folder: str) -> None:
    dest = folder + "-dest"
    client.create_folder(dest)
    client.append(folder, make_message("copy me"), flags=[b"\\Flagged"])
    client.select_folder(folder)
    uids = client.search("ALL")
    client.copy(uids, dest)
    with pytest.raises(IMAPClientError, match="TRYCREATE"):
        client.copy(uids, folder + "-missing")
    assert client.folder_status(dest, [b"MESSAGES"])[b"MESSAGES"] == 1
    client.select_folder(dest)
    (copied,) = client.search("ALL")
    assert b"\\Flagged" in client.get_flags([copied])[copied]


def test_delete_expunge_close(client: IMAPClient, folder: str) -> None:
    for i in range(3):
        client.append(folder, make_message(f"gone {i}"))
    client.select_folder(folder)
    uids = client.search("ALL")
    client.delete_messages(uids[0])
    client.expunge()
    assert client.search("ALL") == uids[1:]
    client.delete_messages(uids[1])
    client.close_folder()
    assert client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"] == 1


def test_fetch_sections_and_peek(client: IMAPClient, folder: str) -> None:
    msg = make_message("sections", body="The body.\r\n")
    client.append(folder, msg)
    client.select_folder(folder)
    (uid,) = client.search("ALL")
    got = client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[TEXT]"])[uid]
    assert got[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: sections\r\n\r\n"
    assert got[b"BODY[TEXT]"] == b"The body.\r\n"
    assert b"\\Seen" not in client.get_flags([uid])[uid]
    got = client.fetch([uid], ["RFC822.HEADER", "RFC822.TEXT"])[uid]
    assert msg == got[b"RFC822.HEADER"] + got[b"RFC822.TEXT"]
    assert b"\\Seen" in client.get_flags([uid])[uid]


def test_idle(module_server: ServerHandle, client: IMAPClient, folder: str) -> None:
    client.select_folder(folder)
    client.idle()
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            other = client_for(module_server)
            other.append(folder, make_message("while idling"))
            other.logout()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=deliver)
    thread.start()
    responses = []
    for _ in range(10):
        responses += client.idle_check(timeout=5)
        if (1, b"EXISTS") in responses:
            break
    thread.join(10)
    client.idle_done()
    assert not failures, failures
    assert (1, b"EXISTS") in responses, responses
    assert len(client.search("ALL")) == 1
