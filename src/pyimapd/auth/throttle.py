"""Progressive delay of failed logins, per client IP and per account.

How this works: each failure adds one to a counter for the client's IP address and one
for the account name tried. Before a failure is answered, the session waits
``base * 2 ** (n - 1)`` seconds (capped at ``maximum``), where n is the larger of the two
counters, so a password-guessing client slows down exponentially whether it hammers one
account from one address or sprays many accounts from one address (and vice versa).
Counters are forgotten ``window`` seconds after the last failure; a successful login
clears the account's counter (not the IP's, so one valid account does not reset a spray).
Memory is bounded: at most ``max_keys`` counters, the stalest dropped first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Counter:
    failures: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        base: float = 1.0,
        maximum: float = 15.0,
        window: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.maximum = maximum
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._counters: OrderedDict[str, _Counter] = OrderedDict()

    def _get(self, key: str) -> int:
        counter = self._counters.get(key)
        if counter is None:
            return 0
        if self._clock() - counter.last > self.window:
            del self._counters[key]
            return 0
        return counter.failures

    def failures(self, ip: str, user: str) -> int:
        return max(self._get("ip:" + ip), self._get("user:" + user.lower()))

    def record_failure(self, ip: str, user: str) -> float:
        """Counts a failure and returns how long to wait before answering it."""
        now = self._clock()
        for key in ("ip:" + ip, "user:" + user.lower()):
            failures = self._get(key) + 1
            self._counters.pop(key, None)
            self._counters[key] = _Counter(failures, now)
        while len(self._counters) > self.max_keys:
            self._counters.popitem(last=False)
        return self.delay(self.failures(ip, user))

    def record_success(self, user: str) -> None:
        self._counters.pop("user:" + user.lower(), None)

    def delay(self, failures: int) -> float:
        if failures <= 0 or self.base <= 0:
            return 0.0
        return float(min(self.maximum, self.base * 2 ** min(failures - 1, 30)))
