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

from integration.conftest import Webmail, begin, message
from integration.rcstore import sort_subjects, threads

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


def test_open_message_and_download_attachment(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "reader",
                  message("Quarterly report", body="Figures attached.\n",
                          attachment=("report.bin", ATTACHMENT)))
    with page.step("inbox"):
        page.wait_subjects(["Quarterly report"], "INBOX")
    with page.step("open"):
        page.select_message("Quarterly report")
        with page.frame("messagecontframe"):
            assert "Figures attached." in page.find("#messagebody").text
            link = page.find("#attachment-list a.filename")
            assert "report.bin" in link.text
            href = link.get_attribute("href")
    with page.step("download"):
        page.clear_downloads()
        page.driver.get(href + "&_download=1")
        assert page.wait_download("report.bin").read_bytes() == ATTACHMENT
    with page.step("store"):
        (stored,) = store.messages("INBOX")
        assert "\\Seen" in stored.flags  # opening the preview marked it read


def test_reply_and_save_draft(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "drafter",
                  message("Question", body="Can you come?\n",
                          msgid="<question@example.org>"))
    with page.step("inbox"):
        page.wait_subjects(["Question"], "INBOX")
    with page.step("reply"):
        page.select_message("Question")
        page.command("reply")
        page.find("#composebody")
        page.idle()
        assert page.find("#compose-subject").get_attribute("value") == "Re: Question"
        body = page.find("#composebody")
        body.send_keys("Yes, I will come.\n")
    with page.step("save draft"):
        page.command("savedraft")
        page.notice("saved")
    with page.step("store"):
        (draft,) = store.messages("Drafts")
        assert draft.subject == "Re: Question"
        assert "\\Seen" in draft.flags  # Roundcube saves drafts \Seen, without \Draft
        assert "Yes, I will come." in draft.text
        assert b"In-Reply-To: <question@example.org>" in draft.raw
    with page.step("drafts folder"):
        page.goto("_task=mail&_mbox=Drafts")
        page.wait_subjects(["Re: Question"], "Drafts")


def test_search_by_subject_and_body(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "searcher",
                  message("Invoice March", body="Please pay soon.\n", days=1),
                  message("Lunch plans", body="Meet at the zebra crossing.\n", days=2),
                  message("Invoice April", body="Nothing to see.\n", days=3))
    with page.step("inbox"):
        page.wait_subjects(["Invoice April", "Lunch plans", "Invoice March"], "INBOX")
    with page.step("subject"):
        page.search("invoice", ("subject",))
        page.wait_subjects(["Invoice April", "Invoice March"], "subject search")
        assert set(store.search("INBOX", "SUBJECT", "invoice")) == set(page.subjects())
    with page.step("body"):
        page.search("zebra", ("body",))
        page.wait_subjects(["Lunch plans"], "body search")
        assert store.search("INBOX", "BODY", "zebra") == ["Lunch plans"]
        assert store.search("INBOX", "SUBJECT", "zebra") == []  # found by the body only


def test_sort_by_date_and_sender(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "sorter",
                  message("Second by date", sender="Zed <zed@example.org>", days=2),
                  message("First by date", sender="Mia <mia@example.org>", days=1),
                  message("Third by date", sender="Abe <abe@example.org>", days=3))
    with page.step("date"):
        page.list_options("date", "ASC")
        expected = ["First by date", "Second by date", "Third by date"]
        page.wait_subjects(expected, "sorted by date")
        assert sort_subjects(store, "INBOX", "DATE") == expected
    with page.step("date descending"):
        page.list_options("date", "DESC")
        page.wait_subjects(expected[::-1], "sorted by date, descending")
    with page.step("sender"):
        page.list_options("from", "ASC")
        expected = ["Third by date", "First by date", "Second by date"]
        page.wait_subjects(expected, "sorted by sender")
        assert sort_subjects(store, "INBOX", "FROM") == expected


def test_thread_view(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "threader",
                  message("Trip", msgid="<trip1@example.org>", days=1),
                  message("Other", msgid="<other@example.org>", days=2),
                  message("Re: Trip", msgid="<trip2@example.org>", days=3,
                          reply_to="<trip1@example.org>"),
                  message("Re: Trip", msgid="<trip3@example.org>", days=4,
                          reply_to="<trip2@example.org>"))
    with page.step("threads"):
        page.list_options("date", "ASC", mode="threads")
        page.wait_subjects(["Trip", "Other"], "threads, collapsed")
        assert page.row_of("Trip").find_elements("css selector", "td.threads div.collapsed")
    with page.step("expand"):
        page.click("#layout-list .toolbar a.threads")
        page.command("expand-all")
        page.wait_subjects(["Trip", "Re: Trip", "Re: Trip", "Other"], "threads, expanded")
    with page.step("store"):
        assert threads(store, "INBOX") == [["Trip", "Re: Trip", "Re: Trip"], ["Other"]]
