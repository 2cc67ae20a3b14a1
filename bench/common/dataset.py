"""Seeded, realistic mail for the benchmarks, written as Maildir++ trees.

How this works: one text corpus (a few hundred KB of sentences from a word list) is made
once from the seed; a message body is a slice of it at a seeded offset, so making 100,000
messages costs string slicing, not a random draw per word. Message kinds follow a rough
mailbox census: plain text, multipart/alternative (text + HTML), and multipart/mixed with
one to three base64 attachments (random bytes: PDFs, JPEGs, zips). Sizes are drawn from a
per-mailbox profile between 1 KB and 5 MB. Headers are those a real client sees: Received,
From/To/Cc, Subject, Date, Message-ID, References and In-Reply-To on replies.

Files are written with LF line endings (what a Maildir holds; every server turns them into
CRLF), flags in the ``:2,`` suffix and the internal date as the mtime, so the same tree
can be handed to Dovecot and pymap (hard-linked) and to ``pyimapd import``.
"""

from __future__ import annotations

import base64
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = (  # noqa: SIM905
    "the of and to in is for on that with this be are from at as your all have new more an "
    "was we will can us about if my has but our one other do no time they he up may what "
    "which their out use any there see only so his when contact here business who web also "
    "now help get view online first been would how were me services some these click its "
    "like service than find price date back top people had list name just over state year "
    "day into email two health world next used go work last most products music buy data "
    "make them should product system post her city add policy number such please available "
    "copyright support message after best software then jan good video well where info "
    "rights public books high school through each links she review years order very privacy "
    "book items company read group need many user said does set under general research "
    "university january mail full map reviews program life know games way days management "
    "part could great united hotel real item international center must store travel comments "
    "made development report off member details line terms before hotels did send right type "
    "because local those using results office education national car design take posted "
    "internet address community within states area want phone shipping reserved subject "
    "between forum family long based code show even black check special prices website index "
    "being women much sign file link open today technology south case project same pages "
    "budget meeting invoice deadline release ticket backup upgrade contract garden recipe"
).split()
NAMES = ("Alice Martin", "Bob Chen", "Carol Diaz", "Dave Okafor", "Erin Novak", "Frank Li",
         "Grace Hopper", "Heidi Klum", "Ivan Petrov", "Judy Garland", "Mallory Stone",
         "Oscar Wilde", "Peggy Olson", "Trent Reznor", "Victor Hugo", "Walter White")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "corp.example")
ATTACH = (("application/pdf", "pdf"), ("image/jpeg", "jpg"), ("application/zip", "zip"),
          ("image/png", "png"))
FLAG_SETS = ("S", "S", "S", "S", "", "FS", "RS", "", "S", "a")


@dataclass(frozen=True)
class Profile:
    """Message sizes of one mailbox: (weight, low bytes, high bytes) buckets."""

    buckets: tuple[tuple[float, int, int], ...]


# A large archive: mostly short mail, some with small attachments (mean about 7 KB).
ARCHIVE = Profile(((0.65, 1_000, 4_000), (0.28, 4_000, 16_000), (0.07, 16_000, 60_000)))
# An everyday INBOX: 1 KB to 1 MB (mean about 40 KB).
EVERYDAY = Profile(((0.55, 1_000, 6_000), (0.30, 6_000, 60_000), (0.13, 60_000, 400_000),
                    (0.02, 400_000, 1_000_000)))
