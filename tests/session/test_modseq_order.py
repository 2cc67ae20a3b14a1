"""MODSEQ never goes backwards for a UID within a session (RFC 7162 section 3.1; issue 15).

The regression the stress tester found, replayed step by step: session A's poll reads
the mailbox, then another session changes a message again, and session B reports the
newer state (a FETCH reads the store as it is) before the change's signal has reached
this process. B's next refresh must not take A's older poll result, which would send
the message again with the MODSEQ it had before."""

from __future__ import annotations

import asyncio
import re

import pytest

from pyimapd.session.view import SelectedView, SharedPolls
from pyimapd.storage.interface import Changes, FlagUpdate, SelectResult


class OneMessage:
    """A mailbox of one message. A poll reads when it starts (its snapshot) and, while
    ``hold`` is set, answers only when the test opens the gate."""

    def __init__(self) -> None:
        self.modseq = 4
        self.flags: frozenset[str] = frozenset()
        self.gate = asyncio.Event()
        self.hold = True
        self.polls = 0

    def change(self, flags: set[str]) -> None:
        self.modseq += 1
        self.flags = frozenset(flags)

    async def poll(self, since: int, max_uid: int, claim: bool) -> Changes:
        self.polls += 1
        modseq, flags = self.modseq, self.flags
        if self.hold:
            await self.gate.wait()
        updates = (FlagUpdate(1, flags, modseq),) if modseq > since else ()
        return Changes(highestmodseq=modseq, new=(), flags=updates, expunged=(),
                       recent=frozenset(), keywords=frozenset(), uidnext=2)


class Signalled:
    """Every wait finds a signal; the generation stays put (the second change's signal
    is still on its way: another worker's datagram, or a commit not yet announced)."""

    identity = ("test", "demo", "INBOX")

    def generation(self) -> int:
        return 1

    async def wait(self, timeout: float | None = None) -> bool:
        return True


def modseqs(lines: list[bytes]) -> list[int]:
    return [int(m) for line in lines for m in re.findall(rb"MODSEQ \((\d+)\)", line)]


async def test_a_session_that_reported_a_newer_modseq_does_not_join_an_older_poll() -> None:
    store = OneMessage()
    result = SelectResult("INBOX", 7, 2, 4, [1], frozenset(), None, frozenset(), False)
    polls = SharedPolls()
    a, b = (SelectedView(store, result, Signalled(), polls)  # type: ignore[arg-type]
            for _ in range(2))
    a.condstore = b.condstore = True

    store.change({"\\Flagged"})                       # MODSEQ 5, signalled to both
    first = asyncio.create_task(a.refresh(True))      # A's poll reads MODSEQ 5 and waits
    await asyncio.sleep(0)
    assert store.polls == 1
    store.change({"\\Flagged", "\\Seen"})             # MODSEQ 6, signal not here yet
    reported = store.modseq                           # B's FETCH reports MODSEQ 6 ...
    b.note_read()                                     # ... as the FETCH handler notes
    store.hold = False                                # polls from now answer at once
    second = asyncio.create_task(b.refresh(True))
    await asyncio.sleep(0)
    store.gate.set()
    out_a, out_b = await asyncio.gather(first, second)

    assert modseqs(out_a) == [5]
    assert all(m >= reported for m in modseqs(out_b)), out_b
    assert store.polls == 2  # B polled for itself


async def test_sessions_that_read_nothing_still_share_one_poll() -> None:
    """The fan-out case stays one query: idlers woken together join the first poll."""
    store = OneMessage()
    result = SelectResult("INBOX", 7, 2, 4, [1], frozenset(), None, frozenset(), False)
    polls = SharedPolls()
    views = [SelectedView(store, result, Signalled(), polls)  # type: ignore[arg-type]
             for _ in range(5)]
    store.change({"\\Flagged"})
    tasks = [asyncio.create_task(v.refresh(True)) for v in views]
    await asyncio.sleep(0)
    store.gate.set()
    outs = await asyncio.gather(*tasks)
    assert store.polls == 1
    assert all(len(out) == 1 for out in outs)


@pytest.mark.parametrize("uids", [[], [1, 2, 3, 4, 5], [3, 4, 5, 6], [2, 5, 9, 10, 40]])
def test_msns_of_many_is_msn_of_each(uids: list[int]) -> None:
    """The batch numbering SEARCH uses, with and without gaps in the mailbox's UIDs."""
    result = SelectResult("INBOX", 7, 41, 4, uids, frozenset(), None, frozenset(), False)
    view = SelectedView(OneMessage(), result, Signalled(), SharedPolls())  # type: ignore[arg-type]
    asked = list(range(0, 45))
    assert view.msns_of(asked) == [view.msn_of(u) for u in asked]
