"""The worker supervisor (transport/workers.py) in a forked child of the test, with
workers that are plain functions: a worker that dies before it is ready ends the start
with status 1, and does not crash the supervisor (its ready pipe closes before its
pidfd reports the exit, so it is unregistered once only)."""

from __future__ import annotations

import os
from collections.abc import Callable

from pyimapd.transport.workers import Supervisor


def _run_in_child(count: int, target: Callable[[int, Callable[[], None]], int]) -> int:
    """The supervisor's exit status, run in a fork so its signal set-up stays there."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves with os._exit
        status = 3
        try:
            status = Supervisor(count, target, stop_timeout=5.0).run()
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def test_worker_dying_before_ready_fails_the_start_cleanly() -> None:
    assert _run_in_child(2, lambda index, ready: 7) == 1


def test_ready_worker_stopped_by_a_signal() -> None:
    def target(index: int, ready: Callable[[], None]) -> int:
        ready()
        os.kill(os.getppid(), 15)  # SIGTERM to the supervisor: a clean stop
        return 0

    assert _run_in_child(1, target) == 0
