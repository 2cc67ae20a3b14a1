"""Roundcube in headless Chromium against pyimapd, changing things as a person does:
flag a message, move it to a folder, delete it and empty the Trash, create and rename a
folder, write a filter with the managesieve plugin that the next LMTP delivery obeys, and
share a folder with the acl plugin so that another user reads it.

Each step is checked on the page and in the store (integration/rcstore.py); each test
logs in as its own user.  Reading, searching and sorting are in test_client_roundcube.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.conftest import RC_USERS, Webmail, begin, message
from integration.rcstore import sieve_scripts

pytestmark = pytest.mark.timeout(300)
ROUNDCUBE_PLUGINS = ("acl",)  # managesieve is on as well (the webmail fixture)


def test_flag(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "flagger", message("Important"), message("Routine", days=1))
    with page.step("flag"):
        page.select_message("Important")
        page.click("#markmessagemenulink")
        page.command("mark", "flagged")
        page.wait(lambda d: "flagged" in (page.row_of("Important").get_attribute("class")),
                  "the row to show the flag")
    with page.step("store"):
        flags = {m.subject: m.flags for m in store.messages("INBOX")}
        assert "\\Flagged" in flags["Important"]
        assert "\\Flagged" not in flags["Routine"]


def test_move_to_folder(webmail: Webmail, page: Any) -> None:
    webmail.store("mover").create("Projects")
    store = begin(webmail, page, "mover", message("Plan for May"), message("Stays", days=1))
    with page.step("move"):
        page.select_message("Plan for May")
        page.click("#messagemenulink")
        page.command("move")
        page.click_text("#folder-selector li a", "Projects")
        page.wait_subjects(["Stays"], "INBOX after the move")
    with page.step("store"):
        assert store.subjects("INBOX") == ["Stays"]
        assert store.subjects("Projects") == ["Plan for May"]
    with page.step("folder"):
        page.open_folder("Projects")
        page.wait_subjects(["Plan for May"], "Projects")


def test_delete_and_empty_trash(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "deleter", message("Spam offer"), message("Keep me", days=1))
    with page.step("delete"):
        page.select_message("Spam offer")
        page.command("delete")
        page.wait_subjects(["Keep me"], "INBOX after the delete")
    with page.step("store after delete"):
        assert store.subjects("INBOX") == ["Keep me"]  # moved, not just flagged \Deleted
        assert store.subjects("Trash") == ["Spam offer"]
    with page.step("trash"):
        page.open_folder("Trash")
        page.wait_subjects(["Spam offer"], "Trash")
    with page.step("empty trash"):
        page.click('a.sidebar-menu[data-popup="mailboxoptions-menu"]')
        page.command("purge")
        page.click(".ui-dialog .ui-dialog-buttonpane button.mainaction")
        page.wait_subjects([], "Trash after emptying")
    with page.step("store after empty"):
        assert store.messages("Trash") == []
        assert store.subjects("INBOX") == ["Keep me"]


def _save_folder(page: Any, name: str) -> None:
    """Type a folder name into the settings form and save it (the caller waits for the
    folder list to show it: the notice is gone too soon to wait for)."""
    with page.frame("preferences-frame"):
        page.type_into('input[name="_name"]', name)
        page.click(".formbuttons button.mainaction, .formbuttons button.submit")
    page.idle()


def test_create_and_rename_folder(webmail: Webmail, page: Any) -> None:
    store = begin(webmail, page, "folders")
    with page.step("folders page"):
        page.goto("_task=settings&_action=folders")
    with page.step("create"):
        page.command("create-folder")
        _save_folder(page, "Receipts")
        page.wait(lambda d: "Receipts" in page.settings_folders(), "Receipts in the list")
        assert "Receipts" in store.mailboxes()
    with page.step("rename"):
        page.settings_folder("Receipts").click()
        _save_folder(page, "Bills")
        page.wait(lambda d: "Bills" in page.settings_folders()
                  and "Receipts" not in page.settings_folders(), "Receipts renamed to Bills")
    with page.step("store after rename"):
        names = store.mailboxes()
        assert "Bills" in names and "Receipts" not in names


FILTERED = b"""From: Billing <billing@example.org>\r
To: filters@example.org\r
Subject: Your bills for March\r
Date: Fri, 01 Mar 2024 09:00:00 +0000\r
Message-ID: <bills-march@example.org>\r
\r
Please pay.\r
"""


def test_managesieve_filter_then_lmtp_delivery(webmail: Webmail, page: Any) -> None:
    webmail.store("filters").create("Bills")
    store = begin(webmail, page, "filters")
    with page.step("filters page"):
        page.goto("_task=settings&_action=plugin.managesieve")
    with page.step("new filter"):
        page.command("plugin.managesieve-add")
        with page.frame("filter-box"):
            page.type_into('input[name="_name"]', "Bills to their folder")
            page.select('select[name="_header[0]"]', "subject")
            page.select('select[name="_rule_op[0]"]', "contains")
            page.type_into("#rule_target0 ~ * input, .smart-field input", "bills")
            page.select('select[name="_action_type[0]"]', "fileinto")
            page.select('select[name="_action_mailbox[0]"]', "Bills")
            page.click(".formbuttons button.submit, .formbuttons button.mainaction")
        page.notice("saved")
        page.wait(lambda d: any("Bills to their folder" in el.text
                                for el in page.all("#filterslist tr")), "the filter listed")
    with page.step("script in the store"):
        scripts = sieve_scripts(webmail.server.host, webmail.sieve_port, "filters",
                                "pw-filters")
        active = scripts.get("*active*", "")
        assert "fileinto" in active and '"Bills"' in active and "bills" in active, scripts
    with page.step("delivery"):
        store.deliver(webmail.lmtp_port, FILTERED)
        store.deliver(webmail.lmtp_port, FILTERED.replace(b"bills for", b"letter for")
                      .replace(b"bills-march", b"letter-march"))
        assert store.subjects("Bills") == ["Your bills for March"]
        assert store.subjects("INBOX") == ["Your letter for March"]
    with page.step("seen in Roundcube"):
        page.goto("_task=mail&_mbox=Bills")
        page.wait_subjects(["Your bills for March"], "Bills")


SHARED = "Other Users/sharer/Bills"  # Bills as the sharee sees it (NAMESPACE)


def test_acl_plugin_share_folder(webmail: Webmail, page: Any) -> None:
    """The acl plugin's Sharing tab: the owner gives another user read rights on a
    folder, and that user finds it in the other users' namespace and reads it."""
    owner, sharee = webmail.store("sharer"), webmail.store("sharee")
    owner.create("Bills")
    owner.append("Bills", message("Electricity for March"))
    begin(webmail, page, "sharer")
    with page.step("folder form"):
        page.goto("_task=settings&_action=folders")
        page.settings_folder("Bills").click()
    with page.step("sharing tab"), page.frame("preferences-frame"):
        # Elastic shows the plugin's tab as the form's last fieldset, after "Access
        # Rights" (MYRIGHTS on the owner's folder: all of them).
        page.find_text("fieldset legend", "Sharing")
        assert "Full control" in page.find("form").text
        assert page.all("#acltable tbody tr") == []  # nobody else has rights yet
        page.command("acl-create")
    with page.step("add entry"):
        # The dialog opens in the top window (rcmail.show_popup_dialog of the frame's
        # parent); its rights start at "read" (l r s), which is what is meant here.
        page.type_into("#acluser", "sharee")
        assert page.all("#aclread")[0].is_selected()
        page.click(".ui-dialog .ui-dialog-buttonpane button.mainaction")
    with page.step("entry listed"), page.frame("preferences-frame"):
        page.wait(lambda d: [r.get_attribute("data-userid")
                             for r in page.all("#acltable tbody tr")] == ["sharee"],
                  "sharee listed in the Sharing tab")
        row = page.all("#acltable tbody tr")[0]
        assert "enabled" in row.find_element("css selector", "td.aclread")\
            .get_attribute("class")
    with page.step("GETACL"):
        assert owner.acl("Bills") == {"sharer": set("lrswipkxteacd"), "sharee": set("lrs")}
        assert sharee.myrights(SHARED) == "lrs"
    with page.step("sharee subscribes"):
        page.login("sharee", RC_USERS["sharee"])
        page.goto("_task=settings&_action=folders")
        page.wait(lambda d: "Bills" in page.settings_folders(), "the shared Bills listed")
        # A person flips the folder's subscription switch (the label: elastic hides the
        # check box): the folder list of the mail view shows subscribed folders only.
        (box,) = page.all(f'#subscription-table li.mailbox input[value="{SHARED}"]')
        page.click(f'#subscription-table label[for="{box.get_attribute("id")}"]')
        page.idle()
        page.wait(lambda d: SHARED in sharee.subscriptions(), "SUBSCRIBE in the store")
        assert SHARED not in owner.mailboxes()  # the owner's own names are unchanged
    with page.step("sharee's rights"):
        # The folder's form shows the sharee's MYRIGHTS, and no Sharing fieldset: that
        # needs the a right.
        page.settings_folder("Bills").click()
        with page.frame("preferences-frame"):
            page.find_text("fieldset legend", "Information")
            rights = page.find('ul[name="rcmyrights"]').text.splitlines()
            assert rights == ["Lookup", "Read messages", "Keep Seen state"], rights
            assert "Sharing" not in [el.text for el in page.all("fieldset legend")]
    with page.step("shared folder"):
        page.goto("_task=mail&_mbox=INBOX")
        page.wait(lambda d: SHARED in page.folders(), f"{SHARED} in the folder list")
        page.open_folder(SHARED)
        page.wait_subjects(["Electricity for March"], SHARED)
    with page.step("read it"):
        page.select_message("Electricity for March")
        with page.frame("messagecontframe"):
            assert "Hello." in page.find("#messagebody").text
        # Opening it set \Seen, which the s right allows.
        assert "\\Seen" in sharee.messages(SHARED)[0].flags

