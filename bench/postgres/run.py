"""pyimapd on SQLite, pyimapd on PostgreSQL and Dovecot, side by side: a large mailbox
(SELECT, FETCH FLAGS, SEARCH) and a client mix (concurrent clients doing APPEND, FETCH,
STORE, SEARCH, NOOP).
Run: ``.venv/bin/python -m bench.postgres [--messages 20000] [--clients 16 --seconds 20]``.

How this works: a private PostgreSQL cluster (tests/pgutil.py, fsync on, so commits cost
what they cost in production) and a SQLite data dir get the same seeded messages through
the store API (bench/search's generator), and one ``pyimapd serve`` per store (default
workers) answers on loopback. A private Dovecot (tests/differential/dovecot.py, PEERS.md's
fast mode) gets the same messages as maildir files written before it starts
(bench/search's ``load_maildir``: flags in the ``:2,`` suffix, keywords in
``dovecot-keywords``, the internal date as mtime); it indexes them at the first SELECT.
Every server gets an untimed warm-up (SELECT, SEARCH ALL), then the same commands, one
server at a time, in the same run. For the mix each client runs on its own connection
and mailbox and picks commands at random with fixed weights (the same seed per client
on every server); latency is per command, wall time from sending to the tagged OK. The
SEARCH hit counts are compared across the three servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from bench.search.run import PASSWORD, QUERIES, USER, load_maildir, messages  # noqa: E402

from differential.dovecot import Dovecot  # noqa: E402
from differential.imapwire import Conn  # noqa: E402
from pgutil import new_cluster  # noqa: E402
from serverutil import run_cli, start_server  # noqa: E402
from stress.wire import Connection  # noqa: E402

MIX = {"APPEND": 3, "FETCH": 6, "STORE": 4, "SEARCH": 2, "NOOP": 2}
BODY = b"Subject: mix\r\nFrom: a@example.org\r\n\r\n" + b"hello world " * 200 + b"\r\n"
SERVERS = ("sqlite", "postgres", "dovecot")
LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL", "dovecot": "Dovecot"}


class Endpoint(Protocol):
    host: str
    port: int


class Address:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port


async def load(backend: object, msgs: list) -> float:  # type: ignore[type-arg]
    from pyimapd.delivery import prepare_bytes

    await backend.start()  # type: ignore[attr-defined]
    store = await backend.open(USER)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for data, flags, when in msgs:
        spool, prepared = await prepare_bytes(data)
        try:
            await store.append("INBOX", prepared, frozenset(flags.split()), when)
        finally:
            spool.close()
    took = time.perf_counter() - t0
    await backend.close()  # type: ignore[attr-defined]
    return took


def warm_up(server: Endpoint) -> float:
    """Untimed for the tables: the first SELECT (Dovecot builds its index here) and a
    SEARCH ALL, so that no server pays a first-use cost inside a timed command."""
    t0 = time.perf_counter()
    c = Conn(server.host, server.port)
    c.login(USER, PASSWORD)
    c.ok("SELECT INBOX")
    c.ok("SEARCH ALL")
    c.close()
    return time.perf_counter() - t0


def large_mailbox(server: Endpoint, repeat: int) -> dict[str, tuple[float, int]]:
    """Median wall time of each command over ``repeat`` runs, and its SEARCH hits."""
    c = Conn(server.host, server.port)
    c.login(USER, PASSWORD)
    out: dict[str, tuple[float, int]] = {}
    for label, command in [("SELECT INBOX", "SELECT INBOX"),
                           ("FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)"),
                           *((f"SEARCH {q}", f"SEARCH {q}") for q in QUERIES)]:
        times, hits = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            reply = c.ok(command)
            times.append(time.perf_counter() - t0)
            hits = len(reply.search()) if command.startswith("SEARCH") else 0
        out[label] = (statistics.median(times), hits)
    c.close()
    return out


async def mix_client(server: Endpoint, i: int, deadline: float,
                     lat: dict[str, list[float]]) -> None:
    rng = random.Random(i)
    conn = await Connection.open(server.host, server.port)
    for command in (f"LOGIN {USER} {PASSWORD}", f"CREATE mix{i}", f"SELECT mix{i}"):
        await conn.command(command)
    await conn.command(f"APPEND mix{i} ()", literal=BODY)
    count = 1
    names, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        op = rng.choices(names, weights)[0]
        n = rng.randint(1, count)
        text = {"APPEND": f"APPEND mix{i} ()", "FETCH": f"FETCH {n} (FLAGS BODY.PEEK[])",
                "STORE": f"STORE {n} +FLAGS (\\Seen)", "SEARCH": "SEARCH UNSEEN BODY world",
                "NOOP": "NOOP"}[op]
        t0 = time.perf_counter()
        _, tagged = await conn.command(text, literal=BODY if op == "APPEND" else None)
        lat[op].append(time.perf_counter() - t0)
        assert tagged.status() == "OK", tagged.raw
        count += op == "APPEND"
    await conn.close()


async def client_mix(server: Endpoint, clients: int, seconds: float) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {op: [] for op in MIX}
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(mix_client(server, i, deadline, lat) for i in range(clients)))
    return lat


def measure(server: Endpoint, args: argparse.Namespace) -> dict[str, object]:
    warm = warm_up(server)
    return {"warm": warm, "large": large_mailbox(server, args.repeat),
            "mix": asyncio.run(client_mix(server, args.clients, args.seconds))}


def run_pyimapd(store: str, url: str, tmp: Path, msgs: list,  # type: ignore[type-arg]
                args: argparse.Namespace) -> dict[str, object]:
    from pyimapd.storage.postgres import PostgresBackend
    from pyimapd.storage.sqlite import SqliteBackend

    base = tmp / store
    base.mkdir()
    server = start_server(base, {USER: PASSWORD}, store="sqlite" if store == "sqlite" else url)
    server.stop()
    backend = SqliteBackend(server.data_dir) if store == "sqlite" else PostgresBackend(url)
    took = asyncio.run(load(backend, msgs))
    server.start()
    try:
        return {"load": took, **measure(server, args)}
    finally:
        server.stop()


def run_dovecot(msgs: list, args: argparse.Namespace) -> dict[str, object]:  # type: ignore[type-arg]
    dovecot = Dovecot({USER: PASSWORD}, fast=True)
    t0 = time.perf_counter()
    load_maildir(dovecot.base / "mail" / USER, msgs)
    took = time.perf_counter() - t0
    with dovecot:
        result = measure(Address("127.0.0.1", dovecot.port), args)
    return {"load": took, **result}


def machine() -> str:
    version = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, Dovecot {version.stdout.split()[0]}, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    msgs = messages(args.messages, 42)
    tmp = Path(tempfile.mkdtemp(prefix="pyimapd-bench-pg-"))
    cluster = new_cluster(fsync=True)
    results: dict[str, dict[str, object]] = {}
    loads: list[tuple[float, float, float]] = [os.getloadavg()]
    try:
        url = cluster.dsn + "?pool_size=10"
        run_cli("db", "migrate", "--store", url)
        run_cli("user", "add", USER, "--password-stdin", "--store", url, stdin=PASSWORD)
        runs: dict[str, Callable[[], dict[str, object]]] = {
            "sqlite": lambda: run_pyimapd("sqlite", url, tmp, msgs, args),
            "postgres": lambda: run_pyimapd("postgres", url, tmp, msgs, args),
            "dovecot": lambda: run_dovecot(msgs, args),
        }
        for name in SERVERS:
            results[name] = runs[name]()
            loads.append(os.getloadavg())
            print(f"{name} done", file=sys.stderr)
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args, loads)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def report(results: dict[str, dict[str, object]], args: argparse.Namespace,
           loads: list[tuple[float, float, float]]) -> None:
    """Markdown tables, ready for docs/performance.md."""
    print(f"\n{machine()}")
    print("load average (1 min) before and after each server: "
          + ", ".join(f"{one:.1f}" for one, _, _ in loads))
    print(f"`{' '.join(['.venv/bin/python -m bench.postgres', *sys.argv[1:]])}`\n")
    heads = [LABELS[s] + " ms" for s in SERVERS]
    print(_row([f"large mailbox, {args.messages:,} messages", *heads]))
    print(_row(["---"] * (len(SERVERS) + 1)))
    print(_row(["load (s): store API; Dovecot: maildir files",
                *(f"{results[s]['load']:.1f}" for s in SERVERS)]))
    print(_row(["untimed warm-up (s): SELECT + SEARCH ALL",
                *(f"{results[s]['warm']:.1f}" for s in SERVERS)]))
    mismatches = []
    for label in results["sqlite"]["large"]:  # type: ignore[attr-defined]
        cells = [results[s]["large"][label] for s in SERVERS]  # type: ignore[index]
        print(_row([label, *(f"{t * 1000:.1f}" for t, _ in cells)]))
        if len({hits for _, hits in cells}) > 1:
            mismatches.append(f"{label}: " + ", ".join(
                f"{s} {hits}" for s, (_, hits) in zip(SERVERS, cells, strict=True)))
    for line in mismatches:
        print(f"\nSEARCH hits differ: {line}")
    columns = [f"{LABELS[s]} {col}" for s in SERVERS for col in ("ops/s", "p50 ms", "p99 ms")]
    print("\n" + _row([f"client mix, {args.clients} clients, {args.seconds:.0f} s", *columns]))
    print(_row(["---"] * (3 * len(SERVERS) + 1)))
    for op in MIX:
        cells = []
        for s in SERVERS:
            lat = results[s]["mix"][op]  # type: ignore[index]
            cells += [f"{len(lat) / args.seconds:.0f}", f"{pct(lat, .5):.1f}",
                      f"{pct(lat, .99):.1f}"]
        print(_row([op, *cells]))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


if __name__ == "__main__":
    main()
