"""Two ``pyimapd serve`` nodes on one PostgreSQL database (issue 9, acceptance 2).

Clients on both nodes run the consistency checker of tests/stress against the same
mailboxes, and IDLE latency across nodes is measured: the clock starts when a client on
node A sends its STORE (so it includes the commit, the NOTIFY and node B's poll) and
stops when an IDLE client on node B reads the unsolicited FETCH.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverutil import DEFAULT_USERS, ServerHandle, postgres_store, register_server, start_server
from stress.client import RandomClient, run_stress
from stress.wire import Connection

SAMPLES = 60
IDLERS = 3
P99_LIMIT = 0.100
STRESS_SECONDS = float(os.environ.get("PYIMAPD_STRESS_SECONDS", "10"))
CLIENTS = int(os.environ.get("PYIMAPD_STRESS_CLIENTS", "16"))


@pytest.fixture
def two_nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ServerHandle]]:
    url = postgres_store(DEFAULT_USERS)
    nodes: list[ServerHandle] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            handle = start_server(tmp_path / name, DEFAULT_USERS, store=url)
            register_server(request.node, handle)
            nodes.append(handle)
        yield nodes
    finally:
        for handle in nodes:
            handle.stop()


async def _logged_in(handle: ServerHandle, mailbox: str = "INBOX") -> Connection:
    conn = await Connection.open(handle.host, handle.port)
    for command in ("LOGIN demo demo", f"SELECT {mailbox}"):
        _, tagged = await conn.command(command)
        assert tagged.status() == "OK", tagged.raw
    return conn


async def test_idle_latency_across_nodes(two_nodes: list[ServerHandle]) -> None:
    a, b = two_nodes
    writer = await _logged_in(a)
    _, tagged = await writer.command("APPEND INBOX ()", literal=b"Subject: x\r\n\r\nbody\r\n")
    assert tagged.status() == "OK"
    await writer.command("NOOP")
    idlers = [await _logged_in(b) for _ in range(IDLERS)]
    for conn in idlers:
        conn.send(b"i IDLE\r\n")
        assert (await conn.read_response()).tag == "+"
    latencies: list[float] = []
    for n in range(SAMPLES):
        sign = "+" if n % 2 == 0 else "-"
        start = time.monotonic()
        stored = asyncio.ensure_future(writer.command(f"STORE 1 {sign}FLAGS (\\Flagged)"))
        for conn in idlers:
            resp = await conn.read_response(timeout=5)
            assert b"FETCH" in resp.raw and b"FLAGS" in resp.raw, resp.raw
            latencies.append(time.monotonic() - start)
        _, tagged = await stored
        assert tagged.status() == "OK", tagged.raw
    # An APPEND and an EXPUNGE on node A reach the IDLE sessions of node B too.
    _, tagged = await writer.command("APPEND INBOX (\\Deleted)", literal=b"S: y\r\n\r\nz\r\n")
    assert tagged.status() == "OK"
    for conn in idlers:
        await conn.expect(b"* 2 EXISTS")
    _, tagged = await writer.command("EXPUNGE")
    assert tagged.status() == "OK"
    for conn in idlers:
        await conn.expect(b"* 2 EXPUNGE")
        conn.send(b"DONE\r\n")
        assert (await conn.read_response()).status() == "OK"
        await conn.close()
    await writer.close()
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"IDLE latency across nodes: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms "
        f"({len(latencies)} samples)"
    )
    assert p99 < P99_LIMIT, f"p99 {p99 * 1000:.1f} ms across nodes"


async def test_update_contexts_across_nodes(two_nodes: list[ServerHandle]) -> None:
    """RFC 5267 section 4.3: a context on node B hears of node A's changes (a flag
    change, new mail, an expunge) while idling, from its own poll of the store."""
    a, b = two_nodes
    writer = await _logged_in(a, "Trash")
    for flags, body in (("", b"bbb"), ("\\Flagged", b"b")):  # sizes 13 and 11
        _, tagged = await writer.command(f"APPEND Trash ({flags})",
                                         literal=b"S: x\r\n\r\n" + body + b"\r\n")
        assert tagged.status() == "OK", tagged.raw
    await writer.command("NOOP")
    watcher = await _logged_in(b, "Trash")
    untagged, tagged = await watcher.command("UID SEARCH RETURN (UPDATE ALL) FLAGGED")
    assert tagged.status() == "OK", tagged.raw
    ctag = tagged.tag
    assert [r.raw for r in untagged] == [f'* ESEARCH (TAG "{ctag}") UID ALL 2\r\n'.encode()]
    untagged, tagged = await watcher.command("SORT RETURN (UPDATE) (SIZE) UTF-8 ALL")
    stag = tagged.tag
    assert [r.raw for r in untagged] == [f'* ESEARCH (TAG "{stag}") ALL 2,1\r\n'.encode()]
    watcher.send(b"i IDLE\r\n")
    assert (await watcher.read_response()).tag == "+"
    await writer.command("STORE 1 +FLAGS (\\Flagged)")
    await watcher.expect(f'* ESEARCH (TAG "{ctag}") UID ADDTO (0 1)'.encode())
    _, tagged = await writer.command("APPEND Trash (\\Flagged)", literal=b"S: y\r\n\r\nzz\r\n")
    assert tagged.status() == "OK", tagged.raw  # size 12: between the two
    await watcher.expect(b"* 3 EXISTS")
    await watcher.expect(f'* ESEARCH (TAG "{ctag}") UID ADDTO (0 3)'.encode())
    await watcher.expect(f'* ESEARCH (TAG "{stag}") ADDTO (2 3)'.encode())
    await writer.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
    await writer.command("EXPUNGE")
    await watcher.expect(f'* ESEARCH (TAG "{ctag}") UID REMOVEFROM (0 2)'.encode())
    await watcher.expect(f'* ESEARCH (TAG "{stag}") REMOVEFROM (1 2)'.encode())
    await watcher.expect(b"* 2 EXPUNGE")
    watcher.send(b"DONE\r\n")
    assert (await watcher.read_response()).status() == "OK"
    await watcher.close()
    await writer.close()


async def test_notify_across_nodes(two_nodes: list[ServerHandle]) -> None:
    """RFC 5465: a NOTIFY registration on node B hears, between commands, of node A's
    new mail in the selected mailbox and in another, a flag change elsewhere, and of a
    mailbox created and renamed there, through the PostgreSQL change feed."""
    a, b = two_nodes
    writer = await _logged_in(a, "Trash")
    watcher = await _logged_in(b, "INBOX")
    _, tagged = await watcher.command(
        "NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge)) (PERSONAL (MessageNew"
        " MessageExpunge FlagChange MailboxName))")
    assert tagged.status() == "OK", tagged.raw
    _, tagged = await writer.command("APPEND Trash", literal=b"S: x\r\n\r\nb\r\n")
    assert tagged.status() == "OK", tagged.raw
    await watcher.expect(b"* STATUS Trash (MESSAGES 1 UIDNEXT 2 UNSEEN 1)")
    _, tagged = await writer.command("APPEND INBOX", literal=b"S: y\r\n\r\nb\r\n")
    assert tagged.status() == "OK", tagged.raw
    await watcher.expect(b"* 1 EXISTS")
    await watcher.expect(b"* 1 FETCH (UID 1)")
    await writer.command("STORE 1 +FLAGS (\\Seen)")
    await watcher.expect(b"* STATUS Trash (UNSEEN 0)")
    await writer.command("CREATE Family")
    await watcher.expect(b'* LIST (\\HasNoChildren) "/" Family')
    await writer.command("RENAME Family Bills")
    await watcher.expect(b'* LIST (\\HasNoChildren) "/" Bills ("OLDNAME" (Family))')
    _, tagged = await writer.command("APPEND Bills", literal=b"S: z\r\n\r\nb\r\n")
    await watcher.expect(b"* STATUS Bills (MESSAGES 1 UIDNEXT 2 UNSEEN 1)")
    await watcher.close()
    await writer.close()


def _client_on(ports: list[int]) -> type[RandomClient]:
    """RandomClients spread over the nodes: clients ``2k`` and ``2k+1`` (one per mailbox)
    go to node ``k mod len(ports)``, so every mailbox has clients on every node."""

    class NodeClient(RandomClient):
        def __init__(self, index: int, host: str, port: int, *args: object) -> None:
            super().__init__(index, host, ports[(index // 2) % len(ports)], *args)  # type: ignore[arg-type]

    return NodeClient


@pytest.mark.parametrize("load", ["two-mailboxes", "one-mailbox"])
async def test_consistency_checker_on_two_nodes(two_nodes: list[ServerHandle], load: str) -> None:
    """``one-mailbox`` is the stress tester's load (every client on one shared mailbox),
    with its clients split over the two nodes: the MODSEQ regression of issue 15."""
    a, b = two_nodes
    seed = int(os.environ.get("PYIMAPD_STRESS_SEED", random.randrange(1 << 30)))
    team = await run_stress(
        a.host, a.port, "demo", "demo", CLIENTS, STRESS_SECONDS, seed,
        client_class=_client_on([a.port, b.port]), one_mailbox=load == "one-mailbox",
    )
    assert {c.port for c in team} == {a.port, b.port}
    commands = sum(c.stats.commands for c in team)
    expunges = sum(c.stats.counts.get("expunge", 0) for c in team)
    print(f"seed {seed}: {commands} commands on two nodes, {expunges} EXPUNGEs seen")
    assert commands > CLIENTS * 10 and expunges > 0
