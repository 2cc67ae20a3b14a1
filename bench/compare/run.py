"""pyimapd side by side with Dovecot and pymap: ``make bench`` / ``make bench-quick``.

How this works: a seeded data set is generated as Maildir trees (bench/common/dataset.py)
and loaded into the three servers (bench/common/servers.py); while pyimapd's store is
being filled in a subprocess, Dovecot and pymap are started and warmed up (a SELECT of
every mailbox, which makes Dovecot build its indexes and pymap its uid lists). Then, for
each round, each workload (bench/compare/workloads.py) runs against each server in turn
(A B C A B C ...). Around every run the server's process tree is read from /proc: CPU
time before and after, RSS sampled every 0.2 s. The load generator's own CPU time is
measured too; above 90 % of the wall time it was the bottleneck and the line says so.
So is the other servers' CPU time during a run (they should be idle; the line says when
they used more than a tenth of a core); after a timeout the next run waits until the
server that timed out has stopped working on the abandoned commands, or restarts it
on the same data when it has not within 15 s (quick 5).
The medians over rounds are printed one line per figure, with the ratios pyimapd/Dovecot
and pyimapd/pymap, and written to bench/results/ as JSON and a PNG chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.common import dataset, servers
from bench.common.client import Conn, ImapError
from bench.common.proc import cpu_seconds, rss_kib
from bench.compare import report
from bench.compare.workloads import WORKLOADS, Params, Run

RESULTS = servers.ROOT / "bench" / "results"
FULL = dataset.Layout(big_messages=100_000, mix_users=10, mix_messages=200,
                      heavy_messages=200)
QUICK = dataset.Layout(big_messages=10_000, mix_users=10, mix_messages=150,
                       heavy_messages=60)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, rss_kib(pid), threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, rss_kib(self.pid))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settle(server: servers.Server, limit: float) -> float:
    """Waits, at most ``limit`` seconds, until ``server`` uses less than a tenth of a core
    (over 0.25 s); returns its share of a core when it stopped waiting. A server that
    timed out goes on with the commands it was sent, and on a 2-core machine that work
    would be charged to the next server's figures."""
    deadline = time.monotonic() + limit
    while True:
        before = cpu_seconds(server.pid)
        time.sleep(0.25)
        share = (cpu_seconds(server.pid) - before) / 0.25
        if share < 0.1 or time.monotonic() >= deadline:
            return share


def restart(server: servers.Server, share: float, waited: float,
            users: list[str]) -> servers.Server:
    """A server still busy with abandoned work is started again on the same data (its
    later workloads start from a clean slate) or, if it cannot be, left as it is; the
    runs it disturbs say so."""
    if server.relaunch is None:
        print(f"  {server.name} still busy ({share:.0%} of a core) after {waited:.0f} s",
              flush=True)
        return server
    s0 = time.perf_counter()
    server.stop()
    fresh = server.relaunch()
    asyncio.run(warm(fresh, users, dataset.PASSWORD))
    print(f"  {server.name} still busy ({share:.0%} of a core) after {waited:.0f} s: "
          f"restarted and warmed up in {time.perf_counter() - s0:.0f} s", flush=True)
    return fresh


def measure(server: servers.Server, name: str, params: Params, timeout: float,
            others: list[servers.Server]) -> dict:
    sampler = RssSampler(server.pid)
    sampler.start()
    others0 = sum(cpu_seconds(o.pid) for o in others)
    cpu0, gen0, t0 = cpu_seconds(server.pid), time.process_time(), time.perf_counter()
    try:
        run: Run | None = asyncio.run(asyncio.wait_for(WORKLOADS[name](params), timeout))
    except TimeoutError:
        run = None
    except (ImapError, OSError) as exc:  # the server failed: reported, not run again
        sampler.done.set()
        return {"error": str(exc)[:200]}
    wall = time.perf_counter() - t0
    cpu, gen = cpu_seconds(server.pid) - cpu0, time.process_time() - gen0
    others_share = (sum(cpu_seconds(o.pid) for o in others) - others0) / wall
    sampler.done.set()
    sampler.join()
    if run is None:
        return {"timeout_s": timeout}
    figures = {
        "ops_per_s": run.ops / run.wall,
        "p50_ms": percentile(run.latencies, 0.5) * 1000,
        "p99_ms": percentile(run.latencies, 0.99) * 1000,
        "cpu_ms_per_op": cpu / run.ops * 1000,
        "peak_rss_mib": max(sampler.peak, rss_kib(server.pid)) / 1024,
    }
    figures.update(run.extra)
    if name == "large_mailbox":
        for cmd in ("SELECT", "FETCH-FLAGS", "FETCH-HEADERS"):
            key = cmd.lower().replace("-", "_") + "_p50_ms"
            figures[key] = statistics.median(run.by_command[cmd]) * 1000
    return {"figures": figures, "ops": run.ops, "server_cpu_s": cpu,
            "generator_cpu_share": gen / wall, "others_cpu_share": others_share,
            "per_command_p50_ms": {k: statistics.median(v) * 1000
                                   for k, v in run.by_command.items()}}


