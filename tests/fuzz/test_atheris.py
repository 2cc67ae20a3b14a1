"""Runs the atheris harness on the protocol and MIME parsers for a bounded time (CI:
``PYIMAPD_FUZZ_SECONDS`` per target, default 20) from a seed corpus, and fails on any
crash. The figures (executions, corpus size) are printed for the record."""

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

SEEDS = {
    "protocol": [
        b"\x05a LOGIN {4}\r\nuser pass\r\n", b"\x00a APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
        b"\x10a UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE)]<0.10>)\r\n",
        b"\x03a SEARCH OR (FROM x) NOT SUBJECT {3+}\r\nabc SINCE 1-Jan-2020\r\n",
        b"\x01a AUTHENTICATE PLAIN AGIAZw==\r\n",
        b"\x02a STORE 1,2:4 +FLAGS.SILENT (\\Deleted)\r\n",
        b"\x07a LIST \"\" \"&AOk-*\"\r\nb STATUS INBOX (MESSAGES UIDNEXT)\r\n",
    ],
    "mime": [
        (HERE.parent / "mime" / "corpus").glob("*"),
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
         "-rss_limit_mb=1024", "-timeout=10"],
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
