"""QRESYNC resynchronisation against a model (issue 7, acceptance 4).

Client A selects INBOX with QRESYNC enabled, caches every UID's flags and the
HIGHESTMODSEQ, and logs out. Client B then makes random changes: flag stores, UID
EXPUNGE, MOVE and APPEND, while a model tracks the mailbox and which messages changed.
A comes back with ``SELECT INBOX (QRESYNC (uidvalidity modseq known-uids))`` and must get
exactly the VANISHED (EARLIER) UIDs and the FETCH responses needed (RFC 7162 section
3.2.5.1): no more, no less, and its cache then equals the model.
"""

from __future__ import annotations

import random
import re

import pytest

from harness import Client, Harness

FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "$Label1", "$Label2"]
_FETCH = re.compile(rb"^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)\r$", re.M)


async def append(c: Client, n: int) -> None:
    data = f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()
    c.send(f"AP APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    assert b"AP OK" in await c.read_until(rb"^AP .*\r\n")


def flag_set(text: bytes) -> frozenset[str]:
    return frozenset(f for f in text.decode().split() if f != "\\Recent")


async def snapshot(c: Client) -> dict[int, frozenset[str]]:
    out = await c.command("S UID FETCH 1:* (FLAGS)")
    pattern = re.compile(rb"^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)", re.M)
    return {int(m.group(1)): flag_set(m.group(2)) for m in pattern.finditer(out)}


async def mutate(c: Client, rng: random.Random, model: dict[int, frozenset[str]],
                 touched: set[int], removed: set[int]) -> None:
    """One random change by client B, mirrored in the model."""
    uids = sorted(model)
    action = rng.choice(["store", "store", "store", "expunge", "move", "append"])
    if action == "append" or not uids:
        await append(c, rng.randrange(10**6))
        model.update(await snapshot(c))  # learns the new UID
        return
    uid = rng.choice(uids)
    if action == "store":
        flag, mode = rng.choice(FLAGS), rng.choice("+-")
        out = await c.command(f"T UID STORE {uid} {mode}FLAGS.SILENT ({flag})")
        assert b"T OK" in out, out
        after = model[uid] | {flag} if mode == "+" else model[uid] - {flag}
        if after != model[uid]:
            touched.add(uid)
        model[uid] = after
    elif action == "expunge":
        assert b"D OK" in await c.command(f"D UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        assert b"E OK" in await c.command(f"E UID EXPUNGE {uid}")
        del model[uid]
        removed.add(uid)
    else:
        assert b"M OK" in await c.command(f"M UID MOVE {uid} Saved")
        del model[uid]
        removed.add(uid)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_qresync_resync_matches_model(harness: Harness, seed: int) -> None:
    rng = random.Random(seed)
    b = await harness.connect(("demo", "demo"))
    assert b"OK" in await b.command("C CREATE Saved")
    for n in range(12):
        await append(b, n)
    await b.command("B0 SELECT INBOX")
    for uid in range(1, 13):
        flags = " ".join(rng.sample(FLAGS, rng.randrange(3)))
        await b.command(f"B1 UID STORE {uid} FLAGS ({flags})")

    a = await harness.connect(("demo", "demo"))
    await a.command("A1 ENABLE QRESYNC")
    out = await a.command("A2 SELECT INBOX")
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", out).group(1))  # type: ignore[union-attr]
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", out).group(1))  # type: ignore[union-attr]
    cache = await snapshot(a)
    await a.command("A3 LOGOUT")

    model = dict(cache)
    touched: set[int] = set()
    removed: set[int] = set()
    for _ in range(40):
        await mutate(b, rng, model, touched, removed)

    a = await harness.connect(("demo", "demo"))
    await a.command("A4 ENABLE QRESYNC")
    known = ",".join(str(u) for u in sorted(cache))
    out = await a.command(f"A5 SELECT INBOX (QRESYNC ({uidvalidity} {modseq} {known}))")
    assert b"A5 OK" in out, out
    vanished: set[int] = set()
    for m in re.finditer(rb"^\* VANISHED \(EARLIER\) (\S+)\r$", out, re.M):
        for part in m.group(1).decode().split(","):
            lo, _, hi = part.partition(":")
            vanished.update(range(int(lo), int(hi or lo) + 1))
    fetched = {int(m.group(2)): flag_set(m.group(3)) for m in _FETCH.finditer(out)}
    assert vanished == removed & set(cache)
    assert set(fetched) == (touched & set(cache)) - removed
    for uid in vanished:
        del cache[uid]
    cache.update(fetched)
    assert cache == {u: f for u, f in model.items() if u in cache}
    exists = int(re.search(rb"^\* (\d+) EXISTS", out, re.M).group(1))  # type: ignore[union-attr]
    assert exists == len(model)
