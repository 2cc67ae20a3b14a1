"""Roundcube (Debian's package) in headless Chromium against pyimapd, reading mail as a
person does: log in, folder list with counts, open a message and download its
attachment, reply and save a draft, search by subject and by body, sort by date and by
sender, thread view.

Every step is checked twice: on the page, and in the store over a separate IMAP
connection (integration/rcstore.py).  Each test logs in as its own user.  The flag,
move, delete, folder and filter scenarios are in test_client_roundcube_manage.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.conftest import Webmail, message

pytestmark = pytest.mark.timeout(300)

ATTACHMENT = bytes(range(256)) * 40  # binary, so a broken transfer encoding shows


def test_login_and_folder_counts(webmail: Webmail, page: Any) -> None:
    store = webmail.store("login")
    store.create("Projects")
    for n in range(3):
        store.append("INBOX", message(f"Unread {n}", days=n))
    store.append("INBOX", message("Already read", days=4), flags=r"(\Seen)")
    store.append("Projects", message("Plan", days=5))
    with page.step("login"):
        page.login("login", "pw-login")
    with page.step("folder list"):
        assert {"INBOX", "Drafts", "Sent", "Junk", "Trash", "Projects"} <= set(page.folders())
        page.wait(lambda d: page.unread_count("INBOX") == 3, "INBOX unread count 3")
        assert page.unread_count("Projects") == 1
    with page.step("inbox list"):
        page.wait_subjects(["Already read", "Unread 2", "Unread 1", "Unread 0"], "INBOX")
    with page.step("store"):
        # Roundcube created and subscribed its special folders at the first login.
        assert {"Drafts", "Sent", "Junk", "Trash"} <= store.mailboxes()
        assert store.search("INBOX", "UNSEEN") == ["Unread 0", "Unread 1", "Unread 2"]
