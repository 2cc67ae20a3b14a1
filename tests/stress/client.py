"""A random IMAP client that checks every response against its model, and the runner.

How this works: a :class:`RandomClient` logs in, selects one mailbox, learns it
(``FETCH 1:* (UID FLAGS)``) and then, until its deadline, picks operations at random by
weight from :attr:`RandomClient.operations`: APPEND, STORE of its own keyword, STORE
\\Deleted, STORE of a keyword new to the mailbox, EXPUNGE, COPY, FETCH, SEARCH, NOOP, and
LOGOUT followed by a new LOGIN and SELECT. Every other client SELECTs with CONDSTORE, so
that MODSEQ is checked too. Every untagged response goes through the
client's :class:`~stress.model.MailboxModel`; a tagged BAD, or a NO other than
``[EXPUNGEISSUED]`` (RFC 2180: the message went away under us), is a violation.

:func:`run_stress` starts N clients spread over the mailboxes, and when all are done
each one NOOPs and fetches the whole mailbox: the listing must match its model, and all
clients of a mailbox must agree on it.

To add an operation (e.g. MOVE, UID EXPUNGE or a CONDSTORE STORE), subclass
:class:`RandomClient` and add a weighted entry to ``operations`` in ``__init__``; use
:meth:`RandomClient.command` so that the responses are checked, and tell the model what
the client itself did (:meth:`~stress.model.MailboxModel.stored`, ``appended``).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from stress.model import MailboxModel, RecentRegistry, Violation, fetch_items
from stress.wire import Connection, Response

Operation = Callable[[], Awaitable[None]]


@dataclass
class Stats:
    commands: int = 0
    by_op: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


PROBES = 8
"""Fresh keywords each client STOREs once (``$p<client>_<n>``): each is new to the mailbox,
so every session must see an untagged FLAGS before a FETCH that shows it."""


class RandomClient:
    def __init__(
        self, index: int, host: str, port: int, user: str, password: str, mailbox: str,
        other: str, seed: int, recent: RecentRegistry | None = None,
    ) -> None:
        self.index = index
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.mailbox, self.other = mailbox, other
        self.rng = random.Random(seed)
        self.keyword = f"$k{index}"
        self.model = MailboxModel(mailbox, self.keyword, recent, owner=user)
        self.condstore = index % 2 == 0
        """Half the clients SELECT with CONDSTORE: MODSEQ in every FETCH they get."""
        self.conn: Connection | None = None
        self.stats = Stats()
        self.appends = 0
        self.probes = 0
        self.operations: dict[str, tuple[int, Operation]] = {
            "append": (6, self.op_append),
            "store_keyword": (8, self.op_store_keyword),
            "store_deleted": (2, self.op_store_deleted),
            "expunge": (1, self.op_expunge),
            "copy": (2, self.op_copy),
            "fetch": (6, self.op_fetch),
            "search": (4, self.op_search),
            "noop": (2, self.op_noop),
            "resync": (1, self.op_resync),
            "probe_keyword": (1, self.op_probe_keyword),
            "reconnect": (1, self.op_reconnect),
        }

    # --- plumbing -------------------------------------------------------------------

    async def command(
        self, text: str, literal: bytes | None = None, allow_no: bool = False,
        search_keyword: bool | None = None,
    ) -> tuple[list[Response], Response]:
        """Runs a command; every untagged response is applied to the model, in order."""
        assert self.conn is not None
        self.model.begin(text, search_keyword)
        untagged, tagged = await self.conn.command(text, literal)
        self.stats.commands += 1
        for resp in untagged:
            self.model.apply(resp)
        self.model.history.append(f"S: {tagged.raw[:200]!r}")
        status = tagged.status()
        if status == "OK":
            return untagged, tagged
        if status == "NO" and allow_no and (tagged.code() or "").upper() == "EXPUNGEISSUED":
            return untagged, tagged
        raise self.model.fail(f"unexpected tagged response {tagged.raw!r}")

    async def connect(self) -> None:
        self.conn = await Connection.open(self.host, self.port)
        await self.command(f"LOGIN {self.user} {self.password}")
        condstore = " (CONDSTORE)" if self.condstore else ""
        await self.command(f'SELECT "{self.mailbox}"{condstore}')
        await self.op_resync()

    async def run(self, deadline: float) -> None:
        names = list(self.operations)
        weights = [self.operations[n][0] for n in names]
        while time.monotonic() < deadline:
            name = self.rng.choices(names, weights)[0]
            self.stats.by_op[name] = self.stats.by_op.get(name, 0) + 1
            await self.operations[name][1]()

    async def finish(self) -> list[int]:
        """NOOP, then the whole mailbox must match the model; returns its UIDs."""
        await self.command("NOOP")
        untagged, _ = await self.command("UID FETCH 1:* (FLAGS)")
        listing: list[tuple[int, bool]] = []
        for resp in untagged:
            if len(resp.tokens) > 2 and str(resp.tokens[1]).upper() == "FETCH":
                items = fetch_items(resp.tokens[2])
                flags = {str(f).lower() for f in items.get("FLAGS") or []}  # type: ignore[union-attr]
                listing.append((int(str(items["UID"])), self.keyword.lower() in flags))
        self.model.check_final(listing)
        self.stats.counts = dict(self.model.counts)
        return [u for u, _ in listing]

    async def close(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.command("LOGOUT", timeout=10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            await self.conn.close()

    # --- choosing messages ----------------------------------------------------------

    def known(self) -> list[tuple[int, int]]:
        """(msn, uid) of the messages whose UID this client knows."""
        return [(i + 1, s.uid) for i, s in enumerate(self.model.slots) if s.uid is not None]

    def msn_range(self) -> str | None:
        n = self.model.count
        if n == 0:
            return None
        lo = self.rng.randint(1, n)
        hi = min(n, lo + self.rng.randint(0, 5))
        return f"{lo}:{hi}" if self.rng.random() < 0.8 else f"{lo}:*"

    # --- operations -----------------------------------------------------------------

    async def op_append(self) -> None:
        self.appends += 1
        mine = self.rng.random() < 0.5
        flags = " ".join(f for f, on in ((self.keyword, mine), ("\\Seen", self.rng.random() < 0.3))
                         if on)
        body = (
            f"From: c{self.index}@example.org\r\nSubject: c{self.index} m{self.appends}\r\n"
            f"Message-ID: <c{self.index}.{self.appends}@stress>\r\n\r\n"
            f"{'x' * self.rng.randint(0, 400)}\r\n"
        ).encode()
        _, tagged = await self.command(f'APPEND "{self.mailbox}" ({flags})', literal=body)
        code = tagged.code() or ""
        if code.upper().startswith("APPENDUID"):
            self.model.appended(int(code.split()[2]), mine)

    async def op_store_keyword(self) -> None:
        known = self.known()
        if not known:
            return
        picked = self.rng.sample(known, min(len(known), self.rng.randint(1, 4)))
        on = self.rng.random() < 0.5
        self.model.stored([uid for _, uid in picked], on)
        sign = "+" if on else "-"
        if self.rng.random() < 0.5:
            uids = ",".join(str(u) for _, u in picked)
            await self.command(f"UID STORE {uids} {sign}FLAGS ({self.keyword})")
        else:
            msns = ",".join(str(m) for m, _ in picked)
            await self.command(f"STORE {msns} {sign}FLAGS ({self.keyword})")

    async def op_store_deleted(self) -> None:
        """Nobody clears \\Deleted, so the STORE's own FETCH must show it."""
        known = self.known()
        if known:
            msn, uid = self.rng.choice(known)
            untagged, _ = await self.command(f"STORE {msn} +FLAGS (\\Deleted)")
            for resp in untagged:
                if resp.tokens[:2] == [str(msn), "FETCH"]:
                    flags = fetch_items(resp.tokens[2]).get("FLAGS") or []
                    if "\\deleted" not in {str(f).lower() for f in flags}:  # type: ignore[union-attr]
                        raise self.model.fail(f"STORE +FLAGS (\\Deleted) of UID {uid} "
                                              f"answered FLAGS {flags}")

    async def op_probe_keyword(self) -> None:
        known = self.known()
        if not known or self.probes >= PROBES:
            return
        self.probes += 1
        msn, _ = self.rng.choice(known)
        await self.command(f"STORE {msn} +FLAGS ($p{self.index}_{self.probes})")

    async def op_reconnect(self) -> None:
        """LOGOUT and a new session: the model keeps what outlives a session."""
        await self.close()
        self.model.reselect()
        await self.connect()

    async def op_expunge(self) -> None:
        await self.command("EXPUNGE")

    async def op_copy(self) -> None:
        rng = self.msn_range()
        if rng is not None:
            await self.command(f'COPY {rng} "{self.other}"', allow_no=True)

    async def op_fetch(self) -> None:
        rng = self.msn_range()
        if rng is None:
            return
        items = self.rng.choice([
            "(FLAGS)", "(UID FLAGS)", "(FLAGS RFC822.SIZE)",
            "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "(INTERNALDATE UID)",
            *(["(UID FLAGS MODSEQ)"] if self.condstore else []),
        ])
        prefix = "UID " if self.rng.random() < 0.3 else ""
        if prefix:
            known = self.known()
            if not known:
                return
            rng = f"{self.rng.choice(known)[1]}:*"
        await self.command(f"{prefix}FETCH {rng} {items}", allow_no=True)

    async def op_search(self) -> None:
        key, keyword = self.rng.choice([
            ("ALL", None), ("UNDELETED", None), (f"KEYWORD {self.keyword}", True),
            (f"UNKEYWORD {self.keyword}", False),
        ])
        uid = self.rng.random() < 0.5
        await self.command(f"{'UID ' if uid else ''}SEARCH {key}", search_keyword=keyword)

    async def op_noop(self) -> None:
        await self.command("NOOP")

    async def op_resync(self) -> None:
        if self.model.count:
            await self.command("FETCH 1:* (UID FLAGS)", allow_no=True)


