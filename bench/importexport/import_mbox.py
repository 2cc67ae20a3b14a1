"""Import an N-message generated mbox with ``pyimapd import`` and report time, rate and
the import process's peak memory (ru_maxrss), then export it again.

    .venv/bin/python bench/importexport/import_mbox.py [N] [--keep]

Memory must not grow with N: the importer streams the file one message at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str | None = None) -> tuple[float, int, str]:
    """Runs ``pyimapd ARGS``; returns (seconds, peak RSS KiB of that process, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "pyimapd", *args], text=True, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"pyimapd {' '.join(args)} failed ({proc.returncode})")
    return time.monotonic() - start, usage.ru_maxrss, out


def generate(path: Path, n: int) -> None:
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 40)
    with open(path, "w") as fp:
        for i in range(n):
            fp.write(f"From bench@example.org Mon Jan  2 10:{i % 60:02d}:00 2023\n"
                     f"From: bench@example.org\nSubject: bench {i}\n"
                     f"Message-ID: <bench.{i}@example.org>\nStatus: {'RO' if i % 2 else 'O'}\n\n"
                     f"{body}>From a quoted line\n\n")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base = Path(tempfile.mkdtemp(prefix="pyimapd-bench-import-"))
    try:
        mbox, data = base / "big.mbox", base / "data"
        generate(mbox, n)
        print(f"mbox: {n} messages, {mbox.stat().st_size / 2**20:.1f} MiB")
        cli("user", "add", "bench", "--password-stdin", "--data-dir", str(data), stdin="x")
        t, rss, out = cli("import", "bench", str(mbox), "--quiet", "--data-dir", str(data))
        print(out.strip().splitlines()[-1])
        print(f"import: {t:.1f} s, {n / t:.0f} msg/s, peak RSS {rss / 1024:.0f} MiB")
        t, rss, out = cli("export", "bench", str(base / "out"), "--quiet",
                          "--data-dir", str(data))
        print(f"export: {t:.1f} s, {n / t:.0f} msg/s, peak RSS {rss / 1024:.0f} MiB")
    finally:
        if "--keep" not in sys.argv:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
