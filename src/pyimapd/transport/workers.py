"""Worker processes: the supervisor behind ``pyimapd serve --workers N``.

How this works: the supervisor forks N workers and then only watches them. It never opens
the store or a listener itself, and it forks before any event loop or thread exists, so
each child starts clean and runs its own event loop (see :mod:`pyimapd.server`). One
:mod:`selectors` loop waits on three kinds of file descriptors:

- a pidfd per worker (``os.pidfd_open``), readable when that worker exits;
- a pipe per worker, on which the worker writes one byte once it is listening;
- the signal wake-up pipe (``signal.set_wakeup_fd``): SIGTERM and SIGINT are forwarded
  to every worker, which then closes its listeners and says BYE to its sessions; a worker
  still alive after ``stop_timeout`` seconds is killed.

Worker 0 starts alone and the others once it is ready, so only one process creates or
migrates the schema. A worker that dies is started again (after a delay that doubles
while it keeps dying young); one that dies before the first start-up completed is a
configuration error, and the supervisor stops everything and exits with status 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import selectors
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("pyimapd.workers")

WorkerMain = Callable[[int, Callable[[], None]], int]
"""``target(index, ready)`` runs one worker in the child and returns its exit status;
it calls ``ready()`` once it accepts connections."""

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
YOUNG = 5.0
"""A worker that dies sooner than this after its start is restarted after a delay."""
MAX_DELAY = 10.0


@dataclass
class Worker:
    index: int
    pid: int
    pidfd: int
    ready_fd: int
    started: float
    ready: bool = False


class Supervisor:
    def __init__(
        self,
        count: int,
        target: WorkerMain,
        on_exit: Callable[[int], None] | None = None,
        stop_timeout: float = 15.0,
    ) -> None:
        self.count = count
        self.target = target
        self.on_exit = on_exit
        self.stop_timeout = stop_timeout
        self.workers: dict[int, Worker] = {}
        self.restart_at: dict[int, float] = {}
        self.delay: dict[int, float] = {}
        self.selector = selectors.DefaultSelector()
        self.stopping_since: float | None = None
        self.all_ready = False
        self.status = 0
        self.supervisor_pid = os.getpid()

    # --- the loop -------------------------------------------------------------------

    def run(self) -> int:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_handlers = {sig: signal.signal(sig, _noop) for sig in (*STOP_SIGNALS, signal.SIGHUP)}
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        self._wake_fds = (wake_r, wake_w)
        try:
            self._spawn(0)
            while self.workers or (self.restart_at and self.stopping_since is None):
                for key, _ in self.selector.select(self._timeout()):
                    self._event(key.data, key.fd)
                self._restart_due()
                self._kill_if_late()
            log.info("all workers stopped")
            return self.status
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self.selector.close()
            os.close(wake_r)
            os.close(wake_w)

    def _timeout(self) -> float | None:
        deadlines = list(self.restart_at.values())
        if self.stopping_since is not None:
            deadlines.append(self.stopping_since + self.stop_timeout)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _event(self, data: object, fd: int) -> None:
        if data == "signal":
            with contextlib.suppress(BlockingIOError):
                for signum in os.read(fd, 64):
                    if signum == signal.SIGHUP:
                        self._forward(signal.SIGHUP)
                    else:
                        self.stop(signal.Signals(signum))
            return
        kind, index = data  # type: ignore[misc]
        worker = self.workers.get(index)
        if worker is None:
            return
        if kind == "ready":
            self._on_ready(worker)
        else:
            self._reap(worker)

    # --- starting and stopping --------------------------------------------------------

    def _forward(self, signum: signal.Signals) -> None:
        """SIGHUP (reload the TLS certificate) goes to every worker; the supervisor
        itself has nothing to reload."""
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signum)

    def _spawn(self, index: int) -> None:
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            os.close(ready_r)
            self._child(index, ready_w)
        os.close(ready_w)
        pidfd = os.pidfd_open(pid)
        worker = Worker(index, pid, pidfd, ready_r, time.monotonic())
        self.workers[index] = worker
        self.selector.register(pidfd, selectors.EVENT_READ, ("exit", index))
        self.selector.register(ready_r, selectors.EVENT_READ, ("ready", index))
        log.info("worker %d started (pid %d)", index, pid)

    def _child(self, index: int, ready_w: int) -> None:
        """Runs in the forked worker: drop the supervisor's signal set-up and descriptors,
        run the target, and leave with ``os._exit`` so nothing of the parent's runs."""
        status = 1
        try:
            _die_with_parent(self.supervisor_pid)
            signal.set_wakeup_fd(-1)
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            # Ignored until the worker's own handler (TLS reload) is installed: a
            # SIGHUP forwarded during start-up must not kill it.
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            self.selector.close()
            for fd in self._wake_fds:
                os.close(fd)
            for other in self.workers.values():
                for fd in (other.pidfd, other.ready_fd):
                    with contextlib.suppress(OSError):
                        os.close(fd)

            def ready() -> None:
                with contextlib.suppress(OSError):
                    os.write(ready_w, b"r")

            status = self.target(index, ready)
        except KeyboardInterrupt:
            status = 0
        except BaseException:
            log.exception("worker %d failed", index)
        finally:
            logging.shutdown()
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)

    def _on_ready(self, worker: Worker) -> None:
        try:
            got = os.read(worker.ready_fd, 16)
        except OSError:
            got = b""
        self.selector.unregister(worker.ready_fd)
        if not got:
            return  # closed without a byte: it is exiting, the pidfd will say so
        worker.ready = True
        if self.all_ready or self.stopping_since is not None:
            return
        if len(self.workers) < self.count:
            self._spawn(len(self.workers))
        elif all(w.ready for w in self.workers.values()):
            self.all_ready = True
            log.info("pyimapd ready (supervisor pid %d, %d workers)", os.getpid(), self.count)

    def _reap(self, worker: Worker) -> None:
        _, wait_status = os.waitpid(worker.pid, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        self.selector.unregister(worker.pidfd)
        os.close(worker.pidfd)
        # A worker that exits before it is ready closes its pipe first: _on_ready has
        # unregistered it already, without marking the worker ready.
        if worker.ready_fd in self.selector.get_map():
            self.selector.unregister(worker.ready_fd)
        os.close(worker.ready_fd)
        del self.workers[worker.index]
        if self.on_exit is not None:
            self.on_exit(worker.pid)
        if self.stopping_since is not None:
            log.info("worker %d (pid %d) stopped (%s)", worker.index, worker.pid, code)
            return
        if not self.all_ready:
            log.error("worker %d (pid %d) failed to start (%s)", worker.index, worker.pid, code)
            self.status = 1
            self.stop(signal.SIGTERM)
            return
        lived = time.monotonic() - worker.started
        delay = min(MAX_DELAY, self.delay.get(worker.index, 0.05) * 2) if lived < YOUNG else 0.0
        self.delay[worker.index] = delay or 0.05
        log.warning(
            "worker %d (pid %d) died (%s); restarting in %.2fs", worker.index, worker.pid,
            code, delay,
        )
        self.restart_at[worker.index] = time.monotonic() + delay

    def _restart_due(self) -> None:
        now = time.monotonic()
        for index, when in list(self.restart_at.items()):
            if when <= now and self.stopping_since is None:
                del self.restart_at[index]
                self._spawn(index)

    def stop(self, signum: signal.Signals) -> None:
        """Forwards the stop signal; a second one is forwarded again."""
        if self.stopping_since is None:
            log.info("%s: stopping %d workers", signum.name, len(self.workers))
            self.stopping_since = time.monotonic()
            self.restart_at.clear()
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signum)

    def _kill_if_late(self) -> None:
        if self.stopping_since is None:
            return
        if time.monotonic() - self.stopping_since < self.stop_timeout:
            return
        for worker in self.workers.values():
            log.warning("worker %d (pid %d) did not stop; killing it", worker.index, worker.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
        self.stopping_since = time.monotonic() + 3600  # wait for the pidfds now


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a supervisor killed with SIGKILL: it would keep serving
    the shared port on its own. Linux's PR_SET_PDEATHSIG sends it SIGTERM then."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _noop(signum: int, frame: object) -> None:
    """A Python-level handler is needed for the wake-up fd to carry the signal."""
