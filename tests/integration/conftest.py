"""Fixtures for the webmail scenarios: pyimapd (with LMTP and ManageSieve), Debian's
Roundcube in front of it, and one headless Chromium, per test module and per store.

Each scenario logs in as its own user (``RC_USERS``), so scenarios sharing a module's
server never see each other's mail.  A test module names the Roundcube plugins it needs
besides managesieve in ``ROUNDCUBE_PLUGINS`` (a tuple of Debian's plugin names).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from integration.rcstore import Store
from serverutil import ServerHandle, free_port, register_server, start_server

RC_USERS = {name: f"pw-{name}" for name in (
    "login", "reader", "drafter", "searcher", "sorter", "threader",
    "flagger", "mover", "deleter", "folders", "filters", "sharer", "sharee")}
BASE_DATE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Webmail:
    """A pyimapd server with Roundcube in front, and where its extra listeners are."""

    server: ServerHandle
    roundcube: object
    sieve_port: int
    lmtp_port: int

    def store(self, user: str) -> Store:
        return Store(self.server.host, self.server.port, user, RC_USERS[user])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def webmail(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webmail]:
    from integration.roundcube import require_roundcube, start_roundcube

    require_roundcube()
    tmp = tmp_path_factory.mktemp(f"webmail-{request.param}")
    sieve_port, lmtp_port = free_port(), free_port()
    config = tmp / "pyimapd.toml"
    config.write_text("[auth]\nfailure_delay = 0\n")
    server = start_server(tmp / "server", RC_USERS, store=request.param, extra_args=(
        "--listen-managesieve", f"127.0.0.1:{sieve_port}",
        "--listen-lmtp", f"127.0.0.1:{lmtp_port}", "--config", str(config)))
    register_server(request.node, server)
    try:
        rc = start_roundcube(tmp / "roundcube", server.port, sieve_port,
                             plugins=getattr(request.module, "ROUNDCUBE_PLUGINS", ()))
    except BaseException:
        server.stop()
        raise
    register_server(request.node, rc)  # type: ignore[arg-type]  # same log interface
    yield Webmail(server, rc, sieve_port, lmtp_port)
    rc.stop()
    server.stop()


@pytest.fixture(scope="module")
def chrome(webmail: Webmail, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from integration.rcbrowser import Browser, require_chromium

    require_chromium()
    artefacts = Path(os.environ.get("PYIMAPD_ARTEFACTS_DIR")
                     or tmp_path_factory.getbasetemp() / "artefacts")
    browser = Browser(webmail.roundcube.url, artefacts,  # type: ignore[attr-defined]
                      tmp_path_factory.mktemp("downloads"))
    yield browser
    browser.quit()


@pytest.fixture
def page(chrome: object, request: pytest.FixtureRequest) -> object:
    """The module's browser, named after the running test for its artefacts."""
    chrome.test_name = request.node.name  # type: ignore[attr-defined]
    return chrome


def message(subject: str, body: str = "Hello.\n", sender: str = "Alice <alice@example.org>",
            days: int = 0, msgid: str | None = None, reply_to: str | None = None,
            attachment: tuple[str, bytes] | None = None) -> bytes:
    """An RFC 5322 message dated ``days`` after BASE_DATE, optionally a reply (threading
    by In-Reply-To/References) or with one attachment."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Demo <demo@example.org>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(BASE_DATE + timedelta(days=days))
    msg["Message-ID"] = msgid or f"<{abs(hash((subject, days, sender)))}@example.org>"
    if reply_to:
        msg["In-Reply-To"] = reply_to
        msg["References"] = reply_to
    msg.set_content(body)
    if attachment:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename=name)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def begin(webmail: Webmail, page: Any, user: str, *inbox: bytes) -> Store:
    """Put ``inbox`` in the user's INBOX, then log in as that user: a scenario's start."""
    store = webmail.store(user)
    for raw in inbox:
        store.append("INBOX", raw)
    with page.step("login"):
        page.login(user, RC_USERS[user])
    return store
