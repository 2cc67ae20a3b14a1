"""Each ``*.imap`` file here is one test, run against a fresh server per storage backend.

The format is documented at the top of driver.py.  ``PYIMAPD_TRANSCRIPT_STORES`` picks
the backends (comma-separated, default ``sqlite,postgres``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serverutil import DEFAULT_USERS, register_server, start_server
from transcripts.driver import parse, run_transcript

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = sorted(HERE.glob("*.imap"))
# The memory backend keeps accounts in memory, so a server process started on it has no
# users; it is exercised in-process by tests/harness.py instead.
DEFAULT_STORES = "sqlite,postgres"
STORES = [s for s in os.environ.get("PYIMAPD_TRANSCRIPT_STORES", DEFAULT_STORES).split(",") if s]


def test_transcripts_exist_and_parse() -> None:
    """Every transcript parses (literal counts add up) even without a server."""
    assert len(TRANSCRIPTS) >= 15
    for path in TRANSCRIPTS:
        assert parse(path.read_text(), path.name), path.name


@pytest.mark.timeout(60)
@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    handle = start_server(tmp_path, DEFAULT_USERS, store=store)
    register_server(request.node, handle)
    try:
        run_transcript(path, handle.host, handle.port)
    finally:
        handle.stop()
