"""Benchmark: many idle IMAP connections, against pyimapd and a private Dovecot.

How this works: for each server, N connections each LOGIN, SELECT INBOX and IDLE (at
most ``BATCH`` being set up at a time, so the accept queues do not overflow; the client
is one epoll loop over raw sockets, see ``client.py``). Then the server's total RSS (the
sum of VmRSS over its process tree) is read, minus what it was before the connections;
that difference divided by N is the cost of one idling connection. Last, another connection
APPENDs a message and the clock runs from that send until every one of the N has read
its ``* n EXISTS`` (fan-out). The server gets a cheap argon2 cost (a config file) so
that logging 10,000 connections in measures the server, not the password hash.

Usage: .venv/bin/python bench/connections/run.py [--connections 10000] [--only pyimapd]
[--workers N] [--profile DIR] (py-spy collapsed stacks of the fan-out, pyimapd only)
Needs ``dovecot-imapd`` (Debian) for the Dovecot half; RLIMIT_NOFILE is raised to the
hard limit, which must be above N + a few hundred.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench.common.proc import cpu_seconds, rss_kib, tree  # noqa: E402
from bench.connections.client import IdlerPool  # noqa: E402

from serverutil import ServerHandle, run_cli, start_dovecot, start_server  # noqa: E402

CONFIG = """\
[limits]
max_connections = 30000
max_connections_per_ip = 30000

[argon2]
time_cost = 1
memory_cost = 8
parallelism = 1
"""

DOVECOT_EXTRA = """
default_client_limit = 30000
default_process_limit = 200
default_vsz_limit = 0
service imap-login {{
  service_count = 0
  process_min_avail = 2
  client_limit = 15000
}}
service imap {{
  service_count = 0
  client_limit = 1000
  process_limit = 100
}}
protocol imap {{
  mail_max_userip_connections = {limit}
}}
"""

BATCH = 200


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def trigger_connection(host: str, port: int) -> socket.socket:
    """A logged-in connection, blocking, that will APPEND the message everyone awaits."""
    sock = socket.create_connection((host, port), timeout=60)
    reply = b""
    sock.sendall(b"x LOGIN bench bench\r\n")
    while b"x OK" not in reply:
        chunk = sock.recv(4096)
        if not chunk or b"x NO" in reply or b"x BAD" in reply:
            raise RuntimeError(f"trigger login failed: {reply!r}")
        reply += chunk
    return sock


def server_pids(root: int) -> list[int]:
    """The processes worth profiling: the root's descendants, or the root alone."""
    return tree(root)[1:] or [root]


def start_profilers(pids: list[int], out: Path, tag: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on each process (the server's and this client's), collapsed stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    procs = []
    for pid in pids:
        cmd = [str(spy), "record", "--nonblocking", "--format", "raw", "--rate", "200",
               "-p", str(pid), "-o", str(out / f"{tag}-{pid}.txt")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.5)  # attach before the clock starts
    return procs


def stop_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        proc.wait(30)


def measure(handle: ServerHandle, n: int, profile: Path | None = None) -> dict[str, float]:
    assert handle.proc is not None
    pid = handle.proc.pid
    time.sleep(1.0)
    base = rss_kib(pid)
    started = time.monotonic()
    pool = IdlerPool(handle.host, handle.port, window=BATCH)
    pool.open(n)
    connect_s = time.monotonic() - started
    time.sleep(2.0)
    loaded = rss_kib(pid)
    cpu0 = cpu_seconds(pid)
    time.sleep(5.0)
    idle_cpu = cpu_seconds(pid) - cpu0
    trigger = trigger_connection(handle.host, handle.port)
    body = b"Subject: fan-out\r\n\r\nhello\r\n"
    append = b"y APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n"
    spies = []
    if profile is not None:
        spies = start_profilers(server_pids(pid) + [os.getpid()], profile, handle.kind)
    load = os.getloadavg()[0]
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    try:
        seen = sorted(pool.fanout(trigger, append, timeout=120))
        server_cpu = cpu_seconds(pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        stop_profilers(spies)
        pool.close()
        trigger.close()
    return {
        "connections": n,
        "connect_s": connect_s,
        "rss_base_mib": base / 1024,
        "rss_loaded_mib": loaded / 1024,
        "kib_per_conn": (loaded - base) / n,
        "idle_cpu_s_per_5s": idle_cpu,
        "fanout_median_ms": seen[len(seen) // 2] * 1000,
        "fanout_all_ms": seen[-1] * 1000,
        "fanout_server_cpu_s": server_cpu,
        "fanout_client_cpu_s": client_cpu,
        "load": load,
    }


def start_pyimapd(tmp: Path, workers: int | None) -> ServerHandle:
    conf = tmp / "bench.toml"
    conf.write_text(CONFIG)
    data = tmp / "data"
    run_cli("user", "add", "bench", "--password-stdin", "--config", str(conf),
            "--data-dir", str(data), stdin="bench")
    args = ["--config", str(conf)] + (["--workers", str(workers)] if workers else [])
    os.environ["PYIMAPD_TEST_NO_TEMPLATE"] = "1"
    return start_server(tmp, users={}, extra_args=args)


def start_dovecot_bench(tmp: Path, n: int) -> ServerHandle:
    import serverutil

    original = serverutil.DOVECOT_CONF
    serverutil.DOVECOT_CONF = original.replace(
        "protocol imap {{\n  mail_max_userip_connections = 1000\n}}\n", ""
    ) + DOVECOT_EXTRA.format(limit=n + 100).replace("{", "{{").replace("}", "}}")
    try:
        return start_dovecot(tmp, {"bench": "bench"})
    finally:
        serverutil.DOVECOT_CONF = original


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:<22} {int(r['connections']):>6} conns  connect {r['connect_s']:6.1f} s  "
        f"RSS {r['rss_base_mib']:7.1f} -> {r['rss_loaded_mib']:7.1f} MiB  "
        f"{r['kib_per_conn']:6.1f} KiB/conn  idle CPU {r['idle_cpu_s_per_5s']:.2f} s/5 s  "
        f"fan-out median {r['fanout_median_ms']:6.0f} ms, all {r['fanout_all_ms']:6.0f} ms "
        f"(CPU server {r['fanout_server_cpu_s']:.2f} s, client "
        f"{r['fanout_client_cpu_s']:.2f} s; load {r['load']:.1f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", choices=("pyimapd", "dovecot"))
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for py-spy collapsed stacks of the pyimapd "
                        "workers and of this client during the fan-out")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    limit = raise_nofile()
    if limit < args.connections + 200:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {limit} is too low for {args.connections}")
    for kind in ("pyimapd", "dovecot"):
        if args.only not in (None, kind):
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
        handle = (start_pyimapd(tmp, args.workers) if kind == "pyimapd"
                  else start_dovecot_bench(tmp, args.connections))
        try:
            profile = args.profile if kind == "pyimapd" else None
            report(kind, measure(handle, args.connections, profile))
        finally:
            if kind == "dovecot":
                run_doveadm_stop(handle)
            handle.stop(timeout=60)


def run_doveadm_stop(handle: ServerHandle) -> None:
    conf = getattr(handle, "conf_path", None)
    if conf is not None:
        subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True, timeout=30)


if __name__ == "__main__":
    main()
