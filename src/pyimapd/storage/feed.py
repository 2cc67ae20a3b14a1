"""The in-process change feed: wakes sessions watching a mailbox.

How this works: a :class:`LocalChangeFeed` keeps, per ``(user, mailbox)``, the set of
open :class:`LocalSubscription` objects. :meth:`LocalChangeFeed.notify` sets an
``asyncio.Event`` on each of them, so any number of notifications before the next
``wait`` coalesce into one wake-up; the session then reads what changed from the store
(by MODSEQ), never from the feed. That is why the feed can be lossy-but-coalescing and
why a cross-process transport is easy to add: a backend shared by several processes
passes a ``publish`` callback (e.g. a PostgreSQL ``NOTIFY`` or a datagram to sibling
workers), and whatever receives the remote signal calls
:meth:`LocalChangeFeed.deliver_remote`, which is safe to call from any thread.
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
    """One session's interest in one mailbox. Bound to the event loop it was created on."""

    def __init__(self, feed: LocalChangeFeed, key: tuple[str, str]) -> None:
        self._feed = feed
        self._key = key
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.closed = False

    async def wait(self, timeout: float | None = None) -> bool:
        """True when the mailbox changed since the last wait (or since subscribing),
        False when ``timeout`` seconds passed without a change."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return False
        self._event.clear()
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._feed._remove(self._key, self)

    def _signal(self) -> None:
        """Sets the event from any thread: asyncio primitives are not thread-safe, so a
        call from outside the subscription's loop goes through ``call_soon_threadsafe``."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody waits
                self._loop.call_soon_threadsafe(self._event.set)


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
        with self._lock:
            targets = list(self._subscribers.get((user, normalize(mailbox)), ()))
        for subscription in targets:
            subscription._signal()

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
