"""Wiring: the store, the change feed, the shared session context and the listeners.

How this works: :func:`run` is what ``pyimapd serve`` calls. With one worker it runs
:func:`serve` in this process. With more, this process becomes a supervisor
(:mod:`pyimapd.transport.workers`) that forks the workers; each one runs :func:`serve`
with its own event loop, its own backend connections and its own listeners, which share
the port through ``SO_REUSEPORT``. The store is shared (SQLite serialises writers); what
one worker changes reaches the sessions of the others through the change feed, which for
SQLite is a :class:`~pyimapd.transport.peers.PeerChangeFeed` on ``DATA_DIR/run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from pyimapd.auth.passwords import Passwords
from pyimapd.config import Config
from pyimapd.managesieve.session import SieveServices, check_script
from pyimapd.services import Services, before_fork, worker_exited
from pyimapd.session.session import ServerContext
from pyimapd.sieve import EXTENSIONS
from pyimapd.storage.interface import Backend, ChangeFeed
from pyimapd.transport.managesieve import ManageSieveListener
from pyimapd.transport.peers import PeerChangeFeed, socket_path
from pyimapd.transport.server import Listener
from pyimapd.transport.tls import TlsContexts, load_tls
from pyimapd.watchdog import LoopWatchdog

log = logging.getLogger("pyimapd")

SHARED_STORES = frozenset({"sqlite"})
"""Stores that several processes can open at once; ``memory`` lives in one process."""


def open_backend(config: Config, changes: ChangeFeed | None = None) -> Backend:
    """The configured store (see :func:`_backend`) with its ``[namespaces]`` and ``[metadata]``."""
    backend = _backend(config, changes)
    backend.namespaces = config.namespaces
    backend.metadata = config.metadata
    return backend


def _backend(config: Config, changes: ChangeFeed | None = None) -> Backend:
    """``store`` is ``sqlite`` (the embedded default, in the data dir), ``memory`` or a
    ``postgresql://USER@HOST/DB`` URL (docs/postgres.md).
    ``changes`` is the feed to use (default: one that stays in this process); a backend
    with a cross-node feed of its own may ignore it."""
    if config.store == "memory":
        from pyimapd.storage.memory import MemoryBackend

        return MemoryBackend(changes)
    if config.store == "sqlite":
        from pyimapd.storage.sqlite import SqliteBackend

        return SqliteBackend(config.data_dir, changes)
    if config.store.startswith(("postgresql://", "postgres://")):
        from pyimapd.storage.postgres import PostgresBackend  # LISTEN/NOTIFY spans nodes

        return PostgresBackend(config.store, changes)
    raise ValueError(
        f"unknown store {config.store!r}: use sqlite, memory or a postgresql:// URL"
    )


def run_dir(config: Config) -> Path:
    """Sockets of the running workers (the cross-process change feed)."""
    return config.data_dir / "run"


def peer_feed(config: Config) -> PeerChangeFeed | None:
    """The feed that reaches the other processes on this data dir, for the stores that
    need one from us (a shared store without its own cross-process notifications)."""
    return PeerChangeFeed(run_dir(config)) if config.store in SHARED_STORES else None


def prepare_data_dir(config: Config) -> None:
    """The data dir holds everyone's mail: only the server's user may enter it."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (config.data_dir / "tmp").mkdir(mode=0o700, exist_ok=True)


def worker_count(config: Config) -> int:
    """``workers = 0`` (the default) means one per core the process may run on; a store
    that lives in one process (``memory``) always gets one. With PostgreSQL each worker
    is one more node, with its own pool and LISTEN connection."""
    if config.workers < 0:
        raise ValueError("workers must be 0 (one per core) or more")
    if config.store not in SHARED_STORES and not config.store.startswith("postgresql://"):
        if config.workers > 1:
            raise ValueError(f"the {config.store} store cannot be shared: use --workers 1")
        return 1
    if config.workers:
        return config.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


