"""The in-process change feed: coalescing, timeouts, remote delivery from threads."""

from __future__ import annotations

import asyncio
import threading

from pyimapd.storage.feed import LocalChangeFeed


async def test_notifications_coalesce_and_time_out() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    assert await sub.wait(0.01) is False
    for _ in range(5):
        feed.notify("u", "inbox")
    assert await sub.wait(0) is True
    assert await sub.wait(0.01) is False
    sub.close()
    assert feed.watchers("u", "INBOX") == 0


async def test_wait_wakes_on_later_notify() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "Box")
    waiter = asyncio.create_task(sub.wait(5))
    await asyncio.sleep(0.01)
    feed.notify("u", "Box")
    assert await waiter is True
    feed.notify("other", "Box")
    feed.notify("u", "box")  # names other than INBOX are case-sensitive
    assert await sub.wait(0.01) is False


async def test_publish_and_remote_delivery_from_a_thread() -> None:
    published: list[tuple[str, str]] = []
    feed = LocalChangeFeed(publish=lambda u, m: published.append((u, m)))
    sub = feed.subscribe("u", "INBOX")
    feed.notify("u", "inbox")
    assert published == [("u", "INBOX")]
    assert await sub.wait(0) is True
    thread = threading.Thread(target=feed.deliver_remote, args=("u", "INBOX"))
    thread.start()
    thread.join()
    assert await sub.wait(1) is True
    assert published == [("u", "INBOX")]  # remote signals are not published again
