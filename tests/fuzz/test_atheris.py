"""Runs the atheris harness on the protocol and MIME parsers for a bounded time (CI:
``PYIMAPD_FUZZ_SECONDS`` per target, default 20) from a seed corpus, and fails on any
crash or on any input that runs longer than :data:`PER_INPUT` seconds. The seeds include
inputs built to maximise work (wildcard runs, encoded-word floods, near-boundaries:
docs/security.md, "Work a client controls"), so mutations start from the expensive
shapes. The figures (executions, corpus size) are printed for the record."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from serverutil import python_env

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("PYIMAPD_FUZZ_SECONDS", "20"))
PER_INPUT = 2
"""libFuzzer's per-input timeout in seconds: a 4 KiB input takes milliseconds."""

SEEDS = {
    "protocol": [
        b"\x05a LOGIN {4}\r\nuser pass\r\n", b"\x00a APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
        b"\x10a UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE)]<0.10>)\r\n",
        b"\x03a SEARCH OR (FROM x) NOT SUBJECT {3+}\r\nabc SINCE 1-Jan-2020\r\n",
        b"\x01a AUTHENTICATE PLAIN AGIAZw==\r\n",
        b"\x02a STORE 1,2:4 +FLAGS.SILENT (\\Deleted)\r\n",
        b"\x07a LIST \"\" \"&AOk-*\"\r\nb STATUS INBOX (MESSAGES UIDNEXT)\r\n",
        # built to maximise work
        b"\x00a LIST \"\" " + b"*a" * 200 + b"X\r\n",
        b"\x00a SEARCH " + b"NOT (" * 100 + b"ALL" + b")" * 100 + b"\r\n",
        b"\x00a SEARCH " + b"BODY b " * 60 + b"ALL\r\n",
        b'\x00a LOGIN "' + b"\\\\" * 200 + b'" {1+}\r\nx\r\n',
        b"\x00a STORE 1 +FLAGS (" + b" {1+}\r\nx" * 7 + b")\r\n",
        b"\x00a FETCH 1 BODY[HEADER.FIELDS (" + b"A " * 200 + b")]\r\n",
    ],
    "mime": [
        (HERE.parent / "mime" / "corpus").glob("*"),
        # built to maximise work
        b"Subject: " + b"=?utf-8?q?a?= " * 250 + b"\r\n\r\nx\r\n",
        b"Subject: " + b"(fwd)" * 600 + b"\r\nTo: " + b"g:" * 500 + b"\r\n\r\n",
        b"Subject: " + b"[a]" * 600 + b"re: " * 300 + b"\r\n\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + b" " * 3000 + b"x\r\n",
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\n"
        + b"--z\r\n" * 600 + b"--zz--\r\n",
        b"Content-Type: text/plain" + b"; a*1*=x" * 300 + b"\r\n\r\n",
        b"References: " + b"<a@b> " * 600 + b"\r\n\r\n",
    ],
}


def _seed(corpus: Path, target: str) -> None:
    corpus.mkdir()
    n = 0
    for seed in SEEDS[target]:
        items = [seed] if isinstance(seed, bytes) else [p.read_bytes() for p in seed
                                                        if p.is_file()][:40]
        for data in items:
            (corpus / f"seed-{n}").write_bytes(data)
            n += 1
    if n == 0:
        (corpus / "seed-0").write_bytes(b"Subject: x\r\n\r\nbody\r\n")


@pytest.mark.parametrize("target", ["protocol", "mime"])
def test_atheris(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    _seed(corpus, target)
    before = len(list(corpus.iterdir()))
    proc = subprocess.run(
        [sys.executable, str(HERE / "atheris_harness.py"), target, str(corpus),
         f"-max_total_time={SECONDS}", "-print_final_stats=1", "-max_len=4096",
         "-rss_limit_mb=1024", f"-timeout={PER_INPUT}"],
        capture_output=True, text=True, timeout=SECONDS + 120, env=python_env(), cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    assert execs is not None, out[-2000:]
    after = len(list(corpus.iterdir()))
    print(f"atheris {target}: {execs.group(1)} executions in {SECONDS}s, "
          f"corpus {before} -> {after}")
    assert int(execs.group(1)) > 0 and after >= before
