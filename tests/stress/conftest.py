"""Fixtures for the stress tests: a real server, on one worker or several."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverutil import DEFAULT_USERS, ServerHandle, register_server, start_server
from stress.procnet import children

STRESS_SECONDS = float(os.environ.get("PYIMAPD_STRESS_SECONDS", "12"))
STRESS_USERS = {f"user{i}": f"secret{i}" for i in range(10)}
"""The ten accounts of the many-users load, besides ``demo``."""


def wait_workers(handle: ServerHandle, count: int, timeout: float = 20.0) -> list[int]:
    """Waits for the supervisor's "ready" line (every worker listens) and returns the
    workers' pids."""
    assert handle.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "pyimapd ready (supervisor" in handle.log_text():
            pids = children(handle.proc.pid)
            assert len(pids) == count, pids
            return pids
        time.sleep(0.05)  # readiness polling, not synchronisation
    raise AssertionError(f"workers not ready:\n{handle.log_text()}")


@pytest.fixture(params=[1, 2], ids=["1worker", "2workers"])
def stress_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerHandle]:
    workers = request.param
    config = tmp_path / "stress.toml"
    # 50 clients that reconnect at random from one address: above the default per-IP cap.
    config.write_text("[limits]\nmax_connections_per_ip = 1000\n")
    handle = start_server(tmp_path, users={**DEFAULT_USERS, **STRESS_USERS},
                          extra_args=("--workers", str(workers), "--config", str(config)))
    register_server(request.node, handle)
    if workers > 1:
        wait_workers(handle, workers)
    handle.workers = workers  # type: ignore[attr-defined]
    yield handle
    handle.stop()
