"""Failed logins slowed down: after a few failures for a name or from an address, each try waits longer."""
from __future__ import annotations

import threading
import time

FREE_FAILURES = 3        # a typo or two costs nothing
MAX_DELAY_SECONDS = 30.0
FORGET_SECONDS = 15 * 60  # a quiet quarter of an hour and the count starts again


class Throttle:
    def __init__(self):
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def delay(self, keys: list[str]) -> float:
        """Seconds the next try of any of these keys (a name, an address) must wait first."""
        n = max((self._count(k) for k in keys), default=0)
        return 0.0 if n < FREE_FAILURES else min(2.0 ** (n - FREE_FAILURES), MAX_DELAY_SECONDS)

    def failed(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                self._failures[k] = (self._count(k) + 1, time.monotonic())

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)

    def _count(self, key: str) -> int:
        n, last = self._failures.get(key, (0, 0.0))
        return n if time.monotonic() - last < FORGET_SECONDS else 0
