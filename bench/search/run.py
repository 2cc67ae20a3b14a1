"""Times SEARCH (SUBJECT, FROM, BODY and flag keys) on a large mailbox in pyimapd (SQLite
store) and in a private Dovecot (PEERS.md fast mode), in the same run, and prints the
ratios. Run: ``.venv/bin/python -m bench.search [--messages 100000]``.

How this works: seeded messages (1-3 KB, varied subjects, senders, words and flags) are
loaded into pyimapd through the store API (one APPEND transaction each, as the server
does it) and into Dovecot by writing its maildir directly (``--append``: by APPEND with
LITERAL+ pipelined over a few connections, which takes Dovecot ~30 min for 100,000 here).
Then pyimapd is started on its data dir, both mailboxes are SELECTed, and each query
runs ``--repeat`` times on each server; the median wall time of the SEARCH command
(sent and answered on loopback) is reported.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from differential.dovecot import Dovecot  # noqa: E402
from differential.imapwire import Conn  # noqa: E402
from serverutil import start_server  # noqa: E402

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
    "BODY zebracorn", "BODY garden", "SEEN", "UNSEEN", "FLAGGED", "KEYWORD $Work",
    "UNSEEN FROM alice", "OR FLAGGED ANSWERED",
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


async def load_pyimapd(data_dir: Path, msgs: list[tuple[bytes, str, datetime]]) -> None:
    from pyimapd.delivery import prepare_bytes
    from pyimapd.storage.sqlite import SqliteBackend

    backend = SqliteBackend(data_dir)
    await backend.start()
    store = await backend.open(USER)
    for data, flags, when in msgs:
        spool, prepared = await prepare_bytes(data)
        try:
            await store.append("INBOX", prepared, frozenset(flags.split()), when)
        finally:
            spool.close()
    await store.close()
    await backend.close()


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--append", action="store_true",
                    help="load Dovecot by pipelined APPEND instead of writing its maildir")
    args = ap.parse_args()
    msgs = messages(args.messages, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="pyimapd-bench-search-"))
    users = {USER: PASSWORD}
    try:
        server = start_server(tmp, users)
        server.stop()
        t0 = time.perf_counter()
        asyncio.run(load_pyimapd(server.data_dir, msgs))
        print(f"pyimapd load: {time.perf_counter() - t0:.1f}s for {len(msgs)} messages")
        server.start()
        dovecot = Dovecot(users, fast=True)
        if not args.append:
            t0 = time.perf_counter()
            load_maildir(dovecot.base / "mail" / USER, msgs)
            print(f"dovecot maildir written: {time.perf_counter() - t0:.1f}s")
        with dovecot:
            if args.append:
                t0 = time.perf_counter()
                load_dovecot(dovecot.port, msgs)
                print(f"dovecot APPEND load: {time.perf_counter() - t0:.1f}s")
            ours, theirs = Conn(server.host, server.port), Conn("127.0.0.1", dovecot.port)
            for c in (ours, theirs):
                c.login(USER, PASSWORD)
                t0 = time.perf_counter()
                c.ok("SELECT INBOX")
                c.ok("SEARCH ALL")  # warm caches and indexes on both
                c.ok("SEARCH BODY warmup")  # Dovecot caches header/body data on first use
                print(f"first SELECT + warm-up: {time.perf_counter() - t0:.1f}s")
            a, b = time_queries(ours, args.repeat), time_queries(theirs, args.repeat)
            ours.close()
            theirs.close()
        server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {len(msgs)} messages, median of {args.repeat}")
    print(f"{'query':28} {'pyimapd ms':>11} {'dovecot ms':>11} {'ratio':>7} {'hits':>6}")
    for q in QUERIES:
        (ta, na), (tb, nb) = a[q], b[q]
        flag = "" if na == nb else f"  (dovecot {nb})"
        print(f"{q:28} {ta * 1000:11.1f} {tb * 1000:11.1f} {ta / tb:7.2f} {na:6d}{flag}")


if __name__ == "__main__":
    main()
