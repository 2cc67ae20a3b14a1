"""Issue 19, acceptance 4: the relay is down and the script's target mailbox is missing;
every message is delivered somewhere over LMTP (250), nothing is lost, and the server's
log says why."""

from __future__ import annotations

import imaplib
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from serverutil import free_port, register_server, start_server

SCRIPT = """require ["fileinto", "copy", "vacation"];
if header :contains "subject" "report" {
  fileinto "Reports/2026";
} elsif header :contains "subject" "forward" {
  redirect "elsewhere@example.net";
} else {
  redirect :copy "archive@example.net";
  vacation :addresses ["demo@example.org"] "Away.";
}
"""


def test_relay_down_and_missing_mailbox(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    lmtp_port = free_port()
    config = tmp_path / "pyimapd.toml"
    config.write_text(f'[sieve]\nrelay = "127.0.0.1:{free_port()}"\n')  # nothing listens
    handle = start_server(tmp_path, extra_args=("--listen-lmtp", f"127.0.0.1:{lmtp_port}",
                                                "--config", str(config)))
    register_server(request.node, handle)
    try:
        script = tmp_path / "demo.sieve"
        script.write_text(SCRIPT)
        for argv in (["put", "demo", "main", str(script)], ["activate", "demo", "main"]):
            subprocess.run([sys.executable, "-m", "pyimapd", "sieve", *argv, "--data-dir",
                            str(handle.data_dir), "--config", str(config)], check=True)
        subjects = ["monthly report", "please forward", "hello"]
        with smtplib.LMTP("127.0.0.1", lmtp_port) as lmtp:
            for subject in subjects:
                message = (f"From: a@example.org\r\nTo: demo@example.org\r\nSubject: {subject}"
                           "\r\n\r\nbody\r\n")
                assert lmtp.sendmail("a@example.org", ["demo@example.org"], message) == {}
        conn = imaplib.IMAP4(handle.host, handle.port)
        conn.login("demo", "demo")
        conn.select("INBOX", readonly=True)
        for subject in subjects:
            _, found = conn.search(None, "SUBJECT", f'"{subject}"')
            assert len(found[0].split()) == 1, (subject, found)
        conn.logout()
        log = handle.log_path.read_text()
        assert "files into 'Reports/2026', which does not exist" in log, log[-3000:]
        assert "redirect to <elsewhere@example.net> failed" in log
        assert "vacation reply of demo to <a@example.org> failed" in log
    finally:
        handle.stop()
