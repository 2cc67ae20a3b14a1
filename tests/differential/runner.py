"""Drives both servers for the differential test: load the same messages by APPEND,
then collect every FETCH item and SEARCH result from each and list the differences.

How this works: :class:`Pair` holds one logged-in connection per server. ``load``
appends every message with the same flags and internal date to both, claims
``\\Recent`` with a SELECT, then appends the ``late`` messages (so RECENT, NEW
and OLD select different sets). ``fetch_differences`` EXAMINEs the mailbox (read-only:
RFC822 and BODY[] set no flags) and compares message by message; ``search_differences``
SELECTs it and compares result sets query by query.
"""

from __future__ import annotations

from dataclasses import dataclass

from differential.compare import (
    SIMPLE_ITEMS,
    Message,
    binary_specs,
    normalise,
    response_key,
    section_items,
)
from differential.imapwire import Conn, IMAPError, Reply

MAILBOX = "differential"
BINARY_MAX = 1 << 20
"""Messages larger than this are left out of the BINARY comparison (the corpus's
10 MiB messages would double the test's time and add no new kind of part)."""
BATCH = 40
"""FETCH items per command (keeps command lines short for both servers)."""


@dataclass
class Difference:
    where: str  # message name or search query
    item: str
    ours: object
    theirs: object

    def __str__(self) -> str:
        def cut(v: object) -> str:
            text = repr(v)
            return text if len(text) < 600 else text[:600] + "..."
        return (f"{self.where} {self.item}:\n   pyimapd: {cut(self.ours)}\n"
                f"   dovecot: {cut(self.theirs)}")


class Pair:
    def __init__(self, ours: Conn, theirs: Conn, login: tuple[str, str] = ("", "")) -> None:
        self.ours = ours
        self.theirs = theirs
        self.login = login

    def reopen_theirs(self, *commands: str) -> None:
        """A new connection to the peer (after it dropped one), logged in, with
        ``commands`` run on it."""
        host, port = self.theirs.sock.getpeername()[:2]
        self.theirs.sock.close()
        self.theirs = Conn(host, port)
        self.theirs.login(*self.login)
        for command in commands:
            self.theirs.ok(command)

    def both(self, *pieces: bytes | str) -> tuple[Reply, Reply]:
        return self.ours.command(*pieces), self.theirs.command(*pieces)

    def ok(self, *pieces: bytes | str) -> tuple[Reply, Reply]:
        return self.ours.ok(*pieces), self.theirs.ok(*pieces)

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()


def load(pair: Pair, messages: list[Message], late: list[Message]) -> None:
    pair.ok(f"CREATE {MAILBOX}")
    for msg in messages:
        pair.ok(f"APPEND {MAILBOX} ({msg.flags}) \"{msg.internaldate}\" ", msg.data)
    pair.ok(f"SELECT {MAILBOX}")
    pair.ok("SELECT INBOX")  # leaves the mailbox without expunging (CLOSE would)
    for msg in late:
        pair.ok(f"APPEND {MAILBOX} ({msg.flags}) \"{msg.internaldate}\" ", msg.data)


def _fetch(conn: Conn, number: int, items: list[str]) -> dict[str, object]:
    reply = conn.ok(f"FETCH {number} ({' '.join(items)})")
    got = reply.fetches().get(number, {})
    return {k: v for k, v in got.items()}


def fetch_differences(pair: Pair, messages: list[Message]) -> tuple[int, list[Difference]]:
    """(number of FETCH items compared, differences)."""
    pair.ok(f"EXAMINE {MAILBOX}")
    compared, diffs = 0, []
    for number, msg in enumerate(messages, 1):
        ours = _fetch(pair.ours, number, list(SIMPLE_ITEMS))
        theirs = _fetch(pair.theirs, number, list(SIMPLE_ITEMS))
        size = int(str(ours.get("RFC822.SIZE", 0)))
        items = list(SIMPLE_ITEMS)
        sections = section_items(ours.get("BODYSTRUCTURE"), size)
        for i in range(0, len(sections), BATCH):
            ours.update(_fetch(pair.ours, number, sections[i : i + BATCH]))
            theirs.update(_fetch(pair.theirs, number, sections[i : i + BATCH]))
        items += sections
        for item in items:
            key = response_key(item)
            compared += 1
            a = normalise(key, ours.get(key, "<missing>"))
            b = normalise(key, theirs.get(key, "<missing>"))
            if a != b:
                diffs.append(Difference(msg.name, key, a, b))
    pair.ok("SELECT INBOX")
    return compared, diffs


