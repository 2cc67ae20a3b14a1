"""Benchmark: many idle IMAP connections, against pyimapd and a private Dovecot.

How this works: for each server, N connections each LOGIN, SELECT INBOX and IDLE (in
batches, so the accept queues do not overflow). Then the server's total RSS (the sum of
VmRSS over its process tree) is read, minus what it was before the connections; that
difference divided by N is the cost of one idling connection. Last, another connection
APPENDs a message and the clock runs until every one of the N has read its ``* n EXISTS``
(fan-out). The server gets a cheap argon2 cost (a config file) so that logging 10,000
connections in measures the server, not the password hash.

Usage: .venv/bin/python bench/connections/run.py [--connections 10000] [--only pyimapd]
Needs ``dovecot-imapd`` (Debian) for the Dovecot half; RLIMIT_NOFILE is raised to the
hard limit, which must be above N + a few hundred.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench.common.proc import cpu_seconds, rss_kib  # noqa: E402

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


class Idler:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def expect(self, tag: bytes) -> None:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line.startswith(tag):
                if not line.startswith(tag + b" OK") and tag != b"+":
                    raise RuntimeError(line)
                return


async def open_idler(host: str, port: int) -> Idler:
    reader, writer = await asyncio.open_connection(host, port, limit=4096)
    idler = Idler(reader, writer)
    await reader.readline()
    writer.write(b"a LOGIN bench bench\r\nb SELECT INBOX\r\n")
    await idler.expect(b"a")
    await idler.expect(b"b")
    writer.write(b"c IDLE\r\n")
    await idler.expect(b"+")
    return idler


async def wait_exists(idler: Idler) -> float:
    while True:
        line = await idler.reader.readline()
        if not line:
            raise ConnectionError("closed while idling")
        if line.endswith(b"EXISTS\r\n"):
            return time.monotonic()


async def measure(handle: ServerHandle, n: int) -> dict[str, float]:
    assert handle.proc is not None
    pid = handle.proc.pid if handle.kind == "pyimapd" else dovecot_master(handle)
    await asyncio.sleep(1.0)
    base = rss_kib(pid)
    started = time.monotonic()
    idlers: list[Idler] = []
    for i in range(0, n, BATCH):
        batch = [open_idler(handle.host, handle.port) for _ in range(min(BATCH, n - i))]
        idlers.extend(await asyncio.gather(*batch))
    connect_s = time.monotonic() - started
    await asyncio.sleep(2.0)
    loaded = rss_kib(pid)
    cpu0 = cpu_seconds(pid)
    await asyncio.sleep(5.0)
    idle_cpu = cpu_seconds(pid) - cpu0
    waits = [asyncio.ensure_future(wait_exists(i)) for i in idlers]
    reader, writer = await asyncio.open_connection(handle.host, handle.port)
    await reader.readline()
    writer.write(b"x LOGIN bench bench\r\n")
    await reader.readline()
    body = b"Subject: fan-out\r\n\r\nhello\r\n"
    t0 = time.monotonic()
    writer.write(b"y APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    seen = await asyncio.wait_for(asyncio.gather(*waits), 120)
    fanout = max(seen) - t0
    for i in idlers:
        i.writer.close()
    writer.close()
    return {
        "connections": n,
        "connect_s": connect_s,
        "rss_base_mib": base / 1024,
        "rss_loaded_mib": loaded / 1024,
        "kib_per_conn": (loaded - base) / n,
        "idle_cpu_s_per_5s": idle_cpu,
        "fanout_median_ms": (sorted(seen)[len(seen) // 2] - t0) * 1000,
        "fanout_all_ms": fanout * 1000,
    }


def dovecot_master(handle: ServerHandle) -> int:
    assert handle.proc is not None
    return handle.proc.pid


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
        f"fan-out median {r['fanout_median_ms']:6.0f} ms, all {r['fanout_all_ms']:6.0f} ms",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", choices=("pyimapd", "dovecot"))
    args = parser.parse_args()
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
            report(kind, await measure(handle, args.connections))
        finally:
            if kind == "dovecot":
                run_doveadm_stop(handle)
            handle.stop(timeout=60)


def run_doveadm_stop(handle: ServerHandle) -> None:
    import subprocess

    conf = getattr(handle, "conf_path", None)
    if conf is not None:
        subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True, timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