YOUNG_GENERATION = 50_000
"""Net new container objects between two young garbage collections (CPython: 700)."""


def tune_gc() -> None:
    """Garbage collection for thousands of long-lived connections. With CPython's
    default, a young collection every 700 new objects, a burst of short-lived objects
    (a new message waking every idling session: a future and a few coroutines each) is
    promoted to the old generation, where it triggers a full collection; with 5,000
    connections a worker holds some 450,000 objects and a full pass stalls it for
    0.3-0.6 s. A young generation of 50,000 absorbs such a burst, the older thresholds
    stay CPython's, and freezing what exists at start-up (modules, classes, the
    configuration) keeps it out of every later pass. See docs/performance.md."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)
    gc.freeze()


async def serve(
    config: Config,
    on_ready: Callable[[], None] | None = None,
    lmtp_sockets: list[socket.socket] | None = None,
) -> None:
    """One worker: serves until SIGTERM or SIGINT, then says BYE to every session.
    ``lmtp_sockets`` are the LMTP sockets the supervisor bound (pyimapd.services)."""
    tls = load_tls(config.tls, bool(config.listen_tls))  # a bad certificate fails early
    prepare_data_dir(config)
    feed = peer_feed(config)
    backend = open_backend(config, feed)
    await backend.start()
    services = await Services.start(config, backend, lmtp_sockets)
    loop = asyncio.get_running_loop()
    stall = config.timeouts.loop_stall
    watchdog = LoopWatchdog(loop, stall) if stall > 0 else None
    ctx = ServerContext(
        config=config, backend=backend, passwords=Passwords(config.argon2),
        metrics=services.metrics, watchdog=watchdog,
    )
    listener = Listener(ctx, config.listen, tls=tls, tls_addresses=config.listen_tls)
    sieve_listener = managesieve_listener(config, ctx, tls)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, listener.reload_tls)  # re-read cert and key
    try:
        if feed is not None:
            feed.start()
        tune_gc()
        if watchdog is not None:
            watchdog.start()
        await listener.start()
        if sieve_listener is not None:
            await sieve_listener.start()
        log.info("pyimapd ready (pid %d, store %s)", os.getpid(), config.store)
        if on_ready is not None:
            on_ready()
        await stop.wait()
        log.info("shutting down")
    finally:
        if sieve_listener is not None:
            await sieve_listener.stop()
        await listener.stop()
        if watchdog is not None:
            watchdog.stop()
        await services.stop()
        if feed is not None:
            feed.close()
        await backend.close()


def managesieve_listener(
    config: Config, ctx: ServerContext, tls: TlsContexts | None
) -> ManageSieveListener | None:
    """The ManageSieve listener when ``listen_managesieve`` is set: it logs in through
    the IMAP context's authenticator and checks scripts with the Sieve interpreter."""
    if not config.listen_managesieve:
        return None
    services = SieveServices(config, ctx.backend, ctx.authenticator, check_script,
                             tuple(sorted(EXTENSIONS)))
    return ManageSieveListener(services, config.listen_managesieve, tls)


def run(config: Config) -> int:
    """``pyimapd serve``: one worker in this process, or a supervisor and N workers."""
    count = worker_count(config)
    if count == 1:
        asyncio.run(serve(config))
        return 0
    from pyimapd.transport.workers import Supervisor

    prepare_data_dir(config)
    shared = before_fork(config)  # LMTP sockets and metrics, shared by the workers

    def worker(index: int, ready: Callable[[], None]) -> int:
        asyncio.run(serve(config, on_ready=ready, lmtp_sockets=shared))
        return 0

    def remove_socket(pid: int) -> None:
        worker_exited(config, pid)
        with contextlib.suppress(FileNotFoundError):
            socket_path(run_dir(config), pid).unlink()

    return Supervisor(count, worker, on_exit=remove_socket).run()
