"""IDLE (RFC 2177) in the session layer: fan-out to many idlers, how an IDLE ends, and
the shared store poll behind the fan-out (SelectedView._poll)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from harness import Client, Harness
from pyimapd.config import Timeouts
from pyimapd.session.view import SelectedView, SharedPolls
from pyimapd.storage.interface import Changes, SelectResult


async def append(c: Client, subject: str = "x") -> bytes:
    data = f"Subject: {subject}\r\n\r\nbody\r\n".encode()
    c.send(f"AP APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    return await c.read_until(rb"^AP .*\r\n")


async def idler(harness: Harness) -> Client:
    c = await harness.connect(("demo", "demo"))
    await c.command("s SELECT INBOX")
    c.send("i IDLE\r\n")
    await c.read_until(rb"^\+ .*\r\n")
    return c


async def test_new_message_reaches_every_idler_and_recent_only_one(harness: Harness) -> None:
    """RFC 3501 section 2.3.2: a new message is \\Recent in exactly one session."""
    idlers = [await idler(harness) for _ in range(30)]
    writer = await harness.connect(("demo", "demo"))
    await append(writer)
    recent = []
    for c in idlers:
        out = await c.read_until(rb"^\* \d+ RECENT\r\n")
        assert b"* 1 EXISTS\r\n" in out, out
        recent.append(int(re.search(rb"\* (\d+) RECENT", out).group(1)))  # type: ignore[union-attr]
    assert sorted(recent) == [0] * 29 + [1]
    await append(writer, subject="second")
    for c in idlers:
        await c.read_until(rb"^\* 2 EXISTS\r\n")
    for c in idlers:
        c.send("DONE\r\n")
        assert b"i OK" in await c.read_until(rb"^i .*\r\n")


async def test_changes_during_a_push_are_not_lost(harness: Harness) -> None:
    a = await idler(harness)
    writer = await harness.connect(("demo", "demo"))
    for i in range(5):  # no waiting in between: signals arrive while a is pushing
        await append(writer, subject=str(i))
    await a.read_until(rb"^\* 5 EXISTS\r\n")
    a.send("done\r\n")  # DONE is case-insensitive
    assert b"i OK" in await a.read_until(rb"^i .*\r\n")


async def test_anything_but_done_is_bad_and_the_session_goes_on(harness: Harness) -> None:
    a = await idler(harness)
    a.send("x NOOP\r\n")
    assert re.search(rb"^i BAD .*\r\n", await a.read_until(rb"^i .*\r\n"), re.M)
    assert b"n OK" in await a.command("n NOOP")


async def test_idle_without_a_selected_mailbox(harness: Harness) -> None:
    a = await harness.connect(("demo", "demo"))
    a.send("i IDLE\r\n")
    await a.read_until(rb"^\+ .*\r\n")
    a.send("DONE\r\n")
    assert b"i OK" in await a.read_until(rb"^i .*\r\n")


async def test_autologout_ends_an_idle_that_hears_nothing(harness: Harness) -> None:
    harness.ctx.config = replace(harness.ctx.config, timeouts=Timeouts(autologout=0.3))
    a = await idler(harness)
    out = await a.read_until(rb"^\* BYE .*\r\n", timeout=10)
    assert b"Autologout" in out


# --- the shared poll ------------------------------------------------------------------


class Gate:
    """A mailbox whose poll waits until the test opens it, counting the polls."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.polls = 0
        self.fail = False

    async def poll(self, since: int, max_uid: int, claim: bool) -> Changes:
        self.polls += 1
        await self.open.wait()
        if self.fail:
            raise OSError("disk on fire")
        return Changes(
            highestmodseq=2, new=(), flags=(), expunged=(), recent=frozenset({1}),
            keywords=frozenset(), uidnext=2,
        )


class Sub:
    identity = ("test", "u", "INBOX")

    def generation(self) -> int:
        return 1


def views(gate: Gate, n: int) -> list[SelectedView]:
    """``n`` sessions of one process (one SharedPolls) with the mailbox selected."""
    result = SelectResult("INBOX", 7, 1, 1, [], frozenset(), None, frozenset(), False)
    polls = SharedPolls()
    return [SelectedView(gate, result, Sub(), polls)  # type: ignore[arg-type]
            for _ in range(n)]


async def test_one_poll_for_many_sessions_and_recent_for_the_leader() -> None:
    gate = Gate()
    tasks = [asyncio.create_task(v._poll()) for v in views(gate, 5)]
    await asyncio.sleep(0)
    gate.open.set()
    results = await asyncio.gather(*tasks)
    assert gate.polls == 1
    assert [r.recent for r in results] == [frozenset({1})] + [frozenset()] * 4


async def test_a_cancelled_follower_cancels_nobody_else() -> None:
    gate = Gate()
    tasks = [asyncio.create_task(v._poll()) for v in views(gate, 3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    await asyncio.sleep(0)
    gate.open.set()
    first, second, third = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(second, asyncio.CancelledError)
    assert isinstance(first, Changes) and isinstance(third, Changes)
    assert gate.polls == 1


async def test_a_cancelled_leader_leaves_the_followers_to_poll() -> None:
    gate = Gate()
    tasks = [asyncio.create_task(v._poll()) for v in views(gate, 3)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    for _ in range(3):  # the leader ends, the followers wake: one leads, one joins
        await asyncio.sleep(0)
    gate.open.set()
    leader, *followers = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(leader, asyncio.CancelledError)
    assert all(isinstance(f, Changes) for f in followers)
    assert gate.polls == 2  # one follower took over, the other joined it
    assert sorted(len(f.recent) for f in followers) == [0, 1]  # type: ignore[union-attr]


async def test_a_failed_poll_fails_every_follower() -> None:
    gate = Gate()
    gate.fail = True
    tasks = [asyncio.create_task(v._poll()) for v in views(gate, 3)]
    await asyncio.sleep(0)
    gate.open.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert gate.polls == 1
