"""The full-text index changes no SEARCH answer (issue 17): for every text key and a
generated corpus, the indexed answer of each database backend equals its unindexed one
(the exact path alone) and the reference evaluator's (the memory backend), with every
content indexed and with part of them still pending, as after an upgrade."""

from __future__ import annotations

import base64
import quopri
import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.header import Header as EncodedHeader
from pathlib import Path
from typing import Any

import pytest

from pyimapd.delivery import prepare_bytes
from pyimapd.search.ast import And, Body, Fuzzy, Header, Not, Or, SearchKey, Text
from pyimapd.storage.interface import Backend, MailStore
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.sql import messages
from storage.conftest import make_backend

WHEN = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

WORDS = ["grüße", "straße", "café", "naïve", "œuvre", "€uro", "“quoted”", "déjà",
         "zebra", "quartz", "mailbox", "kangaroo", "x%y_z", "back\\slash", 'say"hi"',
         "Ünïcode", "ÉCOLE", "ascii", "needle", "haystack", "example.net", "ĳssel"]
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252"]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _encodable(text: str, charset: str) -> str:
    return text.encode(charset, "replace").decode(charset)


def _body(rng: random.Random, text: str, charset: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, encoded body) of ``text`` in ``charset``."""
    raw = text.encode(charset, "replace")
    kind = rng.choice(["8bit", "base64", "quoted-printable"])
    if kind == "base64":
        return kind, base64.encodebytes(raw).replace(b"\n", b"\r\n")
    if kind == "quoted-printable":  # soft line breaks inside words
        return kind, quopri.encodestring(raw).replace(b"\n", b"\r\n")
    return kind, raw.replace(b"\n", b"\r\n")


def _text_part(rng: random.Random, text: str, html: bool = False) -> bytes:
    charset = rng.choice(CHARSETS)
    text = _encodable(text, charset)
    if html:
        text = f"<html><body><p>{text}</p><br>\n<b>{_sentence(rng, 2)}</b></body></html>"
    cte, data = _body(rng, text, charset)
    kind = "html" if html else "plain"
    return (f"Content-Type: text/{kind}; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode() + data + b"\r\n"


def _attachment(rng: random.Random, boundary: str) -> bytes:
    name = rng.choice(["report", "Grüße", "façade", "plan"]) + rng.choice([".pdf", ".txt"])
    if name.isascii():
        disposition = f'attachment; filename="{name}"'
    else:  # RFC 2231 section 4
        disposition = "attachment; filename*=utf-8''" + "".join(
            f"%{b:02X}" for b in name.encode())
    return (f"--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n"
            f"Content-Disposition: {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ).encode() + base64.encodebytes(rng.randbytes(30)) + b"\r\n"


def _subject(rng: random.Random) -> str:
    text = _sentence(rng, rng.randint(2, 6))
    if rng.random() < 0.5:  # RFC 2047 words, folded
        charset = rng.choice(CHARSETS)
        return EncodedHeader(_encodable(text, charset), charset,
                             maxlinelen=40).encode(linesep="\r\n")
    return text.encode("ascii", "replace").decode().replace(" ", "\r\n ", 1)


def _headers(rng: random.Random, i: int) -> str:
    host = rng.choice(["example.net", "example.org", "mail.example.net"])
    display = EncodedHeader(_encodable(rng.choice(WORDS) + " User", "utf-8"), "utf-8").encode()
    lines = [
        f"From: {display} <user{i % 7}@{host}>",
        f"To: friend{i % 5}@example.org, \"Other, Person\" <other{i % 3}@{host}>",
        f"Subject: {_subject(rng)}",
        f"Date: Mon, {1 + i % 28} Jan 2024 10:00:00 +0100",
        f"X-Custom: {_sentence(rng, 2).encode('ascii', 'replace').decode()}",
    ]
    if i % 3 == 0:
        lines.append(f"Cc: <cc{i}@example.com>,\r\n\tsecond@{host}")
    if i % 4 == 0:
        lines.append(f"Bcc: hidden{i}@example.net")
    return "\r\n".join(lines) + "\r\n"


def message(rng: random.Random, i: int) -> bytes:
    """One message of the corpus: a single text part, or multipart with an HTML
    alternative, attachments, or an encapsulated message."""
    text = "\n".join(_sentence(rng, rng.randint(3, 9)) for _ in range(rng.randint(1, 5)))
    head = _headers(rng, i).encode()
    shape = i % 4
    if shape == 0:
        return head + b"MIME-Version: 1.0\r\n" + _text_part(rng, text)
    boundary = f"b{i}x"
    parts = [b"--" + boundary.encode() + b"\r\n" + _text_part(rng, text)]
    if shape == 1:
        parts.append(b"--" + boundary.encode() + b"\r\n" + _text_part(rng, text, html=True))
    elif shape == 2:
        parts.append(_attachment(rng, boundary))
    else:
        inner = _headers(rng, i + 1000).encode() + _text_part(rng, _sentence(rng, 5))
        parts.append(f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode() + inner)
    kind = "alternative" if shape == 1 else "mixed"
    return (head + f"MIME-Version: 1.0\r\nContent-Type: multipart/{kind};"
            f" boundary=\"{boundary}\"\r\n\r\n".encode() + b"".join(parts)
            + f"--{boundary}--\r\n".encode())


def corpus(n: int = 48, seed: int = 17) -> list[bytes]:
    rng = random.Random(seed)
    return [message(rng, i) for i in range(n)]


def needles(seed: int = 5) -> list[str]:
    """Whole words, pieces of words (short ones too), needles crossing a line break or a
    word boundary, other cases, LIKE and FTS5 metacharacters, and misses."""
    rng = random.Random(seed)
    found = ["", "a", "é", "ße", "ss", "€", "“", '"', "%", "_", "\\", "x%y", "y_z", 'y"h',
             "\nzebra", "zebra\n", "ascii\nneedle", "net\n", "EXAMPLE.NET", "example.net",
             "user3@", "@example.org", "Other, Person", "Grüße", "Gr%C3%BC", "report.pdf",
             "filename", "attachment", "content-type: text/html", "subject: ", "<b>",
             "nomatchatall", "zzz", "quartz mailbox", "e\u0301", "ﬁ"]
    for _ in range(40):
        word = rng.choice(WORDS)
        start = rng.randrange(len(word))
        found.append(word[start : start + rng.randint(1, 8)])
    for _ in range(10):
        found.append(rng.choice(WORDS)[-3:] + " " + rng.choice(WORDS)[:3])
    return list(dict.fromkeys(found))


def keys() -> Iterator[SearchKey]:
    for needle in needles():
        yield Body(needle)
        yield Text(needle)
        for name in ("SUBJECT", "FROM", "TO", "CC", "BCC", "X-CUSTOM", "CONTENT-TYPE"):
            yield Header(name, needle)
    yield Or(Body("zebra"), Header("FROM", "user1@"))


async def _filled(kind: str, path: Path) -> AsyncIterator[tuple[Backend, Any]]:
    backend = make_backend(kind, path)
    if isinstance(backend, PostgresBackend):
        await backend.migrate()
    await backend.start()
    await backend.users.add_user("alice", "h", default_mailboxes=False)
    store: MailStore = await backend.open("alice")
    for data in corpus():
        spool, prepared = await prepare_bytes(data)
        try:
            await store.append("INBOX", prepared, frozenset(), WHEN)
        finally:
            spool.close()
    selected, _ = await store.select("INBOX", readonly=True)
    try:
        yield backend, selected
    finally:
        await backend.close()


async def _answers(selected: Any) -> list[list[int]]:
    return [await selected.search(key) for key in keys()]


@pytest.fixture
async def reference(tmp_path: Path) -> list[list[int]]:
    async for _backend, selected in _filled("memory", tmp_path / "memory"):
        return await _answers(selected)
    raise AssertionError("unreachable")


def _without_index(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_filter(d: Any) -> Iterator[Any]:
        return None
        yield  # a routine that reads nothing

    monkeypatch.setattr(messages, "search_filter", no_filter)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_indexed_answers_are_the_exact_ones(
    kind: str, tmp_path: Path, reference: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    async for backend, selected in _filled(kind, tmp_path):
        indexed = await _answers(selected)
        assert await backend.text_index_status() == (True, 0)  # type: ignore[attr-defined]
        with monkeypatch.context() as patch:
            _without_index(patch)
            exact = await _answers(selected)
        assert sum(bool(found) for found in exact) > len(exact) // 4  # the corpus matches
        diffs = [(key, i, e) for key, i, e in zip(keys(), indexed, exact, strict=True)
                 if i != e]
        assert not diffs, diffs[:5]
        assert exact == reference


async def test_half_pending_sqlite_index_answers_exactly(
    tmp_path: Path, reference: list[list[int]]
) -> None:
    """As after the upgrade that adds the index: some contents are not indexed yet, and
    the searches that find them must still do so."""
    from pyimapd.storage.sqlite import textindex

    async for backend, selected in _filled("sqlite", tmp_path):
        db = backend.db  # type: ignore[attr-defined]
        assert await db.write(textindex.reset) == len(corpus())
        assert await db.write(textindex.index_batch, None, len(corpus()) // 2) > 0
        assert await backend.text_index_status() == (  # type: ignore[attr-defined]
            True, len(corpus()) - len(corpus()) // 2)
        assert await _answers(selected) == reference
        while await db.write(textindex.index_batch):
            pass
        assert await db.read(textindex.damaged) is None
        assert await _answers(selected) == reference


async def test_expunged_contents_leave_the_sqlite_index(tmp_path: Path) -> None:
    """The delete trigger hands FTS5 the text it indexed, for an EXPUNGE and for the
    cascade of an account's deletion, so the index stays exact (FTS5's own check)."""
    from pyimapd.storage.sqlite import textindex

    async for backend, _selected in _filled("sqlite", tmp_path):
        store = await backend.open("alice")
        selected, _ = await store.select("INBOX", readonly=False)
        uids = await selected.search(Body("zebra"))
        assert uids
        await selected.store(uids[::2], "+", frozenset({"\\Deleted"}))
        assert await selected.expunge() == uids[::2]
        assert await selected.search(Body("zebra")) == uids[1::2]
        db = backend.db  # type: ignore[attr-defined]
        assert await db.read(textindex.damaged) is None
        await backend.users.delete_user("alice")
        assert await db.read(textindex.damaged) is None
        assert await db.read_small(_indexed) == 0


def _indexed(d: Any) -> Iterator[Any]:
    from pyimapd.storage.sql.core import value

    return (yield value("SELECT count(*) FROM content_body_fts WHERE content_body_fts"
                        " MATCH 'zeb'"))


def fuzzy_keys() -> Iterator[SearchKey]:
    """FUZZY on every string key, with misspellings (a letter dropped, two swapped) of
    the corpus words, and inside AND, OR and NOT, where the scores combine."""
    rng = random.Random(11)
    for word in WORDS + ["quartz mailbox", "kangaroo haystack", "exmaple.net", "zz"]:
        typo = word
        if len(word) > 4:
            i = rng.randrange(1, len(word) - 2)
            typo = rng.choice([word[:i] + word[i + 1:], word[:i] + word[i + 1] + word[i]
                               + word[i + 2:]])
        for inner in (Body(typo), Text(typo), Header("SUBJECT", typo), Header("FROM", typo)):
            yield Fuzzy(inner)
    yield And((Fuzzy(Body("kangaro")), Fuzzy(Header("SUBJECT", "zebar"))))
    yield Or(Fuzzy(Text("hayztack")), Header("FROM", "user1@"))
    yield Or(Body("zebra"), Not(Fuzzy(Body("mailbx"))))


async def _scored(selected: Any) -> list[list[tuple[int, int]]]:
    return [await selected.search_scored(key) for key in fuzzy_keys()]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_fuzzy_answers_and_scores_are_the_reference_ones(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FUZZY behind the index (its trigram filter) and without it give the reference
    evaluator's messages and relevancy scores; plain search agrees with the scored one."""
    async for _backend, selected in _filled("memory", tmp_path / "memory"):
        reference = await _scored(selected)
    assert sum(bool(found) for found in reference) > len(reference) // 3
    assert any(score < 100 for found in reference for _, score in found)
    async for _backend, selected in _filled(kind, tmp_path / kind):
        indexed = await _scored(selected)
        plain = [await selected.search(key) for key in fuzzy_keys()]
        with monkeypatch.context() as patch:
            _without_index(patch)
            exact = await _scored(selected)
    keys_ = list(fuzzy_keys())
    assert [(k, i) for k, i, r in zip(keys_, indexed, reference, strict=True) if i != r] == []
    assert exact == reference
    assert plain == [[uid for uid, _ in found] for found in reference]
