"""Shared fixtures: a real pyimapd server on loopback and clients logged in to it.

The server fixtures fail (never skip) when pyimapd cannot be started: a suite that skips
because the server is broken would hide exactly what it is here to show.  When a test
fails, the tail of the server's log is attached to its report.
"""

from __future__ import annotations

import imaplib
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from serverutil import (
    DEFAULT_USERS,
    SERVERS_KEY,
    ServerHandle,
    register_server,
    start_server,
)

LOG_TAIL_LINES = 200


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    for node in item.listchain():
        for handle in node.stash.get(SERVERS_KEY, []):
            tail = "\n".join(handle.log_text().splitlines()[-LOG_TAIL_LINES:])
            report.sections.append((f"{handle.kind} log {handle.log_path}", tail))


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerHandle]:
    """A fresh server for one test, with users demo/demo and mrc/secret."""
    handle = start_server(tmp_path, DEFAULT_USERS)
    register_server(request.node, handle)
    yield handle
    handle.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """One server shared by a module's tests; each test should use its own mailboxes.
    Every module runs once per store: SQLite, then PostgreSQL (tests/pgutil.py)."""
    handle = start_server(tmp_path_factory.mktemp("server"), DEFAULT_USERS, store=request.param)
    register_server(request.node, handle)
    yield handle
    handle.stop()


@pytest.fixture
def imaplib_conn(module_server: ServerHandle) -> Iterator[imaplib.IMAP4]:
    """A stdlib imaplib connection logged in as demo."""
    conn = imaplib.IMAP4(module_server.host, module_server.port, timeout=10)
    conn.login("demo", "demo")
    yield conn
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        conn.shutdown()


@pytest.fixture
def imap_client(module_server: ServerHandle) -> Iterator[object]:
    """An IMAPClient logged in as demo."""
    from imapclient import IMAPClient

    client = IMAPClient(module_server.host, port=module_server.port, ssl=False, timeout=10)
    client.login("demo", "demo")
    yield client
    try:
        client.logout()
    except Exception:
        client.shutdown()
