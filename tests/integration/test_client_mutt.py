"""mutt under tmux against pyimapd, driven like a person at a terminal: keys in with
``tmux send-keys``, the screen read back with ``tmux capture-pane``.  Header cache and
body cache (message_cachedir) are on, as most people run mutt.

Scenario: read a message in the pager, flag it, save it to another folder (mutt's COPY
then \\Deleted and EXPUNGE on sync), quit, and start again on the warm caches (with
imap_qresync: mutt asks for changes since the cached MODSEQ).  ``-d 2`` keeps mutt's
protocol log in the test's tmp dir (.muttdebug0).  Each step is checked on the screen
and in the store over a separate IMAP connection; a wait that times out shows the
screen.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.conftest import message
from integration.rcstore import Store
from serverutil import ServerHandle, register_server, require_client, start_server

pytestmark = pytest.mark.timeout(180)
USERS = {"mutt": "pw-mutt"}
WAIT = 20.0

MUTTRC = """\
set folder = "imap://mutt@{host}:{port}/"
set imap_user = "mutt"
set imap_pass = "pw-mutt"
set spoolfile = "+INBOX"
set record = ""
set postponed = "+Drafts"
set header_cache = "{cache}/headers"
set imap_qresync = yes
set message_cachedir = "{cache}/bodies"
set ssl_starttls = no
set ssl_force_tls = no
set imap_passive = yes
set mail_check = 60
set timeout = 60
set sort = date
set index_format = "%4C %Z %s"
set confirmappend = no
set confirmcreate = no
set delete = yes
set move = no
set mark_old = no
set wait_key = no
set sleep_time = 0
set beep = no
set pager_stop = yes
set pager_index_lines = 0
"""


class Terminal:
    """One mutt in a private tmux server (its own socket), 160x45."""

    def __init__(self, base: Path, muttrc: Path, mutt: str) -> None:
        self.socket = base / "tmux.sock"
        self.base = base
        env = {"HOME": str(base), "TERM": "xterm-256color", "PATH": os.environ["PATH"],
               "LANG": "C.UTF-8"}
        self._env = env
        self._cmd = f"{mutt} -d 2 -n -F {muttrc}"
        self.start()

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True,
                              text=True, env=self._env, timeout=10, check=True)
        return done.stdout

    def start(self) -> None:
        self.tmux("new-session", "-d", "-x", "160", "-y", "45", self._cmd)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def wait(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)  # polling a terminal for what a person waits to see
        raise AssertionError(f"waited {WAIT}s for {what}; the screen:\n{self.screen()}")

    def wait_text(self, text: str) -> str:
        return self.wait(lambda s: text in s, repr(text))

    def running(self) -> bool:
        done = subprocess.run(["tmux", "-S", str(self.socket), "has-session"],
                              capture_output=True, env=self._env, check=False)
        return done.returncode == 0

    def close(self) -> None:
        if self.running():
            self.tmux("kill-server")
        self.socket.unlink(missing_ok=True)


@pytest.fixture(params=["sqlite", "postgres"])
def mutt_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerHandle]:
    handle = start_server(tmp_path / "server", USERS, store=request.param)
    register_server(request.node, handle)
    yield handle
    handle.stop()


@pytest.fixture
def terminal(mutt_server: ServerHandle, tmp_path: Path) -> Iterator[Terminal]:
    mutt = require_client("mutt")
    require_client("tmux")
    cache = tmp_path / "cache"
    cache.mkdir()
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(MUTTRC.format(host=mutt_server.host, port=mutt_server.port,
                                    cache=cache))
    store = Store(mutt_server.host, mutt_server.port, "mutt", USERS["mutt"])
    store.create("Archive2")
    store.append("INBOX", message("Mutt one", body="The first body text.\n", days=1))
    store.append("INBOX", message("Mutt two", body="The second body.\n", days=2))
    term = Terminal(tmp_path, muttrc, mutt)
    yield term
    term.close()


def test_read_flag_and_move(terminal: Terminal, mutt_server: ServerHandle,
                            tmp_path: Path) -> None:
    store = Store(mutt_server.host, mutt_server.port, "mutt", USERS["mutt"])
    screen = terminal.wait_text("Mutt two")
    assert "Mutt one" in screen
    # Read: the first message in the pager, its body on the screen.
    terminal.keys("1", "Enter")
    terminal.keys("Enter")
    terminal.wait_text("The first body text.")
    terminal.keys("i")  # back to the index
    terminal.wait(lambda s: "Mutt two" in s and "first body" not in s, "the index again")
    # mutt fetches with BODY.PEEK (imap_peek) and writes \Seen itself at the sync ($).
    terminal.keys("$")
    _wait_store(lambda: "\\Seen" in store.messages("INBOX")[0].flags, "\\Seen stored")
    assert "\\Seen" not in store.messages("INBOX")[1].flags
    assert any((tmp_path / "cache" / "bodies").rglob("*")), "the body cache stays empty"
    # Flag it, and sync ($): mutt writes the flag with UID STORE.
    terminal.keys("1", "Enter", "F", "$")
    terminal.wait(lambda s: any("!" in line and "Mutt one" in line for line in s.splitlines()),
                  "the flag mark on Mutt one")
    _wait_store(lambda: "\\Flagged" in store.messages("INBOX")[0].flags, "\\Flagged stored")
    # Move: save to =Archive2 (COPY, then \Deleted), and sync to expunge it from INBOX.
    terminal.keys("1", "Enter", "s")
    terminal.wait_text("Save to mailbox")
    terminal.keys("C-u", "=Archive2", "Enter")
    terminal.keys("$")
    terminal.wait(lambda s: "Mutt one" not in s and "Mutt two" in s, "Mutt one gone from INBOX")
    _wait_store(lambda: store.subjects("INBOX") == ["Mutt two"], "INBOX without Mutt one")
    (moved,) = store.messages("Archive2")
    assert moved.subject == "Mutt one" and {"\\Seen", "\\Flagged"} <= moved.flags
    # Quit and start again: the warm header cache must still show what the store holds.
    terminal.keys("q")
    _wait_store(lambda: not terminal.running(), "mutt to quit")
    assert (tmp_path / "cache" / "headers").stat().st_size > 0, "no header cache written"
    terminal.close()
    terminal.start()
    screen = terminal.wait_text("Mutt two")
    assert "Mutt one" not in screen
    # Warm start: INBOX's headers come from the cache; the server is asked only for what
    # changed since the cached MODSEQ, and what vanished (RFC 7162 section 3.2.6).
    log = (tmp_path / ".muttdebug0").read_text(errors="replace")
    inbox = log.split('SELECT "INBOX"', 1)[1].split("Archive2", 1)[0]
    assert "(CHANGEDSINCE" in inbox and "VANISHED (EARLIER) 1" in inbox, inbox
    assert "HEADER.FIELDS" not in inbox, inbox
    terminal.keys("c", "C-u", "=Archive2", "Enter")
    screen = terminal.wait_text("Mutt one")
    line = next(ln for ln in screen.splitlines() if "Mutt one" in ln)
    assert "!" in line, line  # the flag came back from the store (or the cache, which agrees)


def _wait_store(check: Callable[[], bool], what: str) -> None:
    """The store (or mutt) catches up within moments; poll, bounded."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT}s for {what}")
        time.sleep(0.1)  # polling for a client's asynchronous sync or exit
