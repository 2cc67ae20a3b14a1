"""Times SEARCH (SUBJECT, FROM, BODY, TEXT and flag keys) on a large mailbox in pyimapd
on SQLite and on PostgreSQL and in a private Dovecot (PEERS.md fast mode), in the same
run, and prints the ratios, the full-text index's size next to the store's, and what
the index costs one APPEND. Run: ``.venv/bin/python -m bench.search [--messages 100000]
[--no-postgres]``.

How this works: seeded messages (1-3 KB, varied subjects, senders, words and flags) are
loaded into each pyimapd store through the store API (bench/search/stores.py, in
MULTIAPPEND transactions that fill the full-text index as APPEND does) and into Dovecot
by writing its maildir directly. PostgreSQL is a private cluster with fsync on
(tests/pgutil.py). Each server is then started on its data, the mailbox SELECTed and
warmed up (not timed), and each query runs ``--repeat`` times; the median wall time of
the SEARCH command (sent and answered on loopback) is reported. The APPEND cost is
timed last, on fresh stores, with and without the index.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import pwd
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from bench.search import stores  # noqa: E402
from bench.search.stores import Message  # noqa: E402

from differential.dovecot import Dovecot  # noqa: E402
from differential.imapwire import Conn  # noqa: E402
from pgutil import new_cluster  # noqa: E402
from serverutil import run_cli, start_server  # noqa: E402

USER, PASSWORD = "bench", "benchpw"
WORDS = [
    "invoice", "meeting", "report", "budget", "holiday", "server", "release", "ticket",
    "backup", "upgrade", "contract", "design", "review", "deadline", "travel", "family",
    "photo", "recipe", "garden", "music",
]
NAMES = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "oscar", "peggy", "trent", "victor", "walter",
]
FLAGS = ("", "\\Seen", "\\Seen", "\\Seen \\Flagged", "\\Answered \\Seen", "$Work", "")
QUERIES = [
    "SUBJECT deadline", "SUBJECT zebracorn", "FROM mallory", "FROM example.net",
    "BODY zebracorn", "BODY garden", "TEXT zebracorn", "TEXT garden", "SEEN", "UNSEEN",
    "FLAGGED", "KEYWORD $Work", "UNSEEN FROM alice", "OR FLAGGED ANSWERED",
]


def message(rng: random.Random, i: int) -> tuple[bytes, str, datetime]:
    sender = rng.choice(NAMES)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    if i % 1000 == 7:
        subject += " zebracorn"
    body_words = [rng.choice(WORDS) for _ in range(rng.randint(150, 400))]
    if i % 997 == 3:
        body_words.insert(rng.randrange(len(body_words)), "zebracorn")
    lines = [" ".join(body_words[j:j + 12]) for j in range(0, len(body_words), 12)]
    when = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=17 * i)
    data = (
        f"From: {sender.title()} <{sender}@example.{'net' if i % 3 else 'org'}>\r\n"
        f"To: you@example.com\r\nSubject: {subject}\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n\r\n" + "\r\n".join(lines) + "\r\n"
    ).encode()
    return data, FLAGS[i % len(FLAGS)], when


def messages(n: int, seed: int) -> list[tuple[bytes, str, datetime]]:
    rng = random.Random(seed)
    return [message(rng, i) for i in range(n)]


_MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S",
                  "\\Deleted": "T"}


def load_maildir(home: Path, msgs: list[tuple[bytes, str, datetime]]) -> None:
    """Fast bulk path: write the INBOX maildir files (flags in the ``:2,`` suffix,
    keywords as letters from ``dovecot-keywords``, mtime = internal date) before
    Dovecot starts; it indexes them at the first SELECT, which is not timed."""
    nobody = pwd.getpwnam("nobody")
    keywords: dict[str, str] = {}
    for sub in ("cur", "new", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    for i, (data, flags, when) in enumerate(msgs):
        letters = []
        for flag in flags.split():
            if flag in _MAILDIR_FLAGS:
                letters.append(_MAILDIR_FLAGS[flag])
            else:
                letters.append(keywords.setdefault(flag, chr(ord("a") + len(keywords))))
        path = home / "cur" / f"{int(when.timestamp())}.M{i}P1.bench:2,{''.join(sorted(letters))}"
        path.write_bytes(data.replace(b"\r\n", b"\n"))
        os.utime(path, (when.timestamp(), when.timestamp()))
    (home / "dovecot-keywords").write_text(
        "".join(f"{n} {k}\n" for n, k in enumerate(keywords)))
    for dirpath, dirnames, filenames in os.walk(home.parent):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), nobody.pw_uid, nobody.pw_gid)


def load_dovecot(port: int, msgs: list[tuple[bytes, str, datetime]], conns: int = 4) -> None:
    """APPEND with LITERAL+ (RFC 7888), pipelined in batches on ``conns`` connections."""
    clients = []
    for _ in range(conns):
        c = Conn("127.0.0.1", port)
        c.login(USER, PASSWORD)
        clients.append(c)
    batch = 200
    for start in range(0, len(msgs), batch * conns):
        for k, c in enumerate(clients):
            chunk = msgs[start + k * batch : start + (k + 1) * batch]
            out = bytearray()
            for j, (data, flags, when) in enumerate(chunk):
                date = when.strftime("%d-%b-%Y %H:%M:%S +0000")
                out += b"L%d APPEND INBOX (%s) \"%s\" {%d+}\r\n" % (
                    j, flags.encode(), date.encode(), len(data)) + data + b"\r\n"
            c.sock.sendall(bytes(out))
            c.pending = len(chunk)  # type: ignore[attr-defined]
        for c in clients:
            done = 0
            while done < getattr(c, "pending", 0):
                line = c._line()
                if line.startswith(b"L"):
                    if b" OK " not in line:
                        raise RuntimeError(line)
                    done += 1
    for c in clients:
        c.close()


def time_queries(conn: Conn, repeat: int) -> dict[str, tuple[float, int]]:
    out = {}
    for q in QUERIES:
        times, count = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            reply = conn.ok(f"SEARCH {q}")
            times.append(time.perf_counter() - t0)
            count = len(reply.search())
        out[q] = (statistics.median(times), count)
    return out


def warm(conn: Conn) -> None:
    conn.login(USER, PASSWORD)
    t0 = time.perf_counter()
    conn.ok("SELECT INBOX")
    conn.ok("SEARCH ALL")  # warm caches and indexes on all
    conn.ok("SEARCH BODY warmup")  # Dovecot caches header/body data on first use
    print(f"first SELECT + warm-up: {time.perf_counter() - t0:.1f}s", file=sys.stderr)


def run_store(kind: str, tmp: Path, url: str | None, msgs: list[Message],
              repeat: int) -> dict[str, Any]:
    """Loads, serves and times one pyimapd store (``url``: PostgreSQL)."""
    from pyimapd.storage.postgres import PostgresBackend
    from pyimapd.storage.sqlite import SqliteBackend

    server = start_server(tmp / kind, {USER: PASSWORD}, store=url or "sqlite")
    server.stop()
    backend = PostgresBackend(url) if url else SqliteBackend(server.data_dir)
    took = asyncio.run(stores.load(backend, USER, msgs))
    print(f"{kind} load: {took:.1f}s for {len(msgs)} messages", file=sys.stderr)
    sizes = (asyncio.run(stores.postgres_sizes(url.split("?")[0])) if url
             else stores.sqlite_sizes(server.data_dir))
    server.start()
    try:
        conn = Conn(server.host, server.port)
        warm(conn)
        timed = time_queries(conn, repeat)
        conn.close()
    finally:
        server.stop()
    return {"load": took, "sizes": sizes, "times": timed}


def run_dovecot(msgs: list[Message], repeat: int) -> dict[str, Any]:
    dovecot = Dovecot({USER: PASSWORD}, fast=True)
    t0 = time.perf_counter()
    load_maildir(dovecot.base / "mail" / USER, msgs)
    print(f"dovecot maildir written: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    with dovecot:
        conn = Conn("127.0.0.1", dovecot.port)
        warm(conn)
        timed = time_queries(conn, repeat)
        conn.close()
    return {"times": timed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-postgres", action="store_true", help="SQLite and Dovecot only")
    ap.add_argument("--appends", type=int, default=1000,
                    help="single APPENDs timed with and without the index (0: none)")
    args = ap.parse_args()
    msgs = messages(args.messages, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="pyimapd-bench-search-"))
    cluster = None if args.no_postgres else new_cluster(fsync=True)
    results: dict[str, dict[str, Any]] = {}
    try:
        url = None
        if cluster is not None:
            url = cluster.dsn + "?pool_size=10"
            run_cli("db", "migrate", "--store", url)
            run_cli("user", "add", USER, "--password-stdin", "--store", url, stdin=PASSWORD)
        results["SQLite"] = run_store("sqlite", tmp, None, msgs, args.repeat)
        if url is not None:
            results["PostgreSQL"] = run_store("postgres", tmp, url, msgs, args.repeat)
        results["Dovecot"] = run_dovecot(msgs, args.repeat)
        costs = stores.append_costs(tmp, cluster.dsn if cluster else None, USER,
                                    messages(args.appends, args.seed + 1)) if args.appends else {}
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, costs, args)


def report(results: dict[str, dict[str, Any]], costs: dict[str, tuple[float, float]],
           args: argparse.Namespace) -> None:
    """Markdown tables for docs/performance.md; ratios are to Dovecot's time."""
    print(f"\n{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {args.messages:,} messages,"
          f" median of {args.repeat}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    names = list(results)
    ours = [n for n in names if n != "Dovecot"]
    head = [f"{n} ms" for n in names] + [f"{n} / Dovecot" for n in ours] + ["hits"]
    print("| query | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    dovecot = results["Dovecot"]["times"]
    for q in QUERIES:
        cells = [f"{results[n]['times'][q][0] * 1000:,.1f}" for n in names]
        cells += [f"{results[n]['times'][q][0] / dovecot[q][0]:.3f}" for n in ours]
        hits = {results[n]["times"][q][1] for n in names}
        cells.append(" / ".join(str(h) for h in sorted(hits)) + (" DIFFER" if len(hits) > 1
                                                                   else ""))
        print(f"| {q} | " + " | ".join(cells) + " |")
    print("\n| store | load (s) | full-text index MB | store MB | APPEND ms without index"
          " | with | cost |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in ours:
        index, total = results[n]["sizes"]
        before, after = costs.get({"SQLite": "sqlite"}.get(n, "postgres"), (0.0, 0.0))
        print(f"| {n} | {results[n]['load']:.1f} | {index / 1e6:,.1f} | {total / 1e6:,.1f} |"
              f" {before:.2f} | {after:.2f} | {100 * (after / (before or after or 1) - 1):+.0f}% |")


if __name__ == "__main__":
    main()