async def warm(server: servers.Server, users: list[str], password: str) -> None:
    """One SELECT of every INBOX (index and uid-list building is not timed), and a FETCH
    of the flags, except pymap's big mailbox (it takes minutes there)."""
    for user in users:
        c = await Conn.open("127.0.0.1", server.port)
        await c.login(user, password)
        await c.cmd(b"SELECT INBOX")
        if not (server.name == "pymap" and user == dataset.USER_BIG):
            await c.cmd(b"FETCH 1:* (FLAGS)")
        await c.cmd(b"LOGOUT")
        await c.close()


def machine() -> dict[str, object]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"host": platform.node(), "cpu": model, "cores": os.cpu_count(),
            "python": platform.python_version(), "loadavg_start": os.getloadavg(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def layout_of(args: argparse.Namespace) -> dataset.Layout:
    layout = QUICK if args.quick else FULL
    return dataset.Layout(args.big or layout.big_messages, layout.mix_users,
                          layout.mix_messages, layout.heavy_messages)


def prepare(args: argparse.Namespace, work: Path) -> dict[str, servers.Server]:
    layout = layout_of(args)
    t0 = time.perf_counter()
    sizes = dataset.generate(work / "maildirs", layout, args.seed)
    print(f"data set: {layout} -> {sum(sizes.values()) / 1e6:.0f} MB in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    trees = {u: work / "maildirs" / u for u in dataset.users(layout)}
    t0 = time.perf_counter()
    data = work / "pyimapd-data"
    loader = subprocess.Popen(
        [sys.executable, "-m", "bench.common.servers", "load", str(work), dataset.PASSWORD]
        + [f"{u}={p}" for u, p in trees.items()], cwd=servers.ROOT)
    started: dict[str, servers.Server] = {}
    for name, start in (("dovecot", lambda: servers.start_dovecot(trees, dataset.PASSWORD)),
                        ("pymap", lambda: servers.start_pymap(work, trees, dataset.PASSWORD))):
        if name in args.servers:
            s0 = time.perf_counter()
            started[name] = start()
            asyncio.run(warm(started[name], list(trees), dataset.PASSWORD))
            print(f"{name}: started and warmed up in {time.perf_counter() - s0:.0f} s",
                  flush=True)
    if loader.wait() != 0:
        for server in started.values():  # main() never sees them: stop them here
            server.stop()
        raise SystemExit("loading pyimapd failed")
    print(f"pyimapd: store loaded in {time.perf_counter() - t0:.0f} s (in parallel)",
          flush=True)
    s0 = time.perf_counter()
    pyimapd = servers.start_pyimapd(work, data, args.workers)
    asyncio.run(warm(pyimapd, list(trees), dataset.PASSWORD))
    print(f"pyimapd: started and warmed up in {time.perf_counter() - s0:.0f} s", flush=True)
    return {"pyimapd": pyimapd, **started}


def params_for(args: argparse.Namespace, port: int) -> Params:
    layout = QUICK if args.quick else FULL
    base = dict(host="127.0.0.1", port=port, password=dataset.PASSWORD,
                mix_users=[dataset.mix_user(i) for i in range(layout.mix_users)],
                mix_base=layout.mix_messages, big_user=dataset.USER_BIG,
                heavy_user=dataset.USER_HEAVY,
                append_data=dataset.append_messages(args.seed + 1, 64), seed=args.seed)
    if not args.quick:
        base.update(sessions=2)
    else:
        base.update(sessions=1, storm_logins=300, large_repeat=3, fetch_repeat=2,
                    appends=100)
    return Params(**base)  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000-message big mailbox, "
                    "fewer sessions (make bench-quick)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="rounds per workload (default 5, quick 3): a median of five "
                    "steadies the figures that move most from round to round")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--big", type=int, default=0, help="messages in the big mailbox")
    ap.add_argument("--workers", type=int, default=0, help="pyimapd workers (0: per core)")
    ap.add_argument("--servers", default="pyimapd,dovecot,pymap")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--timeout", type=float, default=0,
                    help="per run, seconds (default 60, quick 10); a server that "
                    "times out is not run again on that workload, and the next run "
                    "waits (up to 15 s, quick 5) until it has finished the abandoned work, "
                    "or restarts it")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.servers = args.servers.split(",")
    timeout = args.timeout or (10.0 if args.quick else 60.0)
    args.rounds = args.rounds or (3 if args.quick else 5)
    settle_limit = 5.0 if args.quick else 15.0
    if "dovecot" in args.servers and shutil.which("dovecot") is None:
        raise SystemExit("dovecot is not installed: apt-get install -y dovecot-imapd")
    if "pymap" in args.servers and not (servers.PYMAP_VENV / "bin" / "pymap").exists():
        raise SystemExit(f"pymap is not installed in {servers.PYMAP_VENV} (see Makefile)")
    info = machine()
    t_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="pyimapd-bench-"))
    running: dict[str, servers.Server] = {}
    results: dict[str, dict[str, list[dict]]] = {}
    try:
        running = prepare(args, work)
        order = [s for s in ("pyimapd", "dovecot", "pymap") if s in running]
        for rnd in range(args.rounds):
            for name in args.workloads.split(","):
                for server in order:
                    earlier = results.get(name, {}).get(server, [])
                    if any("figures" not in r for r in earlier):
                        continue  # timed out in an earlier round: not repeated
                    params = params_for(args, running[server].port)
                    others = [s for n, s in running.items() if n != server]
                    out = measure(running[server], name, params, timeout, others)
                    results.setdefault(name, {}).setdefault(server, []).append(out)
                    report.progress(rnd, name, server, out)
                    if "figures" not in out:  # let it finish what it was sent first
                        share = settle(running[server], settle_limit)
                        if share >= 0.1:
                            running[server] = restart(running[server], share, settle_limit,
                                                      list(dataset.users(layout_of(args))))
    finally:
        for server in running.values():
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    costs = (f"argon2id t={servers.ARGON2['time_cost']} m={servers.ARGON2['memory_cost']} KiB "
             f"p={servers.ARGON2['parallelism']} on all three (pyimapd [argon2] + "
             "login_cache_ttl=0; Dovecot {ARGON2ID} passwd-file; pymap passlib argon2)")
    summary = report.summarise(results)
    print(f"\n{info['host']}: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
          f"{info['date']}, load average at start {info['loadavg_start'][0]:.1f}")
    print(f"costs: {costs}; Dovecot 2.3 in fast mode (service_count=0); pyimapd "
          f"{args.workers or os.cpu_count()} workers; pymap 0.36.7 maildir; "
          f"{'quick' if args.quick else 'full'} run, {args.rounds} rounds, medians; the "
          "machine is shared: absolute numbers drift, the ratios within this run count")
    report.print_table(summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = RESULTS / f"compare-{'quick' if args.quick else 'full'}-{stamp}"
    base.with_suffix(".json").write_text(json.dumps({
        "machine": info, "costs": costs, "args": vars(args), "params": {
            k: v for k, v in asdict(params_for(args, 0)).items() if k != "append_data"},
        "runs": results, "summary": summary}, indent=1, default=str))
    chart = report.chart(summary, base.with_suffix(".png"))
    print(f"results: {base.with_suffix('.json')}" + (f", chart: {chart}" if chart else ""))
    print(f"total time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
