"""Issue 19, acceptance 2: Postfix delivers over LMTP to a user whose Sieve script files
list mail by List-Id, flags mail from one sender and answers with vacation through a
local SMTP sink; an IMAP client sees the results, and the vacation reply goes out once
per sender per period. Needs root and Debian's postfix (see test_postfix.py)."""

from __future__ import annotations

import email
import imaplib
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from lmtp.test_postfix import DOMAIN, USERS, running_mta, wait_for
from lmtp.test_sieve_delivery import Sink
from serverutil import ServerHandle, free_port

pytestmark = pytest.mark.timeout(180)

SCRIPT = f"""require ["fileinto", "imap4flags", "vacation", "mailbox"];
if exists "list-id" {{
  fileinto :create "Lists";
  stop;
}}
if address :is "from" "boss@{DOMAIN}" {{
  addflag "\\\\Flagged";
}}
vacation :days 1 :addresses ["bob@{DOMAIN}"] :subject "Away" "I am away this week.";
"""


@pytest.fixture
def setup(request: pytest.FixtureRequest,
          tmp_path: Path) -> Iterator[tuple[ServerHandle, int, Path, Sink]]:
    sink, sink_port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    controller.start()
    config = tmp_path / "pyimapd.toml"
    config.write_text(f'[sieve]\nrelay = "127.0.0.1:{sink_port}"\n')
    try:
        with running_mta(request, tmp_path, ("--config", str(config))) as (handle, port, base):
            script = tmp_path / "bob.sieve"
            script.write_text(SCRIPT)
            for argv in (["put", "bob", "main", str(script)], ["activate", "bob", "main"]):
                subprocess.run([sys.executable, "-m", "pyimapd", "sieve", *argv, "--data-dir",
                                str(handle.data_dir), "--config", str(config)], check=True)
            yield handle, port, base, sink
    finally:
        controller.stop()


def send(port: int, sender: str, subject: str, extra: str = "") -> None:
    message = (f"From: {sender}\r\nTo: bob@{DOMAIN}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject.replace(' ', '-')}@{DOMAIN}>\r\n{extra}\r\nHi Bob\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        assert smtp.sendmail(sender, [f"bob@{DOMAIN}"], message) == {}


def test_postfix_delivers_through_the_script(
        setup: tuple[ServerHandle, int, Path, Sink]) -> None:
    handle, port, base, sink = setup
    send(port, f"news@{DOMAIN}", "weekly news", f"List-Id: <news.{DOMAIN}>\r\n")
    send(port, f"boss@{DOMAIN}", "quarterly numbers")
    send(port, f"boss@{DOMAIN}", "more numbers")
    send(port, f"sender@{DOMAIN}", "lunch")
    try:
        wait_for("bob", handle, 'SUBJECT "weekly news"', mailbox="Lists")
        for subject in ("quarterly numbers", "more numbers", "lunch"):
            wait_for("bob", handle, f'SUBJECT "{subject}"')
    except AssertionError:
        log = base / "maillog"
        raise AssertionError(log.read_text() if log.exists() else "no maillog") from None
    conn = imaplib.IMAP4(handle.host, handle.port, timeout=10)
    conn.login("bob", USERS["bob"])
    conn.select("INBOX", readonly=True)
    _, flagged = conn.search(None, "FLAGGED")
    _, unflagged = conn.search(None, "UNFLAGGED")
    _, inbox_news = conn.search(None, 'SUBJECT "weekly news"')
    conn.logout()
    assert len(flagged[0].split()) == 2 and len(unflagged[0].split()) == 1
    assert inbox_news[0] == b""
    deadline = time.monotonic() + 10
    while len(sink.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    replies = sorted(((rcpts[0], email.message_from_bytes(data))
                      for _, rcpts, data in sink.received), key=lambda pair: pair[0])
    assert [to for to, _ in replies] == [f"boss@{DOMAIN}", f"sender@{DOMAIN}"], sink.received
    for _, reply in replies:
        assert reply["Auto-Submitted"] == "auto-replied" and reply["Subject"] == "Away"
        assert "I am away this week." in reply.get_payload()
    assert all(mail_from == "<>" for mail_from, _, _ in sink.received)
