"""A one-line progress report on stderr for long imports and exports.

On a terminal the line is redrawn in place (at most every ``interval`` seconds); in a
log file or a CI run a new line is written every ``log_interval`` seconds instead, so the
output stays readable. No dependency: this is all a bar needs to be.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    """``total`` and ``done`` are bytes when ``in_bytes`` (an mbox), else messages."""

    def __init__(
        self, label: str, total: int | None = None, in_bytes: bool = False,
        stream: TextIO | None = None, enabled: bool = True,
        interval: float = 0.25, log_interval: float = 10.0,
    ) -> None:
        self.label = label
        self.total = total
        self.in_bytes = in_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.interval = interval if self.tty else log_interval
        self.started = time.monotonic()
        self.last = 0.0
        self.messages = 0
        self.done = 0
        self.skipped = 0

    def update(self, done: int | None = None, skipped: bool = False) -> None:
        """One more message; ``done`` is the new position (bytes) when ``in_bytes``."""
        self.messages += 1
        self.skipped += skipped
        self.done = done if done is not None else self.messages
        now = time.monotonic()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            self._draw(final=False)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        parts = [f"{self.label}: {self.messages} messages"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.total:
            pct = min(100.0, 100.0 * self.done / self.total)
            amount = (f"{_human(self.done)}/{_human(self.total)}" if self.in_bytes
                      else f"{self.done}/{self.total}")
            parts.append(f"{pct:5.1f}% ({amount})")
        parts.append(f"{self.messages / elapsed:.0f} msg/s")
        return ", ".join(parts)

    def _draw(self, final: bool) -> None:
        if self.tty:
            end = "\n" if final else ""
            self.stream.write("\r\x1b[K" + self.line() + end)
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(final=True)