def search_differences(pair: Pair, queries: list[tuple[bytes | str, ...]]
                       ) -> tuple[int, list[Difference]]:
    """(number of SEARCH commands compared, differences in status or result set)."""
    pair.ok(f"SELECT {MAILBOX}")
    diffs = []
    for query in queries:
        ours, theirs = pair.both(*query)
        label = " ".join(q if isinstance(q, str) else repr(q) for q in query)
        if ours.status != theirs.status:
            diffs.append(Difference(label, "status", f"{ours.status} {ours.text}",
                                    f"{theirs.status} {theirs.text}"))
            continue
        if ours.status == "OK" and ours.search() != theirs.search():
            diffs.append(Difference(label, "result", ours.search(), theirs.search()))
    return len(queries), diffs


def binary_differences(pair: Pair, messages: list[Message]) -> tuple[int, list[Difference]]:
    """(number of BINARY commands compared, differences): ``BINARY.PEEK[part]`` and
    ``BINARY.SIZE[part]`` of every part, one command each, since a part whose encoding
    is unknown fails the whole FETCH (``NO [UNKNOWN-CTE]``, RFC 3516 section 4.3).
    Also checked on pyimapd alone: BINARY.SIZE is the length of what BINARY returns."""
    pair.ok(f"EXAMINE {MAILBOX}")
    compared, diffs = 0, []
    for number, msg in enumerate(messages, 1):
        if len(msg.data) > BINARY_MAX:
            continue
        structure = _fetch(pair.ours, number, ["BODYSTRUCTURE"]).get("BODYSTRUCTURE")
        for spec in binary_specs(structure):
            compared += 1
            command = f"FETCH {number} (BINARY.PEEK[{spec}] BINARY.SIZE[{spec}])"
            ours = pair.ours.command(command)
            try:
                theirs = pair.theirs.command(command)
            except IMAPError as exc:  # Dovecot 2.3's imap process can die on BINARY
                diffs.append(Difference(msg.name, f"BINARY[{spec}] status", ours.status,
                                        f"disconnected: {exc}"))
                pair.reopen_theirs(f"EXAMINE {MAILBOX}")
                continue
            if ours.status != theirs.status:
                diffs.append(Difference(msg.name, f"BINARY[{spec}] status",
                                        f"{ours.status} {ours.text}",
                                        f"{theirs.status} {theirs.text}"))
                continue
            if ours.status != "OK":
                continue
            a, b = ours.fetches().get(number, {}), theirs.fetches().get(number, {})
            for key in (f"BINARY[{spec}]", f"BINARY.SIZE[{spec}]"):
                if a.get(key, "<missing>") != b.get(key, "<missing>"):
                    diffs.append(Difference(msg.name, key, a.get(key, "<missing>"),
                                            b.get(key, "<missing>")))
            data, size = a.get(f"BINARY[{spec}]"), a.get(f"BINARY.SIZE[{spec}]")
            if isinstance(data, bytes) and str(size) != str(len(data)):
                diffs.append(Difference(msg.name, f"BINARY.SIZE[{spec}] self", size, len(data)))
    pair.ok("SELECT INBOX")
    return compared, diffs


def sort_differences(pair: Pair, queries: list[str]) -> tuple[int, list[Difference]]:
    """(number of SORT commands compared, differences in status or order)."""
    pair.ok(f"SELECT {MAILBOX}")
    diffs = []
    for query in queries:
        ours, theirs = pair.both(query)
        if ours.status != theirs.status:
            diffs.append(Difference(query, "status", f"{ours.status} {ours.text}",
                                    f"{theirs.status} {theirs.text}"))
        elif ours.status == "OK" and ours.sort() != theirs.sort():
            diffs.append(Difference(query, "order", ours.sort(), theirs.sort()))
    return len(queries), diffs
