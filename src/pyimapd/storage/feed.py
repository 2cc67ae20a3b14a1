"""Change feeds: wake sessions watching a mailbox, in this process and in sibling workers.

How this works: a :class:`LocalChangeFeed` keeps, per ``(user, mailbox)``, the set of
open :class:`LocalSubscription` objects. :meth:`LocalChangeFeed.notify` sets a flag on
each of them (and resolves the futures waiting on it), so any number of notifications
before the next ``wait`` coalesce into one wake-up; the session then reads what changed
from the store (by MODSEQ), never from the feed. That is why the feed can be
lossy-but-coalescing and why a cross-process transport is easy to add: a backend shared
by several processes passes a ``publish`` callback (e.g. a PostgreSQL ``NOTIFY`` or a
datagram to sibling workers), and whatever receives the remote signal calls
:meth:`LocalChangeFeed.deliver_remote`, which is safe to call from any thread.

The transport for worker processes sharing one data dir is
PeerChangeFeed in transport/peers.py (it holds sockets, so it lives with
the transport); PostgreSQL's is NOTIFY (storage/postgres/listener.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from pyimapd.storage.names import normalize

Publisher = Callable[[str, str], None]
"""Called with ``(user, mailbox)`` for every local notification, to forward it elsewhere."""


class LocalSubscription:
    """One session's interest in one mailbox. Bound to the event loop it was created on.

    A signal sets a flag that stays up until :meth:`wait` consumes it, and resolves the
    futures handed to :meth:`watch`. Waking thousands of idlers per message is the hot
    path of a fan-out, so a pending signal is consumed without a task or a timer."""

    __slots__ = ("_feed", "_key", "_loop", "_signalled", "_watchers", "closed")

    def __init__(self, feed: LocalChangeFeed, key: tuple[str, str]) -> None:
        self._feed = feed
        self._key = key
        self._loop = asyncio.get_running_loop()
        self._signalled = False
        self._watchers: list[asyncio.Future[None]] = []
        self.closed = False

    async def wait(self, timeout: float | None = None) -> bool:
        """True when the mailbox changed since the last wait (or since subscribing),
        False when ``timeout`` seconds passed without a change (at once for 0)."""
        if not self._signalled:
            self._feed.pump()
        if not self._signalled:
            if timeout is not None and timeout <= 0:
                return False
            future = self._loop.create_future()
            self.watch(future)
            try:
                async with asyncio.timeout(timeout):
                    await future
            except TimeoutError:
                return False
            finally:
                self.unwatch(future)
        self._signalled = False
        return True

    def watch(self, future: asyncio.Future[None]) -> None:
        """Resolves ``future`` at the next signal, at once if one is pending, without
        consuming it (the next :meth:`wait` does): IDLE waits for a change or a client
        line with one future and no task per round."""
        if self._signalled:
            if not future.done():
                future.set_result(None)
        else:
            self._watchers.append(future)

    def unwatch(self, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._watchers.remove(future)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._feed._remove(self._key, self)

    @property
    def identity(self) -> tuple[int, str, str]:
        """Which mailbox of which feed this watches: subscriptions with the same identity
        may share one poll of the store (see ``SelectedView``)."""
        return (id(self._feed), *self._key)

    def generation(self) -> int:
        """How many signals the mailbox has had in this process. A poll that started
        when the count was g has seen every change signalled up to g (signals are sent
        after the commit), which is what lets a session reuse another's poll."""
        return self._feed._generation.get(self._key, 0)

    def _set(self) -> None:
        """The signal, on the subscription's loop."""
        self._signalled = True
        watchers = self._watchers
        if watchers:
            self._watchers = []
            for future in watchers:
                if not future.done():
                    future.set_result(None)

    def _signal(self, running: asyncio.AbstractEventLoop | None) -> None:
        """Signals from any thread (``running`` is the caller's loop, if any): asyncio
        futures are not thread-safe, so a call from outside the subscription's loop goes
        through ``call_soon_threadsafe``."""
        if running is self._loop:
            self._set()
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody waits
                self._loop.call_soon_threadsafe(self._set)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LocalChangeFeed:
    """A :class:`~pyimapd.storage.interface.ChangeFeed` for one process.

    ``publish``, when given, receives every local notification so a transport can
    forward it to other processes or nodes; remote signals come back in through
    :meth:`deliver_remote` (which does not publish again, so signals never loop).
    """

    def __init__(self, publish: Publisher | None = None) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._subscribers: dict[tuple[str, str], set[LocalSubscription]] = {}
        self._generation: dict[tuple[str, str], int] = {}

    def subscribe(self, user: str, mailbox: str) -> LocalSubscription:
        key = (user, normalize(mailbox))
        subscription = LocalSubscription(self, key)
        with self._lock:
            self._subscribers.setdefault(key, set()).add(subscription)
        return subscription

    def notify(self, user: str, mailbox: str) -> None:
        """Wakes local watchers of the mailbox and forwards the signal to ``publish``."""
        self.deliver_remote(user, mailbox)
        if self._publish is not None:
            self._publish(user, normalize(mailbox))

    def deliver_remote(self, user: str, mailbox: str) -> None:
        """Wakes local watchers only: the entry point for signals from other processes."""
        key = (user, normalize(mailbox))
        with self._lock:
            targets = list(self._subscribers.get(key, ()))
            if targets:
                self._generation[key] = self._generation.get(key, 0) + 1
        running = _running_loop()
        for subscription in targets:
            subscription._signal(running)

    def deliver_all(self, user: str | None = None) -> None:
        """Wakes every local watcher (of ``user``, when given). For a transport that may
        have missed signals, e.g. after its connection dropped: each woken session polls
        by MODSEQ and so catches up on whatever it missed."""
        with self._lock:
            targets = [
                sub for key, subs in self._subscribers.items()
                if user is None or key[0] == user for sub in subs
            ]
        running = _running_loop()
        for subscription in targets:
            subscription._signal(running)

    def pump(self) -> None:
        """Takes in signals that have arrived from elsewhere but are not yet delivered.
        Nothing to do in one process; the peers transport (transport/peers.py) reads its
        socket."""

    def watchers(self, user: str, mailbox: str) -> int:
        """How many subscriptions watch the mailbox (for tests and metrics)."""
        with self._lock:
            return len(self._subscribers.get((user, normalize(mailbox)), ()))

    def _remove(self, key: tuple[str, str], subscription: LocalSubscription) -> None:
        with self._lock:
            subs = self._subscribers.get(key)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._subscribers[key]
                    self._generation.pop(key, None)
