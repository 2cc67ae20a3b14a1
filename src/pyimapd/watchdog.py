"""Names the command that holds a worker's event loop, while it holds it.

Every session of a worker shares one asyncio loop, so one command that computes for
seconds without awaiting (a regex that backtracks, a quadratic loop over client input)
stalls all of them; issue "No input may freeze a worker" was such a case. The inputs
known to cost are bounded (docs/security.md, "Work a client controls"), and this is the
net for the ones not yet known: an operator sees which command of which user did it.

How this works: a heartbeat callback on the loop records when it last ran. A thread
wakes every quarter of the threshold; when the heartbeat is older than the threshold it
logs a WARNING naming the command the loop is running now (found from the loop's current
task, which each session labels while it runs a command) and, when the heartbeat runs
again, one line with the whole stall. A stall shorter than 1.25 times the threshold may
go unreported: the thread's granularity. Commands that await (database, disk, network)
never trip it, however long they take: only time on the loop counts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

log = logging.getLogger("pyimapd.watchdog")


class LoopWatchdog:
    """One per worker loop; ``threshold`` seconds of stall before a WARNING."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        self._loop = loop
        self._threshold = threshold
        self._interval = threshold / 4
        self._beat = time.monotonic()
        self._labels: dict[asyncio.Task[object], str] = {}
        self._reported: str | None = None  # the label of the stall being reported
        self._lock = threading.Lock()  # _beat and _reported, between loop and thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pyimapd-watchdog",
                                        daemon=True)
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._beat = time.monotonic()
        self._handle = self._loop.call_later(self._interval, self._heartbeat)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread.is_alive():
            self._thread.join()

    def command_started(self, label: str) -> None:
        """Called on the loop by a session's task as it starts a command."""
        task = asyncio.current_task()
        if task is not None:
            self._labels[task] = label

    def command_ended(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._labels.pop(task, None)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        with self._lock:
            stalled = now - self._beat - self._interval
            self._beat = now
            label, self._reported = self._reported, None
        if label is not None:
            log.warning("event loop was blocked for %.2f s by %s", stalled, label)
        self._handle = self._loop.call_later(self._interval, self._heartbeat)

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                stalled = time.monotonic() - self._beat - self._interval
                if stalled <= self._threshold or self._reported is not None:
                    continue
                task = asyncio.current_task(self._loop)  # from this thread: a dict lookup
                label = self._labels.get(task) if task is not None else None
                self._reported = reported = label or "code outside any command"
            log.warning("event loop blocked for %.2f s so far by %s", stalled, reported)
