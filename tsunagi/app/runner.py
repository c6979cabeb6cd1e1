"""The one worker base, in the style of Mailman's runners: one pass, wait, never fatal."""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod

log = logging.getLogger("tsunagi.runner")
MAX_BACKOFF = 60.0


class Runner(ABC):
    """A worker thread. Subclasses write run_once(); the base catches, logs once, backs off and retries."""

    name = "runner"
    interval = 1.0          # seconds between passes that found nothing to do
    alerts = None           # operator alerts (outbound.alerts.Alerts): told when it fails for long, and recovers

    def __init__(self, stopping: threading.Event):
        self.stopping = stopping
        self.finished = False           # set by a pass that was told to end (a queue's None)
        self.failing_since: float | None = None
        self.last_error = ""
        self.backoff = 0.0
        self._thread: threading.Thread | None = None

    @abstractmethod
    def run_once(self) -> bool:
        """One pass. True when the next pass should follow at once (more work, or the pass waited itself)."""

    def run(self) -> None:
        while not (self.stopping.is_set() or self.finished):
            try:
                busy = self.run_once()
            except Exception as exc:      # never fatal: the next pass tries again after a pause
                self._failed(exc)
                self.stopping.wait(self.backoff)
                continue
            self._succeeded()
            if not busy:
                self.stopping.wait(self.interval)

    def _failed(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.last_error:       # the same error again is not logged again
            log.error("%s: %s (retrying)", self.name, text, exc_info=exc)
        self.last_error = text
        self.failing_since = self.failing_since or time.time()
        self.backoff = min(MAX_BACKOFF, max(1.0, self.backoff * 2))
        self._tell("failed", f"ワーカー {self.name}", f"処理に失敗し続けています: {text}",
                   "tsunagi のログ (自動で再試行中)")

    def _succeeded(self) -> None:
        if self.failing_since is not None:
            log.info("%s: working again after %.0f s", self.name, time.time() - self.failing_since)
            self._tell("recovered", f"ワーカー {self.name}")
        self.failing_since, self.last_error, self.backoff = None, "", 0.0

    def _tell(self, what: str, *args) -> None:
        """An alert is worth having, not worth stopping for: the store it writes to may be what fails."""
        if self.alerts is None:
            return
        try:
            getattr(self.alerts, what)(*args)
        except Exception as exc:
            log.warning("%s: alert not recorded: %s", self.name, exc)

    def thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        return self._thread

    def alive(self) -> bool:
        """Its thread runs and has not been told to end."""
        return not self.finished and self._thread is not None and self._thread.is_alive()