# Attachment-heavy, for body throughput: 1 KB to 5 MB (mean about 400 KB).
HEAVY = Profile(((0.30, 1_000, 10_000), (0.40, 10_000, 300_000), (0.25, 300_000, 1_500_000),
                 (0.05, 1_500_000, 5_000_000)))


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        words = [self.rng.choice(WORDS) for _ in range(120_000)]
        lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
        self.corpus = "\n".join(lines)
        self.serial = 0

    def _text(self, size: int) -> str:
        start = self.rng.randrange(0, len(self.corpus) - size - 1) if size < len(
            self.corpus) else 0
        text = self.corpus[start:start + size]
        while len(text) < size:
            text += "\n" + self.corpus[: size - len(text)]
        return text

    def _size(self, profile: Profile) -> int:
        pick = self.rng.random()
        for weight, low, high in profile.buckets:
            if pick < weight:
                return self.rng.randint(low, high)
            pick -= weight
        return profile.buckets[-1][1]

    def _headers(self, when: datetime, ctype: str) -> str:
        rng = self.rng
        self.serial += 1
        sender, to = rng.choice(NAMES), rng.choice(NAMES)
        sdom = rng.choice(DOMAINS)
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))).capitalize()
        mid = f"<{self.serial}.{rng.getrandbits(40):x}@{sdom}>"
        lines = [
            f"Return-Path: <{sender.split()[0].lower()}@{sdom}>",
            f"Received: from mx{rng.randint(1, 9)}.{sdom} (mx.{sdom} [192.0.2."
            f"{rng.randint(1, 254)}]) by mail.example.com with ESMTPS id {rng.getrandbits(48):x}"
            f"; {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"From: {sender} <{sender.split()[0].lower()}@{sdom}>",
            f"To: {to} <{to.split()[0].lower()}@example.com>",
        ]
        if rng.random() < 0.3:
            cc = rng.choice(NAMES)
            lines.append(f"Cc: {cc} <{cc.split()[0].lower()}@{rng.choice(DOMAINS)}>")
        if rng.random() < 0.35:
            ref = f"<{rng.randint(1, max(1, self.serial))}.{rng.getrandbits(40):x}@{sdom}>"
            subject = "Re: " + subject
            lines += [f"In-Reply-To: {ref}", f"References: {ref}"]
        lines += [
            f"Subject: {subject}",
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: {mid}",
            "MIME-Version: 1.0",
            f"Content-Type: {ctype}",
        ]
        return "\n".join(lines) + "\n"

    def message(self, profile: Profile, when: datetime) -> bytes:
        """One message of about the size the profile draws (LF line endings)."""
        rng = self.rng
        size = self._size(profile)
        boundary = f"=_b{rng.getrandbits(64):016x}"
        if size > 12_000 or rng.random() < 0.15:
            text_len = min(size, rng.randint(400, 4000))
            parts = [f"Content-Type: text/plain; charset=utf-8\n\n{self._text(text_len)}\n"]
            remaining = max(500, size - text_len - 600)
            count = 1 if remaining < 50_000 else rng.randint(1, 3)
            for _ in range(count):
                ctype, ext = rng.choice(ATTACH)
                raw = rng.randbytes(max(300, remaining // count * 3 // 4))
                encoded = base64.encodebytes(raw).decode()
                name = f"{rng.choice(WORDS)}-{rng.randint(1, 999)}.{ext}"
                parts.append(
                    f"Content-Type: {ctype}; name=\"{name}\"\n"
                    f"Content-Disposition: attachment; filename=\"{name}\"\n"
                    f"Content-Transfer-Encoding: base64\n\n{encoded}")
            body = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--\n"
            head = self._headers(when, f"multipart/mixed; boundary=\"{boundary}\"")
        elif rng.random() < 0.4:
            text = self._text(max(200, size // 3))
            html = "<html><body><p>" + self._text(max(200, size // 2)).replace(
                "\n", "</p>\n<p>") + "</p></body></html>"
            body = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
                    f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n{html}\n"
                    f"--{boundary}--\n")
            head = self._headers(when, f"multipart/alternative; boundary=\"{boundary}\"")
        else:
            body = self._text(max(200, size - 700)) + "\n"
            head = self._headers(when, "text/plain; charset=utf-8; format=flowed")
        return (head + "\n" + body).encode()


def write_maildir(folder: Path, gen: Generator, profile: Profile, count: int,
                  start: datetime) -> int:
    """``count`` messages into the Maildir ``folder`` (cur/, flags, mtime); total bytes."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "dovecot-keywords").write_text("0 $Work\n")
    total = 0
    step = timedelta(minutes=7)
    for i in range(count):
        when = start + step * i
        data = gen.message(profile, when)
        total += len(data)
        flags = gen.rng.choice(FLAG_SETS)
        path = folder / "cur" / f"{int(when.timestamp())}.M{i}P1.bench:2,{flags}"
        path.write_bytes(data)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))
    return total


@dataclass(frozen=True)
class Layout:
    """Who has which mailbox, and how big: the whole data set of a run."""

    big_messages: int
    mix_users: int
    mix_messages: int
    heavy_messages: int


USER_BIG, USER_HEAVY, MIX_PREFIX, PASSWORD = "big", "heavy", "mix", "benchpw"


def mix_user(i: int) -> str:
    return f"{MIX_PREFIX}{i:02d}"


def users(layout: Layout) -> list[str]:
    return [USER_BIG, USER_HEAVY] + [mix_user(i) for i in range(layout.mix_users)]


def generate(root: Path, layout: Layout, seed: int) -> dict[str, int]:
    """Maildir++ roots ``root/USER`` for every user; returns bytes per user."""
    gen = Generator(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    sizes = {
        USER_BIG: write_maildir(root / USER_BIG, gen, ARCHIVE, layout.big_messages, start),
        USER_HEAVY: write_maildir(root / USER_HEAVY, gen, HEAVY, layout.heavy_messages, start),
    }
    for i in range(layout.mix_users):
        sizes[mix_user(i)] = write_maildir(root / mix_user(i), gen, EVERYDAY,
                                           layout.mix_messages, start)
    return sizes


def append_messages(seed: int, count: int) -> list[bytes]:
    """Messages for APPEND workloads (CRLF, everyday sizes capped at 200 KB)."""
    gen = Generator(seed)
    profile = Profile(((0.6, 1_000, 6_000), (0.3, 6_000, 40_000), (0.1, 40_000, 200_000)))
    start = datetime(2024, 6, 1, tzinfo=UTC)
    return [gen.message(profile, start + timedelta(minutes=i)).replace(b"\n", b"\r\n")
            for i in range(count)]
