"""The consistency checker (issues 4 and 15): many random clients on the same mailboxes,
every response checked against each client's own model (see stress.model), on one and on
two worker processes. Two loads: every client of one account on one mailbox (the
stress tester's 50 clients on a shared mailbox), and ten accounts with clients of
their own. ``PYIMAPD_STRESS_SECONDS`` and ``PYIMAPD_STRESS_CLIENTS`` scale a run up."""

from __future__ import annotations

import os
import random

import pytest

from serverutil import ServerHandle
from stress.client import run_stress
from stress.conftest import STRESS_SECONDS, STRESS_USERS

CLIENTS = int(os.environ.get("PYIMAPD_STRESS_CLIENTS", "30"))


@pytest.mark.parametrize("load", ["one-mailbox", "ten-users"])
async def test_random_clients_see_a_consistent_mailbox(
    stress_server: ServerHandle, load: str
) -> None:
    seed = int(os.environ.get("PYIMAPD_STRESS_SEED", random.randrange(1 << 30)))
    if load == "one-mailbox":
        team = await run_stress(stress_server.host, stress_server.port, "demo", "demo",
                                CLIENTS, STRESS_SECONDS, seed, one_mailbox=True)
    else:
        team = await run_stress(stress_server.host, stress_server.port, "", "", CLIENTS,
                                STRESS_SECONDS, seed, users=list(STRESS_USERS.items()))
    counts: dict[str, int] = {}
    for c in team:
        for name, n in c.stats.counts.items():
            counts[name] = counts.get(name, 0) + n
    commands = sum(c.stats.commands for c in team)
    print(f"seed {seed}: {commands} commands, checks {counts}")
    # The run must have exercised what it checks, or passing means nothing.
    assert commands > CLIENTS * 15
    assert counts["flags_checked"] > 100 and counts["expunge"] > 0
    assert counts["modseq_checked"] > 100 and counts["keywords_checked"] > 100
    assert counts["recent_checked"] > 0
