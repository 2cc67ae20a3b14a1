"""Wiring: the store, the shared session context and the listeners, from a Config."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from pyimapd.auth.passwords import Passwords
from pyimapd.config import Config
from pyimapd.session.session import ServerContext
from pyimapd.storage.interface import Backend
from pyimapd.transport.server import Listener

log = logging.getLogger("pyimapd")


def open_backend(config: Config) -> Backend:
    """``store`` is ``sqlite`` (the embedded default, in the data dir) or ``memory``."""
    if config.store == "memory":
        from pyimapd.storage.memory import MemoryBackend

        return MemoryBackend()
    if config.store == "sqlite":
        from pyimapd.storage.sqlite import SqliteBackend

        return SqliteBackend(config.data_dir)
    raise ValueError(f"unknown store {config.store!r}: use sqlite or memory")


def prepare_data_dir(config: Config) -> None:
    """The data dir holds everyone's mail: only the server's user may enter it."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (config.data_dir / "tmp").mkdir(mode=0o700, exist_ok=True)


async def serve(config: Config) -> None:
    prepare_data_dir(config)
    backend = open_backend(config)
    await backend.start()
    ctx = ServerContext(config=config, backend=backend, passwords=Passwords(config.argon2))
    listener = Listener(ctx, config.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await listener.start()
        log.info("pyimapd ready (pid %d, store %s)", os.getpid(), config.store)
        await stop.wait()
        log.info("shutting down")
    finally:
        await listener.stop()
        await backend.close()
