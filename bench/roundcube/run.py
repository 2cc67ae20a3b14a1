"""Roundcube's pages as a person feels them, on a 10,000-message INBOX: pyimapd and
Dovecot in the same run.

How this works: one Maildir INBOX (bench/common/dataset.py, the everyday profile, with
replies that thread) is bulk-loaded into pyimapd (SQLite, as bench/compare does) and
hard-linked into a private Dovecot in PEERS.md's fast mode; both hash passwords with the
same argon2id cost.  Each server gets its own Debian Roundcube (tests/integration/
roundcube.py, imap_debug off, AUTHENTICATE PLAIN on both) that reaches it through a
timing proxy (proxy.py), and one headless Chromium drives the pages in turn:

* **visit**: submit the login form until the INBOX list (arrival order) is shown;
* **sort date** / **sort sender**: the list options dialog, date descending / sender
  ascending;
* **thread**: the same dialog, threads mode.

Per page: the browser's wall time (the click until Roundcube is idle) and the server's
time (the proxy's sum of command-to-tagged-reply intervals, over every connection, the
greeting included, until no command has come for half a second), with the command count.
Each page is measured ``--repeat`` times per server, alternating servers; the median is
reported.  Run with ``python -m bench.roundcube [--messages N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))  # the Roundcube fixture and browser of the tests

from bench.common import dataset, servers  # noqa: E402
from bench.roundcube.proxy import TimingProxy  # noqa: E402

from integration.rcbrowser import Browser, require_chromium  # noqa: E402
from integration.roundcube import start_roundcube  # noqa: E402

USER = "rcbench"
PAGES = ("visit", "sort date", "sort sender", "thread")
RC_CONFIG = """
$config['imap_debug'] = false;
$config['imap_auth_type'] = 'PLAIN';
"""


def build_inbox(root: Path, messages: int) -> Path:
    tree = root / USER
    dataset.write_maildir(tree, dataset.Generator(21), dataset.EVERYDAY, messages,
                          datetime(2020, 1, 1, tzinfo=UTC))
    return tree


class Side:
    """One server behind its proxy and its Roundcube."""

    def __init__(self, name: str, server: servers.Server, work: Path) -> None:
        self.name, self.server = name, server
        self.proxy = TimingProxy(server.port).start()
        self.roundcube = start_roundcube(work / f"roundcube-{name}", self.proxy.port,
                                         extra_config=RC_CONFIG)
        self.times: dict[str, list[dict[str, Any]]] = {page: [] for page in PAGES}

    def stop(self) -> None:
        self.roundcube.stop()
        self.proxy.stop()
        self.server.stop()


def timed(side: Side, page: str, action: Callable[[], None], browser: Browser) -> None:
    side.proxy.quiet_for(0.3)
    side.proxy.take()
    t0 = time.perf_counter()
    action()
    browser.idle()
    wall = time.perf_counter() - t0
    side.proxy.quiet_for(0.5)
    tally = side.proxy.take()
    side.times[page].append({"wall_ms": wall * 1000, "server_ms": tally.server_s * 1000,
                             "commands": tally.commands, "connections": tally.connections,
                             "by_command_ms": {k: round(sum(v) * 1000, 1)
                                               for k, v in tally.calls.items()}})


def one_round(side: Side, browser: Browser) -> None:
    browser.url = side.roundcube.url
    browser.driver.delete_all_cookies()
    browser.driver.get(side.roundcube.url + "?_task=logout")
    browser.driver.delete_all_cookies()
    browser.driver.get(side.roundcube.url)
    browser.type_into("#rcmloginuser", USER)
    browser.type_into("#rcmloginpwd", dataset.PASSWORD)

    def visit() -> None:
        browser.click("#rcmloginsubmit")
        browser.find("#messagelist tbody tr.message")

    timed(side, "visit", visit, browser)
    timed(side, "sort date", lambda: browser.list_options("date", "DESC"), browser)
    timed(side, "sort sender", lambda: browser.list_options("from", "ASC"), browser)
    timed(side, "thread", lambda: browser.list_options("date", "DESC", "threads"), browser)
    browser.list_options("", "DESC", "list")  # back to arrival order for the next round
    side.proxy.quiet_for(0.5)


def summary(sides: list[Side]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in sides:
        out[side.name] = {page: {
            key: statistics.median(run[key] for run in runs)
            for key in ("wall_ms", "server_ms", "commands", "connections")}
            for page, runs in side.times.items()}
    return out


def table(result: dict[str, Any]) -> str:
    """Markdown for docs/performance.md: server and browser ms per page, and ratios."""
    ours, peer = result["pyimapd"], result["Dovecot"]
    lines = ["| page | pyimapd server ms | Dovecot server ms | ratio | pyimapd page ms | "
             "Dovecot page ms | IMAP commands (pyimapd / Dovecot) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for page in PAGES:
        a, b = ours[page], peer[page]
        lines.append(f"| {page} | {a['server_ms']:.0f} | {b['server_ms']:.0f} | "
                     f"{a['server_ms'] / max(b['server_ms'], 0.1):.1f} | {a['wall_ms']:.0f} | "
                     f"{b['wall_ms']:.0f} | {a['commands']:.0f} / {b['commands']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.roundcube")
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=servers.ROOT / "bench" / "results")
    args = ap.parse_args()
    require_chromium()
    work = Path(tempfile.mkdtemp(prefix="bench-roundcube-"))
    tree = build_inbox(work / "maildirs", args.messages)
    t0 = time.perf_counter()
    data = servers.load_pyimapd(work, {USER: tree}, dataset.PASSWORD)
    print(f"pyimapd loaded in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    sides = [Side("pyimapd", servers.start_pyimapd(work, data), work),
             Side("Dovecot", servers.start_dovecot({USER: tree}, dataset.PASSWORD), work)]
    browser = Browser(sides[0].roundcube.url, work / "artefacts", work / "downloads")
    try:
        for side in sides:  # warm-up: Dovecot indexes the Maildir, caches fill
            one_round(side, browser)
            side.times = {page: [] for page in PAGES}
        for _ in range(args.repeat):
            for side in sides:
                one_round(side, browser)
    except BaseException:
        browser.save_artefacts("bench-failure")
        print(f"artefacts in {work / 'artefacts'}", file=sys.stderr)
        raise
    finally:
        browser.quit()
        for side in sides:
            side.stop()
    result = summary(sides)
    raw = {side.name: side.times for side in sides}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"roundcube-{stamp}.json"
    path.write_text(json.dumps({"messages": args.messages, "repeat": args.repeat,
                                "median": result, "runs": raw}, indent=1))
    print(table(result))
    print(f"written: {path}", file=sys.stderr)
