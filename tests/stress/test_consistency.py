"""The consistency checker (issue 4): many random clients on the same mailboxes, every
response checked against each client's own model (see stress.model)."""

from __future__ import annotations

import os
import random

from serverutil import ServerHandle
from stress.client import run_stress
from stress.conftest import STRESS_SECONDS

CLIENTS = 24


async def test_random_clients_see_a_consistent_mailbox(stress_server: ServerHandle) -> None:
    seed = int(os.environ.get("PYIMAPD_STRESS_SEED", random.randrange(1 << 30)))
    team = await run_stress(
        stress_server.host, stress_server.port, "demo", "demo", CLIENTS, STRESS_SECONDS, seed
    )
    commands = sum(c.stats.commands for c in team)
    checked = sum(c.stats.counts.get("flags_checked", 0) for c in team)
    expunges = sum(c.stats.counts.get("expunge", 0) for c in team)
    print(f"seed {seed}: {commands} commands, {checked} flag checks, {expunges} EXPUNGEs seen")
    # The run must have exercised what it checks, or passing means nothing.
    assert commands > CLIENTS * 20
    assert checked > 100 and expunges > 0
