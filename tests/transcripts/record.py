"""Developer tool: replay a transcript's client side and print what a server answers.

Usage (against a private Dovecot, to check a transcript's RFC semantics by eye)::

    PYIMAPD_TEST_TARGET=dovecot .venv/bin/python tests/transcripts/record.py FILE.imap

For each command it prints the lines the transcript expects, then the lines received.
It never fails on a difference: it is for reading, not testing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serverutil import DEFAULT_USERS, start_server  # noqa: E402
from transcripts.driver import Connection, Directive, ExpectLines, Runner, Send, parse  # noqa: E402

QUIET = 0.4


def drain(conn: Connection) -> list[str]:
    conn.sock.settimeout(QUIET)
    got: list[str] = []
    try:
        while True:
            got.append(conn.next_line([]))
    except (TimeoutError, EOFError, OSError):
        pass
    conn.sock.settimeout(10)
    return got


def main(path: Path) -> None:
    steps = parse(path.read_text(), path.name)
    handle = start_server(Path(tempfile.mkdtemp()), DEFAULT_USERS)
    runner = Runner(handle.host, handle.port, path.name)
    expected: dict[int, list[str]] = {}
    try:
        for step in steps:
            if isinstance(step, ExpectLines):
                expected.setdefault(step.session, []).extend(
                    f"S{e.kind} {e.text}" for e in step.lines
                )
                continue
            for n, conn in runner.sessions.items():
                if expected.get(n):
                    got = drain(conn)
                    print(f"  [{n}] expected:\n      " + "\n      ".join(expected[n]))
                    print(f"  [{n}] got:\n      " + "\n      ".join(got))
                    expected[n] = []
            if isinstance(step, Send):
                print(f"[{step.session}] C: {bytes(step.data)!r}")
                runner.session(step.session).send(bytes(step.data))
            elif isinstance(step, Directive):
                print(f"%{step.name} {step.args}")
                if step.name not in ("closed", "discard"):
                    runner.directive(step)
        for n, lines in expected.items():
            if lines:
                got = drain(runner.session(n))
                print(f"  [{n}] expected:\n      " + "\n      ".join(lines))
                print(f"  [{n}] got:\n      " + "\n      ".join(got))
    finally:
        handle.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