async def setup_mailboxes(host: str, port: int, user: str, password: str,
                          names: list[str]) -> None:
    conn = await Connection.open(host, port)
    try:
        for command in [f"LOGIN {user} {password}", *(f'CREATE "{n}"' for n in names)]:
            _, tagged = await conn.command(command)
            if tagged.status() != "OK" and not re.search(rb"exist", tagged.raw, re.I):
                raise RuntimeError(f"set-up failed: {tagged.raw!r}")
    finally:
        await conn.close()


async def run_stress(
    host: str, port: int, user: str, password: str, clients: int, seconds: float,
    seed: int, mailboxes: tuple[str, str] = ("INBOX", "Shared"),
    client_class: type[RandomClient] = RandomClient,
    users: list[tuple[str, str]] | None = None, one_mailbox: bool = False,
) -> list[RandomClient]:
    """Runs ``clients`` random clients for ``seconds``; raises :class:`Violation` (with
    the seed in its text) on the first response that does not fit.

    With ``users``, client i logs in as ``users[i % len(users)]`` (``user`` is then
    unused), so each account's mailboxes have clients of their own; the clients of one
    account alternate between the two mailboxes. ``one_mailbox`` puts every client on
    the first mailbox (the second is then only where COPY goes)."""
    accounts = users or [(user, password)]
    for name, secret in accounts:
        await setup_mailboxes(host, port, name, secret, [m for m in mailboxes if m != "INBOX"])
    recent = RecentRegistry()
    team = []
    for i in range(clients):
        name, secret = accounts[i % len(accounts)]
        side = 0 if one_mailbox else (i // len(accounts)) % 2
        team.append(client_class(i, host, port, name, secret, mailboxes[side],
                                 mailboxes[1 - side], seed * 1000 + i, recent))
    try:
        await _all_or_none([c.connect() for c in team])
        deadline = time.monotonic() + seconds
        await _all_or_none([c.run(deadline) for c in team])
        finals: dict[tuple[str, str], list[int]] = {}
        for c in team:
            uids = await c.finish()
            first = finals.setdefault((c.user, c.mailbox), uids)
            if first != uids:
                raise c.model.fail(f"clients disagree on {c.mailbox}: {first[:10]} vs {uids[:10]}")
    except Violation as exc:
        raise Violation(f"seed {seed}: {exc}") from None
    finally:
        await asyncio.gather(*(c.close() for c in team), return_exceptions=True)
    return team


async def _all_or_none(coros: list[Awaitable[None]]) -> None:
    """Like gather, but the first failure cancels the others (they share the server)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
