"""pyimapd on SQLite and on PostgreSQL, side by side: a large mailbox (SELECT, FETCH FLAGS,
SEARCH) and a client mix (concurrent clients doing APPEND, FETCH, STORE, SEARCH, NOOP).
Run: ``.venv/bin/python -m bench.postgres [--messages 20000] [--clients 16 --seconds 20]``.

How this works: a private PostgreSQL cluster (tests/pgutil.py, fsync on, so commits cost
what they cost in production) and a SQLite data dir get the same seeded messages through
the store API (bench/search's generator), then one ``pyimapd serve`` per store answers
the same commands on loopback. For the mix each client runs on its own connection and
mailbox and picks commands at random with fixed weights; latency is per command, wall
time from sending to the tagged OK.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from bench.search.run import PASSWORD, QUERIES, USER, messages  # noqa: E402

from differential.imapwire import Conn  # noqa: E402
from pgutil import new_cluster  # noqa: E402
from serverutil import ServerHandle, run_cli, start_server  # noqa: E402
from stress.wire import Connection  # noqa: E402

MIX = {"APPEND": 3, "FETCH": 6, "STORE": 4, "SEARCH": 2, "NOOP": 2}
BODY = b"Subject: mix\r\nFrom: a@example.org\r\n\r\n" + b"hello world " * 200 + b"\r\n"


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


def large_mailbox(server: ServerHandle, repeat: int) -> dict[str, float]:
    c = Conn(server.host, server.port)
    c.login(USER, PASSWORD)
    out: dict[str, float] = {}
    for label, command in [("SELECT INBOX", "SELECT INBOX"),
                           ("FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)"),
                           *((f"SEARCH {q}", f"SEARCH {q}") for q in QUERIES)]:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            c.ok(command)
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times)
    c.close()
    return out


async def mix_client(server: ServerHandle, i: int, deadline: float,
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


async def client_mix(server: ServerHandle, clients: int, seconds: float) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {op: [] for op in MIX}
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(mix_client(server, i, deadline, lat) for i in range(clients)))
    return lat


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    from pyimapd.storage.postgres import PostgresBackend
    from pyimapd.storage.sqlite import SqliteBackend

    msgs = messages(args.messages, 42)
    tmp = Path(tempfile.mkdtemp(prefix="pyimapd-bench-pg-"))
    cluster = new_cluster(fsync=True)
    users = {USER: PASSWORD}
    results: dict[str, dict[str, object]] = {}
    try:
        url = cluster.dsn + "?pool_size=10"
        run_cli("db", "migrate", "--store", url)
        run_cli("user", "add", USER, "--password-stdin", "--store", url, stdin=PASSWORD)
        for store in ("sqlite", "postgres"):
            base = tmp / store
            base.mkdir()
            server = start_server(base, users, store="sqlite" if store == "sqlite" else url)
            server.stop()
            backend = SqliteBackend(server.data_dir) if store == "sqlite" else PostgresBackend(url)
            took = asyncio.run(load(backend, msgs))
            server.start()
            results[store] = {
                "load": took,
                "large": large_mailbox(server, args.repeat),
                "mix": asyncio.run(client_mix(server, args.clients, args.seconds)),
            }
            server.stop()
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


def report(results: dict[str, dict[str, object]], args: argparse.Namespace) -> None:
    s, p = results["sqlite"], results["postgres"]
    print(f"\nlarge mailbox: {args.messages} messages; load through the store API:"
          f" sqlite {s['load']:.1f}s, postgres {p['load']:.1f}s")
    print(f"{'command':30} {'sqlite ms':>10} {'postgres ms':>12}")
    for label, value in s["large"].items():  # type: ignore[attr-defined]
        print(f"{label:30} {value * 1000:10.1f} {p['large'][label] * 1000:12.1f}")  # type: ignore[index]
    print(f"\nclient mix: {args.clients} clients, {args.seconds:.0f}s")
    print(f"{'command':10} {'sqlite ops/s':>12} {'p50':>7} {'p99':>8}"
          f" {'postgres ops/s':>15} {'p50':>7} {'p99':>8}")
    for op in MIX:
        a, b = s["mix"][op], p["mix"][op]  # type: ignore[index]
        print(f"{op:10} {len(a) / args.seconds:12.0f} {pct(a, .5):7.1f} {pct(a, .99):8.1f}"
              f" {len(b) / args.seconds:15.0f} {pct(b, .5):7.1f} {pct(b, .99):8.1f}")


if __name__ == "__main__":
    main()
