"""Headless Chromium driving Roundcube's elastic skin the way a person would: clicks on
the toolbar, menus and dialogs, typing into its forms.

How this works: one Chrome session (Debian's /usr/bin/chromium through
/usr/bin/chromedriver) per test module; each test starts from a fresh login (cookies
cleared).  Every user-visible step runs inside ``step(name)``: when it fails, a
screenshot and the page's HTML are saved to the artefact dir before the error goes up,
so a failed CI run shows what the page looked like.  Waits are explicit (WebDriverWait
on a condition), never sleeps; Roundcube's own ``rcmail.busy`` flag says when its AJAX
requests are done.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 30.0
T = TypeVar("T")
# The preview frame shows the selected message and its rcmail is ready: toolbar buttons
# marked data-content-button act through it, so a click before then is lost.
PREVIEW_LOADED = """
var f = document.getElementById('messagecontframe'), w = f && f.contentWindow;
return rcmail.message_list.get_selection().length == 1 && !rcmail.busy && !!w && !!w.rcmail
    && w.document.readyState == 'complete' && w.rcmail.env.action == 'preview'
    && String(w.rcmail.env.uid) == String(rcmail.get_single_uid()) && !w.rcmail.busy;
"""


def require_chromium() -> None:
    """Skip (with the reason) when Chromium, its driver or Selenium is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"chromium is not installed (apt-get install chromium chromium-driver): "
                    f"{missing}")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install '.[test]')")


