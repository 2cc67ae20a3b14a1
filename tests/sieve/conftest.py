"""Helpers for the Sieve tests: fixture messages and a one-call runner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyimapd.sieve import Envelope, Result, StaticEnvironment, compile_script, evaluate

MESSAGES = Path(__file__).parent / "messages"

SIMPLE = (b"From: Alice <alice@example.net>\r\nTo: bob@example.org\r\n"
          b"Subject: hello\r\nMessage-ID: <m1@example.net>\r\n\r\nHi Bob\r\n")


def message(name: str) -> bytes:
    return (MESSAGES / name).read_bytes()


def default_env() -> StaticEnvironment:
    return StaticEnvironment(mailboxes={"INBOX", "Work"}, addresses=["bob@example.org"],
                             clock=datetime(2026, 12, 7, 11, 50, 44, tzinfo=UTC))


Runner = Callable[..., Result]


@pytest.fixture
def make_env() -> Callable[[], StaticEnvironment]:
    return default_env


@pytest.fixture
def run() -> Runner:
    def runner(script: str, msg: bytes | str = SIMPLE, *, env: StaticEnvironment | None = None,
               sender: str = "alice@example.net", recipient: str = "bob@example.org",
               auth: str | None = None) -> Result:
        raw = message(msg) if isinstance(msg, str) else msg
        return evaluate(compile_script(script), raw, Envelope(sender, recipient, auth),
                        env or default_env())
    return runner
