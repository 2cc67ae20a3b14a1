"""LocalSubscription.watch: what IDLE waits on (one future per round, no task), and
wait(0), which every command's update check calls, answering without suspending."""

from __future__ import annotations

import asyncio
import threading

from pyimapd.storage.feed import LocalChangeFeed


async def test_watch_resolves_on_notify_without_consuming_the_signal() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sub.watch(future)
    assert not future.done()
    feed.notify("u", "INBOX")
    assert future.done()
    assert await sub.wait(0) is True  # still pending for the update check
    assert await sub.wait(0) is False


async def test_watch_resolves_at_once_when_a_signal_is_pending() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    feed.notify("u", "INBOX")
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sub.watch(future)
    assert future.done()


async def test_unwatched_and_cancelled_futures_are_left_alone() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    loop = asyncio.get_running_loop()
    dropped, cancelled, kept = loop.create_future(), loop.create_future(), loop.create_future()
    for future in (dropped, cancelled, kept):
        sub.watch(future)
    sub.unwatch(dropped)
    sub.unwatch(dropped)  # twice is harmless
    cancelled.cancel()
    feed.notify("u", "INBOX")
    assert not dropped.done()
    assert cancelled.cancelled()
    assert kept.done()


async def test_wait_zero_does_not_suspend() -> None:
    """wait(0) answers in the caller's step: a coroutine that never yields finishes
    on its first send()."""
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    coro = sub.wait(0)
    try:
        coro.send(None)
    except StopIteration as stop:
        assert stop.value is False
    else:
        coro.close()
        raise AssertionError("wait(0) suspended")


async def test_cancelled_wait_leaves_no_watcher_behind() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    task = asyncio.create_task(sub.wait(None))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sub._watchers == []
    assert await sub.wait(0.01) is False


async def test_watch_from_another_thread() -> None:
    feed = LocalChangeFeed()
    sub = feed.subscribe("u", "INBOX")
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sub.watch(future)
    thread = threading.Thread(target=feed.deliver_remote, args=("u", "INBOX"))
    thread.start()
    thread.join()
    await asyncio.wait_for(future, 5)
    assert await sub.wait(0) is True
