"""The four workloads of the side-by-side benchmark, as asyncio load generators.

Each returns a :class:`Run`: how many operations it did, the wall time, one latency per
operation, and extra figures. The work is fixed (a number of sessions or commands drawn
from a seeded RNG), not a duration, so every server answers exactly the same commands.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from bench.common.client import APPENDUID, EXISTS, UIDNEXT, Conn, ImapError

HEADER_FETCH = (b"UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date "
                b"Message-ID References Content-Type)]")


@dataclass
class Run:
    ops: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_command: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.ops += 1
        self.latencies.append(seconds)
        self.by_command.setdefault(name, []).append(seconds)


@dataclass(frozen=True)
class Params:
    host: str
    port: int
    password: str
    mix_users: list[str]
    mix_base: int  # messages in each mix INBOX before the run (UIDs 1..mix_base)
    big_user: str
    heavy_user: str
    append_data: list[bytes]
    clients: int = 50
    sessions: int = 3
    storm_logins: int = 600
    storm_concurrency: int = 8
    large_repeat: int = 3
    fetch_repeat: int = 3
    appends: int = 200
    append_concurrency: int = 4
    seed: int = 1


def _num(pattern: object, lines: list[bytes]) -> int:
    for line in lines:
        m = pattern.search(line)  # type: ignore[attr-defined]
        if m:
            return int(m.group(1))
    raise ImapError(f"no {pattern} in {lines!r}")


async def _mix_session(p: Params, rng: random.Random, user: str, run: Run) -> None:
    c = await Conn.open(p.host, p.port)
    run.add("CAPABILITY", await c.cmd(b"CAPABILITY"))
    run.add("LOGIN", await c.login(user, p.password))
    run.add("LIST", await c.cmd(b'LIST "" "*"'))
    keep: list[bytes] = []
    run.add("SELECT", await c.cmd(b"SELECT INBOX", keep))
    uidnext = _num(UIDNEXT, keep)
    new = rng.randint(10, 60)
    run.add("FETCH-NEW", await c.cmd(b"UID FETCH %d:* (%s)" % (max(1, uidnext - new),
                                                                HEADER_FETCH)))
    run.add("FETCH-FLAGS", await c.cmd(b"UID FETCH 1:* (UID FLAGS)"))
    for _ in range(3):
        uid = rng.randint(1, p.mix_base)
        run.add("BODYSTRUCTURE", await c.cmd(b"UID FETCH %d (UID BODYSTRUCTURE)" % uid))
    for _ in range(2):
        uid = rng.randint(1, p.mix_base)
        run.add("BODY", await c.cmd(b"UID FETCH %d (UID BODY.PEEK[])" % uid))
    run.add("STORE", await c.cmd(b"UID STORE %d +FLAGS (\\Seen)" % rng.randint(1, p.mix_base)))
    run.add("STORE", await c.cmd(b"UID STORE %d -FLAGS (\\Flagged)"
                                 % rng.randint(1, p.mix_base)))
    keep = []
    data = p.append_data[rng.randrange(len(p.append_data))]
    run.add("APPEND", await c.append(b"INBOX", data, b"\\Seen", keep))
    uid = _num(APPENDUID, keep)
    run.add("STORE", await c.cmd(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid))
    run.add("EXPUNGE", await c.cmd(b"EXPUNGE"))
    run.add("IDLE", await c.idle(0.2))
    run.add("LOGOUT", await c.cmd(b"LOGOUT"))
    await c.close()


async def client_mix(p: Params) -> Run:
    """``clients`` concurrent clients, each ``sessions`` sessions in a row (Thunderbird /
    Apple Mail: sync new headers and flags, open a few messages, flag, save a copy,
    delete it, IDLE a little, log out). An operation is one command."""
    run = Run()

    async def client(i: int) -> None:
        rng = random.Random(p.seed * 1000 + i)
        for _ in range(p.sessions):
            await _mix_session(p, rng, p.mix_users[i % len(p.mix_users)], run)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(p.clients)))
    run.wall = time.perf_counter() - t0
    return run


async def login_storm(p: Params) -> Run:
    """Connect, LOGIN, LOGOUT, close, on ``storm_concurrency`` connections at a time. An
    operation is the whole connection."""
    run = Run()
    counter = iter(range(p.storm_logins))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            c = await Conn.open(p.host, p.port)
            await c.login(p.mix_users[i % len(p.mix_users)], p.password)
            await c.cmd(b"LOGOUT")
            await c.close()
            run.add("SESSION", time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(p.storm_concurrency)))
    run.wall = time.perf_counter() - t0
    return run


async def large_mailbox(p: Params) -> Run:
    """On the big INBOX: SELECT, ``UID FETCH 1:* (UID FLAGS)`` and the headers of the newest
    200, ``large_repeat`` times. An operation is the three commands."""
    run = Run()
    c = await Conn.open(p.host, p.port)
    await c.login(p.big_user, p.password)
    t_all = time.perf_counter()
    for _ in range(p.large_repeat):
        keep: list[bytes] = []
        t_sel = await c.cmd(b"SELECT INBOX", keep)
        exists = _num(EXISTS, keep)
        t_flags = await c.cmd(b"UID FETCH 1:* (UID FLAGS)")
        t_head = await c.cmd(b"FETCH %d:* (%s)" % (max(1, exists - 199), HEADER_FETCH))
        run.add("ITERATION", t_sel + t_flags + t_head)
        run.by_command.setdefault("SELECT", []).append(t_sel)
        run.by_command.setdefault("FETCH-FLAGS", []).append(t_flags)
        run.by_command.setdefault("FETCH-HEADERS", []).append(t_head)
    run.wall = time.perf_counter() - t_all
    await c.cmd(b"LOGOUT")
    await c.close()
    return run


async def fetch_bodies(p: Params) -> Run:
    """``FETCH 1:* BODY.PEEK[]`` on the attachment-heavy INBOX, ``fetch_repeat`` times; MB/s
    counts the message bytes received. An operation is one FETCH."""
    run = Run()
    c = await Conn.open(p.host, p.port)
    await c.login(p.heavy_user, p.password)
    await c.cmd(b"EXAMINE INBOX")
    c.received = 0
    t0 = time.perf_counter()
    for _ in range(p.fetch_repeat):
        run.add("FETCH", await c.cmd(b"FETCH 1:* BODY.PEEK[]"))
    run.wall = time.perf_counter() - t0
    run.extra["mb_per_s"] = c.received / 1e6 / run.wall
    await c.cmd(b"LOGOUT")
    await c.close()
    return run


async def append(p: Params) -> Run:
    """``appends`` APPENDs of everyday messages (1-200 KB) to one mailbox, on
    ``append_concurrency`` connections. An operation is one APPEND."""
    run = Run()
    setup = await Conn.open(p.host, p.port)
    await setup.login(p.heavy_user, p.password)
    try:
        await setup.cmd(b"CREATE Appends")
    except ImapError:
        pass  # exists from an earlier round
    await setup.cmd(b"LOGOUT")
    await setup.close()
    counter = iter(range(p.appends))
    total = 0

    async def worker() -> None:
        nonlocal total
        c = await Conn.open(p.host, p.port)
        await c.login(p.heavy_user, p.password)
        for i in counter:
            data = p.append_data[i % len(p.append_data)]
            total += len(data)
            run.add("APPEND", await c.append(b"Appends", data))
        await c.cmd(b"LOGOUT")
        await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(p.append_concurrency)))
    run.wall = time.perf_counter() - t0
    run.extra["mb_per_s"] = total / 1e6 / run.wall
    return run


WORKLOADS = {
    "client_mix": client_mix,
    "login_storm": login_storm,
    "large_mailbox": large_mailbox,
    "fetch_bodies": fetch_bodies,
    "append": append,
}
