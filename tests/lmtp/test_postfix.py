"""A real Postfix in front of pyimapd: mail to three recipients through Postfix's SMTP
port, delivered over LMTP; the two known users get it and the unknown one bounces back
to the sender (also a pyimapd user, so the bounce itself arrives over LMTP).

Postfix runs from a throwaway configuration under the test's temp dir (loopback only,
its own queue, no chroot, under /tmp/pyimapd-postfix-*), so it needs root and Debian's
``postfix`` package (CI installs it); without them it is skipped, and
``PYIMAPD_TEST_POSTFIX=0`` skips it too. docs/lmtp.md says how to run it by hand. swaks
covers the LMTP side everywhere (test_lmtp_server.py).
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverutil import ServerHandle, free_port, register_server, start_server

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(os.environ.get("PYIMAPD_TEST_POSTFIX") == "0",
                       reason="PYIMAPD_TEST_POSTFIX=0"),
]

USERS = {"alice": "a-pass", "bob": "b-pass", "sender": "s-pass"}
DOMAIN = "example.test"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
smtpd_banner = $myhostname ESMTP
virtual_mailbox_domains = {domain}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
smtputf8_enable = no
"""

MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["postfix", "-c", str(base / "etc"), *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def mta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerHandle, int, Path]]:
    with running_mta(request, tmp_path) as found:
        yield found


@contextlib.contextmanager
def running_mta(request: pytest.FixtureRequest, tmp_path: Path,
                server_args: tuple[str, ...] = ()) -> Iterator[tuple[ServerHandle, int, Path]]:
    """pyimapd with an LMTP listener (and ``server_args``) behind a throwaway Postfix."""
    if shutil.which("postfix") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's postfix package")
    lmtp_port, smtp_port = free_port(), free_port()
    handle = start_server(tmp_path, USERS, extra_args=(
        "--listen-lmtp", f"127.0.0.1:{lmtp_port}", *server_args))
    register_server(request.node, handle)
    base = Path(f"/tmp/pyimapd-postfix-{os.getpid()}-{smtp_port}")  # short: socket paths
    for sub in ("etc", "queue", "data"):
        (base / sub).mkdir(parents=True)
    shutil.chown(base / "data", "postfix")  # Postfix's own state; the queue it sets up
    (base / "etc" / "main.cf").write_text(
        MAIN_CF.format(base=base, domain=DOMAIN, lmtp_port=lmtp_port))
    (base / "etc" / "master.cf").write_text(MASTER_CF.format(smtp_port=smtp_port))
    started = postfix(base, "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield handle, smtp_port, base
    finally:
        postfix(base, "stop")
        handle.stop()
        time.sleep(0.5)
        shutil.rmtree(base, ignore_errors=True)


def wait_for(user: str, handle: ServerHandle, criterion: str, timeout: float = 60.0,
             mailbox: str = "INBOX") -> bytes:
    """The first message of ``user`` matching the SEARCH criterion, polled for."""
    deadline = time.monotonic() + timeout
    conn = imaplib.IMAP4(handle.host, handle.port, timeout=10)
    conn.login(user, USERS[user])
    try:
        while time.monotonic() < deadline:
            if conn.select(mailbox, readonly=True)[0] != "OK":
                time.sleep(0.3)
                continue
            _, data = conn.search(None, criterion)
            if data[0]:
                _, fetched = conn.fetch(data[0].split()[0], "(BODY.PEEK[])")
                return bytes(fetched[0][1])
            time.sleep(0.3)  # Postfix's queue manager works on its own schedule
    finally:
        conn.logout()
    raise AssertionError(f"no message for {user} matching {criterion} in {timeout}s")


def test_postfix_delivers_over_lmtp_and_bounces_the_unknown(
    mta: tuple[ServerHandle, int, Path],
) -> None:
    handle, smtp_port, base = mta
    message = (f"From: sender@{DOMAIN}\r\nTo: alice@{DOMAIN}, bob@{DOMAIN}, ghost@{DOMAIN}\r\n"
               "Subject: through postfix\r\nMessage-ID: <pf-1@example.test>\r\n\r\nHello!\r\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        refused = smtp.sendmail(f"sender@{DOMAIN}",
                                [f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"ghost@{DOMAIN}"], message)
    assert refused == {}  # Postfix queues all three; pyimapd decides at LMTP time
    try:
        for user in ("alice", "bob"):
            body = wait_for(user, handle, 'SUBJECT "through postfix"')
            assert b"Hello!" in body and body.startswith(b"Return-Path: <sender@example.test>")
        bounce = wait_for("sender", handle, 'BODY "ghost@example.test"')
    except AssertionError:
        log = base / "maillog"
        raise AssertionError(log.read_text() if log.exists() else "no maillog") from None
    assert b"550 5.1.1" in bounce
    assert b"Subject: Undelivered Mail Returned to Sender" in bounce
