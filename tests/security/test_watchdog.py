"""The loop watchdog names the command that blocks a worker, and only that."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from pyimapd.config import ConfigError, load_config
from pyimapd.watchdog import LoopWatchdog


async def _run_command(watchdog: LoopWatchdog, label: str, blocking: float, waiting: float) -> None:
    watchdog.command_started(label)
    try:
        time.sleep(blocking)  # CPU-bound work that never yields, as far as the loop sees
        await asyncio.sleep(waiting)
    finally:
        watchdog.command_ended()


async def test_a_blocking_command_is_named_while_it_blocks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(asyncio.get_running_loop(), 0.1)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pyimapd.watchdog"):
            await asyncio.sleep(0.05)
            await asyncio.gather(
                _run_command(watchdog, "A7 SEARCH of user mallory", 0.6, 0),
                _run_command(watchdog, "B1 NOOP of user alice", 0, 0.2),
            )
            await asyncio.sleep(0.1)
    finally:
        watchdog.stop()
    messages = [r.getMessage() for r in caplog.records]
    so_far = [m for m in messages if "so far" in m]
    assert len(so_far) == 1 and so_far[0].endswith("by A7 SEARCH of user mallory"), messages
    whole = [m for m in messages if "was blocked" in m]
    assert len(whole) == 1 and "A7 SEARCH of user mallory" in whole[0], messages
    seconds = float(whole[0].split(" for ")[1].split(" s ")[0])
    assert 0.45 < seconds < 1.5


async def test_waiting_is_not_blocking(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(asyncio.get_running_loop(), 0.1)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pyimapd.watchdog"):
            await _run_command(watchdog, "A1 IDLE of user alice", 0.02, 0.6)
    finally:
        watchdog.stop()
    assert not caplog.records


def test_the_threshold_is_configured(tmp_path: Path) -> None:
    assert load_config(None).timeouts.loop_stall == 1.0
    path = tmp_path / "c.toml"
    path.write_text("[timeouts]\nloop_stall = 0.25\n")
    assert load_config(path).timeouts.loop_stall == 0.25
    path.write_text("[timeouts]\nloop_stall = -1\n")
    with pytest.raises(ConfigError, match="loop_stall"):
        load_config(path)
