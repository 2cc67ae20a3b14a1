"""The store as the client scenarios check it: seeded and read over a separate IMAP
connection (stdlib imaplib), never through the client under test.

Each call logs in, does one thing and logs out, so it sees the store as it is now (what
the client committed), not a cached view.  EXAMINE is used for reads: checking must not
change \\Recent or \\Seen.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import re
import shlex
import smtplib
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Stored:
    """One message as the store holds it."""

    uid: int
    flags: frozenset[str]
    raw: bytes

    @property
    def subject(self) -> str:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        return str(msg["Subject"] or "")

    @property
    def text(self) -> str:
        """The first text/plain part, decoded (what a person typed)."""
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        part = msg.get_body(("plain",))
        return part.get_content() if part is not None else ""


class Store:
    """One account on the server under test."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password

    @contextmanager
    def imap(self) -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                conn.shutdown()

    def append(self, mailbox: str, message: bytes, flags: str = "",
               date: str | None = None) -> None:
        when = imaplib.Time2Internaldate(time.time()) if date is None else date
        with self.imap() as conn:
            typ, data = conn.append(_quote(mailbox), flags or None, when, message)
            assert typ == "OK", data

    def create(self, mailbox: str) -> None:
        with self.imap() as conn:
            typ, data = conn.create(_quote(mailbox))
            assert typ == "OK", data
            conn.subscribe(_quote(mailbox))

    def mailboxes(self) -> set[str]:
        return self._names("LIST")

    def subscriptions(self) -> set[str]:
        return self._names("LSUB")

    def _names(self, command: str) -> set[str]:
        with self.imap() as conn:
            typ, data = conn.lsub() if command == "LSUB" else conn.list()
            assert typ == "OK", data
        names = set()
        for line in data:
            assert isinstance(line, bytes)
            m = re.match(rb'\(.*?\) (?:NIL|"(?:[^"\\]|\\.)") (.*)$', line)
            assert m, line
            names.add(m.group(1).decode().strip('"'))
        return names

    def messages(self, mailbox: str) -> list[Stored]:
        """Every message in ``mailbox``, in UID order, with its flags and bytes."""
        with self.imap() as conn:
            typ, data = conn.select(_quote(mailbox), readonly=True)
            assert typ == "OK", data
            if int(data[0] or 0) == 0:
                return []
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            assert typ == "OK", data
        out = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta = item[0].decode()
            uid = int(re.search(r"UID (\d+)", meta).group(1))  # type: ignore[union-attr]
            flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1)  # type: ignore[union-attr]
            out.append(Stored(uid, frozenset(flags.split()), item[1]))
        return sorted(out, key=lambda m: m.uid)

    def subjects(self, mailbox: str) -> list[str]:
        return [m.subject for m in self.messages(mailbox)]

    def search(self, mailbox: str, *criteria: str) -> list[str]:
        """Subjects of the messages the store finds for ``criteria`` (UID order)."""
        with self.imap() as conn:
            conn.select(_quote(mailbox), readonly=True)
            typ, data = conn.uid("SEARCH", *criteria)
            assert typ == "OK", data
        found = {int(u) for u in data[0].split()}
        return [m.subject for m in self.messages(mailbox) if m.uid in found]

    def acl(self, mailbox: str) -> dict[str, set[str]]:
        """GETACL (RFC 4314 section 3.3): identifier -> rights."""
        with self.imap() as conn:
            typ, data = conn.getacl(_quote(mailbox))
            assert typ == "OK", data
        words = shlex.split(b" ".join(d for d in data if isinstance(d, bytes)).decode())
        return {who: set(what) for who, what in zip(words[1::2], words[2::2], strict=True)}

    def myrights(self, mailbox: str) -> str:
        """MYRIGHTS (RFC 4314 section 3.5): the rights letters, as the server sent them."""
        with self.imap() as conn:
            typ, data = conn.myrights(_quote(mailbox))
            assert typ == "OK", data
        return shlex.split(data[0].decode())[-1]

    def deliver(self, lmtp_port: int, message: bytes) -> None:
        """Over LMTP, as the MTA in front would, so the user's Sieve script runs."""
        with smtplib.LMTP(self.host, lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail("sender@example.org", [self.user], message)
            assert not refused, refused


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sieve_scripts(host: str, port: int, user: str, password: str) -> dict[str, str]:
    """The user's Sieve scripts over ManageSieve (RFC 5804): name -> text; the active
    one is under the key ``"*active*"`` as well."""
    from sievelib.managesieve import Client

    client = Client(host, port)
    with warnings.catch_warnings():  # plain text on loopback is what the tests mean to do
        warnings.simplefilter("ignore", UserWarning)
        assert client.connect(user, password, starttls=False, authmech="PLAIN"), "sieve login"
    try:
        active, others = client.listscripts()
        names = ([active] if active else []) + list(others)
        out = {name: client.getscript(name) for name in names}
        if active:
            out["*active*"] = out[active]
        return out
    finally:
        client.logout()


def sort_subjects(store: Store, mailbox: str, criteria: str) -> list[str]:
    """The subjects in the order the server's SORT (RFC 5256) gives for ``criteria``."""
    with store.imap() as conn:
        conn.select(_quote(mailbox), readonly=True)
        typ, data = conn.uid("SORT", f"({criteria})", "UTF-8", "ALL")
        assert typ == "OK", data
    by_uid = {m.uid: m.subject for m in store.messages(mailbox)}
    return [by_uid[int(u)] for u in data[0].split()]


def threads(store: Store, mailbox: str) -> list[list[str]]:
    """THREAD REFERENCES (RFC 5256) flattened: the subjects of each thread, in order."""
    with store.imap() as conn:
        conn.select(_quote(mailbox), readonly=True)
        typ, data = conn.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
        assert typ == "OK", data
    by_uid = {m.uid: m.subject for m in store.messages(mailbox)}
    out, depth, current = [], 0, []
    for token in re.findall(rb"\(|\)|\d+", data[0] or b""):
        if token == b"(":
            depth += 1
        elif token == b")":
            depth -= 1
            if depth == 0:
                out.append(current)
                current = []
        else:
            current.append(by_uid[int(token)])
    return out
