"""Metrics and logs of a real server: the scrape shows the commands just run (with worker
processes, summed over all of them); JSON logs carry session ids and never a password."""

from __future__ import annotations

import imaplib
import json
import re
import socket
import urllib.request
from pathlib import Path

import pytest

from serverutil import free_port, register_server, start_server

pytestmark = pytest.mark.timeout(120)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        return resp.read().decode()


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (label order as prometheus_client writes them)."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + (f"{{{inner}}}" if inner else "")) + r" (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_show_commands_just_run(
    request: pytest.FixtureRequest, tmp_path: Path, workers: str
) -> None:
    mport, lport = free_port(), free_port()
    handle = start_server(tmp_path, extra_args=(
        "--metrics-listen", f"127.0.0.1:{mport}", "--workers", workers,
        "--listen-lmtp", f"127.0.0.1:{lport}",
    ))
    register_server(request.node, handle)
    try:
        before = scrape(mport)
        assert value(before, "pyimapd_commands_total", command="SELECT", result="OK") == 0
        for _ in range(3):  # several connections: with 2 workers both likely serve some
            conn = imaplib.IMAP4(handle.host, handle.port, timeout=10)
            conn.login("demo", "demo")
            conn.select("INBOX")
            conn.noop()
            conn.logout()
        bad = imaplib.IMAP4(handle.host, handle.port, timeout=10)
        with pytest.raises(imaplib.IMAP4.error):
            bad.login("demo", "wrong")
        bad.logout()
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.sendall(b"LHLO t\r\nMAIL FROM:<>\r\nRCPT TO:<demo>\r\nRCPT TO:<x>\r\nDATA\r\n"
                      b"Subject: m\r\n\r\nhi\r\n.\r\nQUIT\r\n")
            while b"221 " not in (data := s.recv(65536)) and data:
                pass
        text = scrape(mport)
    finally:
        handle.stop()
    assert value(text, "pyimapd_commands_total", command="SELECT", result="OK") == 3
    assert value(text, "pyimapd_commands_total", command="NOOP", result="OK") == 3
    assert value(text, "pyimapd_commands_total", command="LOGIN", result="NO") == 1
    assert value(text, "pyimapd_auth_failures_total") == 1
    assert value(text, "pyimapd_connections_total", protocol="imap") >= 4
    assert value(text, "pyimapd_connections_total", protocol="lmtp") >= 1
    assert value(text, "pyimapd_deliveries_total", result="ok") == 1
    assert value(text, "pyimapd_deliveries_total", result="permfail") == 1
    assert value(text, "pyimapd_command_seconds_count", command="SELECT") == 3
    assert value(text, "pyimapd_store_bytes") > 0


def test_json_logs_have_session_ids_and_no_passwords(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    handle = start_server(tmp_path, users={"demo": "s3cr3t-Pa55"}, extra_args=(
        "--log-format", "json", "--log-level", "DEBUG", "--workers", "1",
    ))
    register_server(request.node, handle)
    try:
        conn = imaplib.IMAP4(handle.host, handle.port, timeout=10)
        conn.login("demo", "s3cr3t-Pa55")
        conn.select("INBOX")
        conn.logout()
    finally:
        handle.stop()
    text = handle.log_text()
    assert "s3cr3t-Pa55" not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    commands = [r for r in records if r.get("command")]
    assert [r["command"] for r in commands][-3:] == ["LOGIN", "SELECT", "LOGOUT"]
    assert all(r["result"] == "OK" and isinstance(r["ms"], float) for r in commands[-3:])
    session = commands[-1]["session"]
    connection = [r for r in records if r.get("session") == session
                  and r["logger"] == "pyimapd.transport"]
    assert [r["message"].split()[0] for r in connection] == ["connection", "connection"]
    assert all(r["level"] in ("DEBUG", "INFO", "WARNING", "ERROR") for r in records)
