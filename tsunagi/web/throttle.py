"""Failed logins slowed down: after a few failures for a name or from an address, each try waits longer."""
from __future__ import annotations

import threading
import time

FREE_FAILURES = 3        # a typo or two costs nothing
MAX_DELAY_SECONDS = 30.0
FORGET_SECONDS = 15 * 60  # a quiet quarter of an hour and the count starts again
MAX_KEYS = 10_000         # names and addresses remembered at once: made-up names must not fill the memory


class Throttle:
    def __init__(self, max_keys: int = MAX_KEYS):
        self._failures: dict[str, tuple[int, float]] = {}     # oldest failure first (re-inserted on each one)
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def delay(self, keys: list[str]) -> float:
        """Seconds the next try of any of these keys (a name, an address) must wait first."""
        n = max((self._count(k) for k in keys), default=0)
        # the exponent capped: 2.0 ** 1100 overflows, and a thousand failures from one address must not raise
        return 0.0 if n < FREE_FAILURES else min(2.0 ** min(n - FREE_FAILURES, 16), MAX_DELAY_SECONDS)

    def failed(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                count = self._count(k) + 1
                self._failures.pop(k, None)
                self._failures[k] = (count, time.monotonic())
            self._forget()

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)

    def remembered(self) -> int:
        return len(self._failures)

    def _count(self, key: str) -> int:
        n, last = self._failures.get(key, (0, 0.0))
        return n if time.monotonic() - last < FORGET_SECONDS else 0

    def _forget(self) -> None:
        """Drop the quiet keys, oldest first, and beyond max_keys the oldest of the rest: a flood of made-up
        names pushes out only the flood's own oldest entries while a name under attack stays counted."""
        now = time.monotonic()
        while self._failures:
            key, (_, last) = next(iter(self._failures.items()))
            if now - last < FORGET_SECONDS and len(self._failures) <= self.max_keys:
                return
            del self._failures[key]
