"""ACL (RFC 4314) driven by real clients against a real pyimapd: IMAPClient's getacl,
setacl and namespace, and imaplib's myrights and deleteacl (IMAPClient has neither);
mrc works in demo's shared folder through ``Other Users/demo/``."""

from __future__ import annotations

import imaplib

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from integration.clienthelp import make_message
from integration.test_client_imapclient import client_for
from serverutil import ServerHandle

pytestmark = pytest.mark.timeout(60)


def test_imapclient_shares_a_folder(module_server: ServerHandle) -> None:
    demo = client_for(module_server)
    assert demo.has_capability("ACL") and demo.has_capability("RIGHTS=texk")
    demo.create_folder("acl-bills")
    demo.append("acl-bills", make_message("electricity"))
    demo.setacl("acl-bills", "mrc", "lrsi")
    assert dict(demo.getacl("acl-bills")) == {b"demo": b"lrswipkxteacd", b"mrc": b"lrsi"}

    mrc = client_for(module_server, "mrc", "secret")
    ns = mrc.namespace()
    assert ns.other == (("Other Users/", "/"),), ns
    shared = "Other Users/demo/acl-bills"
    names = {name for _f, _d, name in mrc.list_folders("Other Users/demo/", "*")}
    assert shared in names and "Other Users/demo/INBOX" not in names, names
    info = mrc.select_folder(shared)
    assert info[b"EXISTS"] == 1 and info[b"READ-WRITE"], info
    mrc.add_flags([1], [b"\\Seen", b"\\Flagged"])  # \Flagged needs w: dropped
    flags = mrc.get_flags([1])
    assert set(next(iter(flags.values()))) - {b"\\Recent"} == {b"\\Seen"}, flags
    mrc.append(shared, make_message("gas"))
    with pytest.raises(IMAPClientError):
        mrc.getacl(shared)  # NOPERM: mrc has no a right
    with pytest.raises(IMAPClientError):
        mrc.select_folder("Other Users/demo/INBOX")  # NONEXISTENT
    mrc.logout()

    assert demo.folder_status("acl-bills", [b"MESSAGES"])[b"MESSAGES"] == 2
    demo.setacl("acl-bills", "mrc", "-si")  # section 3.1's modifiers
    assert dict(demo.getacl("acl-bills")) == {b"demo": b"lrswipkxteacd", b"mrc": b"lr"}
    demo.logout()


def test_imaplib_myrights_and_deleteacl(module_server: ServerHandle) -> None:
    demo = IMAPClient(module_server.host, port=module_server.port, ssl=False, timeout=10)
    demo.login("demo", "demo")
    demo.create_folder("acl-family")
    demo.setacl("acl-family", "mrc", "lr")
    demo.logout()

    mrc = imaplib.IMAP4(module_server.host, module_server.port)
    mrc.login("mrc", "secret")
    typ, data = mrc.myrights('"Other Users/demo/acl-family"')
    assert typ == "OK" and data == [b'"Other Users/demo/acl-family" lr'], data
    typ, data = mrc.myrights('"Other Users/demo/Sent"')
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    mrc.logout()

    owner = imaplib.IMAP4(module_server.host, module_server.port)
    owner.login("demo", "demo")
    typ, _ = owner.deleteacl("acl-family", "mrc")
    assert typ == "OK"
    typ, data = owner.getacl("acl-family")
    assert typ == "OK" and data == [b"acl-family demo lrswipkxteacd"], data
    typ, data = owner.myrights("INBOX")
    assert typ == "OK" and data == [b"INBOX lrswipkxteacd"], data
    owner.logout()
