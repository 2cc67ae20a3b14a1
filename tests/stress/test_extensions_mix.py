"""The consistency checker with the issue 7 extensions in its random mix (acceptance 3):
MOVE and UID MOVE (RFC 6851), UID EXPUNGE (RFC 4315) and CONDSTORE STOREs with
UNCHANGEDSINCE (RFC 7162 section 3.1.3), next to everything :class:`RandomClient` does.

Besides fitting the model, each new operation checks its own promise: a moved or
UID-EXPUNGEd \\Deleted message is gone from this client's view when the command ends,
and a STORE whose UNCHANGEDSINCE is below every message's MODSEQ changes none of them
(all are reported in ``[MODIFIED ...]``).
"""

from __future__ import annotations

import os
import random

from serverutil import ServerHandle
from stress.client import RandomClient, run_stress
from stress.conftest import STRESS_SECONDS
from stress.model import fetch_items

CLIENTS = 16


def _uids(text: str) -> set[int]:
    """A UID set without ``*`` (``3,5:7``) as numbers."""
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.update(range(min(a, b), max(a, b) + 1))
    return out


class ExtendedClient(RandomClient):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.operations.update({
            "move": (2, self.op_move),
            "uid_move": (2, self.op_uid_move),
            "uid_expunge": (3, self.op_uid_expunge),
            "store_unchanged": (6, self.op_store_unchangedsince),
        })
        self.conditional = {"ok": 0, "failed": 0}

    def _pick_uids(self, most: int) -> list[int]:
        known = self.known()
        if not known:
            return []
        picked = self.rng.sample(known, min(len(known), self.rng.randint(1, most)))
        return sorted(uid for _, uid in picked)

    async def _still_there(self, uids: list[int] | set[int]) -> list[int]:
        """Those of ``uids`` still in the view that a UID FETCH still returns. (A view
        may lag behind another session's expunge; a UID FETCH omits expunged messages.)"""
        left = sorted(u for u in uids if self.model.msn_of(u) is not None)
        if not left:
            return []
        untagged, _ = await self.command(f"UID FETCH {','.join(map(str, left))} (UID)")
        found = []
        for resp in untagged:
            if len(resp.tokens) > 2 and str(resp.tokens[1]).upper() == "FETCH":
                uid = int(str(fetch_items(resp.tokens[2])["UID"]))
                if uid in left:
                    found.append(uid)
        return found

    async def _gone(self, uids: list[int], what: str) -> None:
        left = await self._still_there(uids)
        if left:
            raise self.model.fail(f"{what}: UIDs {left} still exist afterwards")

    async def op_move(self) -> None:
        rng = self.msn_range()
        if rng is not None:
            await self.command(f'MOVE {rng} "{self.other}"', allow_no=True)

    async def op_uid_move(self) -> None:
        uids = self._pick_uids(3)
        if uids:
            await self.command(f'UID MOVE {",".join(map(str, uids))} "{self.other}"')
            await self._gone(uids, "UID MOVE")

    async def op_uid_expunge(self) -> None:
        """RFC 4315 section 2.1: only the \\Deleted messages among the UIDs go."""
        uids = self._pick_uids(3)
        if not uids:
            return
        text = ",".join(map(str, uids))
        await self.command(f"UID STORE {text} +FLAGS.SILENT (\\Deleted)")
        await self.command(f"UID EXPUNGE {text}")
        await self._gone(uids, "UID EXPUNGE")

    async def op_store_unchangedsince(self) -> None:
        """Reads the MODSEQs, then a conditional STORE of our keyword: at the highest
        MODSEQ read (others may still change a message first) or below the lowest (then
        every message that still exists must fail)."""
        uids = self._pick_uids(4)
        if not uids:
            return
        text = ",".join(map(str, uids))
        untagged, _ = await self.command(f"UID FETCH {text} (MODSEQ)")
        modseqs = {}
        for resp in untagged:
            if len(resp.tokens) > 2 and str(resp.tokens[1]).upper() == "FETCH":
                items = fetch_items(resp.tokens[2])
                if "MODSEQ" in items and "UID" in items:
                    modseqs[int(str(items["UID"]))] = int(str(items["MODSEQ"][0]))  # type: ignore[index]
        if not modseqs:
            return
        below = min(modseqs.values()) > 1 and self.rng.random() < 0.3
        since = min(modseqs.values()) - 1 if below else max(modseqs.values())
        on = self.rng.random() < 0.5
        before = {u: self.model.mine.pop(u, None) for u in uids}  # either value fits meanwhile
        sign = "+" if on else "-"
        _, tagged = await self.command(
            f"UID STORE {text} (UNCHANGEDSINCE {since}) {sign}FLAGS ({self.keyword})")
        code = tagged.code() or ""
        failed = _uids(code.split(" ", 1)[1]) if code.upper().startswith("MODIFIED ") else set()
        present = {u for u in uids if self.model.msn_of(u) is not None}
        for uid in present:
            if uid not in failed:
                self.model.stored([uid], on)
            elif before[uid] is not None:
                self.model.stored([uid], bool(before[uid]))
            self.conditional["failed" if uid in failed else "ok"] += 1
        if below:
            stored = await self._still_there((present & set(modseqs)) - failed)
            if stored:
                raise self.model.fail(f"UNCHANGEDSINCE {since} is below every MODSEQ "
                                      f"{modseqs}, yet {stored} were not reported MODIFIED")


async def test_extension_mix_stays_consistent(stress_server: ServerHandle) -> None:
    seed = int(os.environ.get("PYIMAPD_STRESS_SEED", random.randrange(1 << 30)))
    team = await run_stress(
        stress_server.host, stress_server.port, "demo", "demo", CLIENTS, STRESS_SECONDS, seed,
        client_class=ExtendedClient,
    )
    commands = sum(c.stats.commands for c in team)
    ops: dict[str, int] = {}
    for c in team:
        for name, n in c.stats.by_op.items():
            ops[name] = ops.get(name, 0) + n
    expunges = sum(c.model.counts.get("expunge", 0) for c in team)
    print(f"seed {seed}: {commands} commands, {expunges} EXPUNGEs seen, ops {ops}")
    assert commands > CLIENTS * 20
    for name in ("move", "uid_move", "uid_expunge", "store_unchanged"):
        assert ops.get(name, 0) > 5, (name, ops)
    assert expunges > 0
    assert all(sum(c.conditional[k] for c in team) > 0 for k in ("ok", "failed")), ops