class Browser:
    """A Chrome session on one Roundcube, with the few gestures the scenarios need."""

    def __init__(self, url: str, artefacts: Path, downloads: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1400,1000", "--lang=en-US"):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        })
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(str(CHROMEDRIVER)))
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {
            "behavior": "allow", "downloadPath": str(downloads)})
        self.url = url
        self.artefacts = artefacts
        self.downloads = downloads
        self.test_name = "test"
        self._steps = 0

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()

    # --- failure artefacts --------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """One user-visible step; on failure its screenshot and HTML are kept."""
        self._steps += 1
        try:
            yield
        except BaseException as exc:
            stem = self.save_artefacts(f"{self._steps:02d}-{name}")
            exc.add_note(f"step {name!r}: screenshot {stem}.png, page {stem}.html")
            raise

    def save_artefacts(self, label: str) -> Path:
        self.artefacts.mkdir(parents=True, exist_ok=True)
        stem = self.artefacts / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.test_name}-{label}")
        with contextlib.suppress(Exception):
            self.driver.switch_to.default_content()
            self.driver.save_screenshot(f"{stem}.png")
            Path(f"{stem}.html").write_text(self.driver.page_source)
        return stem

    # --- waiting and finding ------------------------------------------------------------

    def wait(self, condition: Callable[[Any], T], what: str, timeout: float = WAIT) -> T:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            condition, message=f"waited {timeout}s for {what}")

    def idle(self) -> None:
        """Until Roundcube has no request in flight (its ``rcmail.busy`` flag)."""
        self.wait(lambda d: d.execute_script(
            "return window.rcmail !== undefined && !rcmail.busy"
            " && document.readyState == 'complete'"), "Roundcube to be idle")

    def find(self, css: str, timeout: float = WAIT) -> Any:
        """The first displayed element matching ``css``."""
        from selenium.webdriver.common.by import By

        def shown(d: Any) -> Any:
            for el in d.find_elements(By.CSS_SELECTOR, css):
                with contextlib.suppress(Exception):
                    if el.is_displayed():
                        return el
            return False

        return self.wait(shown, f"{css!r} to be shown", timeout)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def click(self, css: str) -> None:
        self.find(css).click()

    def find_text(self, css: str, text: str) -> Any:
        """The shown element matching ``css`` whose text is ``text``."""
        def shown(d: Any) -> Any:
            for el in self.all(css):
                with contextlib.suppress(Exception):
                    if el.is_displayed() and el.text.strip() == text:
                        return el
            return False

        return self.wait(shown, f"{css!r} with text {text!r}")

    def click_text(self, css: str, text: str) -> None:
        self.find_text(css, text).click()

    def command(self, name: str, prop: str = "") -> None:
        """Click the shown, enabled button or menu item bound to rcmail.command(name)."""
        start = f"return rcmail.command('{name}','{prop}'"
        self.click(f'a[onclick^="{start}"]:not(.disabled)')

    def type_into(self, css: str, text: str, clear: bool = True) -> None:
        el = self.find(css)
        if clear:
            el.clear()
        el.send_keys(text)

    def select(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(css)).select_by_value(value)

    def notice(self, text: str) -> None:
        """Until Roundcube's message bar shows ``text``."""
        self.wait(lambda d: any(text in el.text for el in self.all("#messagestack div")),
                  f"the notice {text!r}")

    @contextlib.contextmanager
    def frame(self, frame_id: str) -> Iterator[None]:
        """Inside the iframe ``frame_id`` once it has loaded a Roundcube page."""
        from selenium.webdriver.support import expected_conditions as ec

        self.wait(ec.frame_to_be_available_and_switch_to_it(frame_id), f"frame {frame_id}")
        try:
            self.idle()
            yield
        finally:
            self.driver.switch_to.default_content()

    # --- Roundcube gestures -------------------------------------------------------------

    def login(self, user: str, password: str) -> None:
        self.driver.delete_all_cookies()
        self.driver.get(self.url + "?_task=logout")
        self.driver.delete_all_cookies()
        self.driver.get(self.url)
        self.type_into("#rcmloginuser", user)
        self.type_into("#rcmloginpwd", password)
        self.click("#rcmloginsubmit")
        self.find("#mailboxlist")
        self.idle()

    def goto(self, query: str) -> None:
        """Open a Roundcube page by its URL query (``_task=settings&_action=folders``)."""
        self.driver.get(f"{self.url}?{query}")
        self.idle()

    def open_folder(self, name: str) -> None:
        self.click(f'#mailboxlist a[rel="{name}"]')
        self.wait(lambda d: d.execute_script("return rcmail.env.mailbox") == name,
                  f"folder {name} to open")
        self.idle()

    def unread_count(self, name: str) -> int:
        """The count Roundcube shows next to a folder (0 when it shows none)."""
        spans = self.all(f'#mailboxlist a[rel="{name}"] span.unreadcount')
        text = spans[0].text.strip() if spans else ""
        return int(text) if text else 0

    def folders(self) -> list[str]:
        return [el.get_attribute("rel") for el in self.all("#mailboxlist a[rel]")]

    def settings_folders(self) -> list[str]:
        """Folder names on Settings > Folders."""
        return [el.text.strip() for el in self.all("#subscription-table li.mailbox > a")]

    def settings_folder(self, name: str) -> Any:
        for el in self.all("#subscription-table li.mailbox > a"):
            if el.text.strip() == name:
                return el
        raise AssertionError(f"no folder {name!r} in {self.settings_folders()}")

    def rows(self) -> list[Any]:
        """The rows shown (a collapsed thread's replies are in the table, hidden)."""
        return [row for row in self.all("#messagelist tbody tr.message") if row.is_displayed()]

    def subjects(self) -> list[str]:
        """Subjects of the message list, top to bottom."""
        return [row.find_element("css selector", "span.subject").text.strip()
                if row.find_elements("css selector", "span.subject")
                else row.find_element("css selector", "td.subject").text.strip()
                for row in self.rows()]

    def wait_subjects(self, expected: list[str], what: str) -> None:
        self.idle()
        self.wait(lambda d: self.subjects() == expected,
                  f"{what}: list {expected} (shown: {self.subjects()})")

    def row_of(self, subject: str) -> Any:
        for row in self.rows():
            if subject in row.text:
                return row
        raise AssertionError(f"no row with {subject!r} in {self.subjects()}")

    def select_message(self, subject: str) -> None:
        """Click a row: the message opens in the preview frame."""
        self.row_of(subject).find_element("css selector", "td.subject").click()
        self.wait(lambda d: d.execute_script(PREVIEW_LOADED), f"{subject} in the preview")
        self.idle()

    def list_options(self, sort_col: str, sort_ord: str, mode: str = "list") -> None:
        """Sort and list mode through the list options dialog (Options button)."""
        self.click("#layout-list .toolbar a.options")
        # The dialog shows clones of the menu's selects (elastic's UI.listoptions).
        self.select("#listoptions-sortcol-clone", sort_col)
        self.select("#listoptions-sortord-clone", sort_ord)
        self.select("#listoptions-threads-clone", mode)
        self.click(".ui-dialog .ui-dialog-buttonpane button.mainaction")
        self.idle()

    def search(self, text: str, mods: tuple[str, ...]) -> None:
        """A quick search over the checked fields (``subject``, ``body``, ...)."""
        self.click(".searchbar a.button.options")
        # The check boxes are elastic's switches: the input is hidden, its label is what
        # a person clicks.  "sender" and "recipient" switch their hidden sub-lists too.
        for box in self.all('#searchmenu input[name="s_mods[]"]'):
            label = self.all(f'#searchmenu label[for="{box.get_attribute("id")}"]')
            if (label and label[0].is_displayed()
                    and box.is_selected() != (box.get_attribute("value") in mods)):
                label[0].click()
        self.type_into("#mailsearchform", text)
        self.click('#searchmenu button.search')
        self.idle()

    def wait_download(self, name: str) -> Path:
        target = self.downloads / name
        self.wait(lambda d: target.exists() and not list(self.downloads.glob("*.crdownload")),
                  f"download {name}")
        return target

    def clear_downloads(self) -> None:
        shutil.rmtree(self.downloads, ignore_errors=True)
        self.downloads.mkdir(parents=True)
