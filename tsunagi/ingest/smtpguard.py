"""What the SMTP receiver allows a client: session limits, the connection count, and logs an attacker cannot flood."""
from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import time
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger("tsunagi.smtp")

# asyncio's accept loop reports these through the loop's exception handler, once per failed accept()
OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True)
class SessionLimits:
    """The limits of `[smtp]`, by the names the config file uses."""
    max_connections: int = 100
    max_connections_per_peer: int = 20
    idle_timeout_seconds: float = 60.0
    max_recipients: int = 100

    @classmethod
    def of(cls, settings) -> SessionLimits:
        """The limits read off any object with attributes of these names (the config's `Smtp` section)."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


class Throttled:
    """A log line said at most once per interval; the times it was held back are counted into the next one."""

    def __init__(self, interval: float = 60.0):
        self.interval = interval
        self.last = float("-inf")
        self.held = 0

    def say(self, level: int, msg: str, *args, **kwargs) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            self.held += 1
            return
        held, self.held, self.last = self.held, 0, now
        suffix = f" ({held} more like it in the last {self.interval:.0f} s)" if held else ""
        log.log(level, msg + suffix, *args, **kwargs)


class Connections:
    """The open SMTP sessions, in all and per peer address, shared by every session of one server."""

    def __init__(self, limits: SessionLimits):
        self.limits = limits
        self.total = 0
        self.per_peer: Counter[str] = Counter()
        self.refusals = Throttled()

    def open(self, peer: str) -> str | None:
        """Counts a new session in; or the reason it must be refused (it is then not counted)."""
        if self.total >= self.limits.max_connections:
            reason = "too many connections, try again later"
        elif self.per_peer[peer] >= self.limits.max_connections_per_peer:
            reason = "too many connections from your address, try again later"
        else:
            self.total += 1
            self.per_peer[peer] += 1
            return None
        self.refusals.say(logging.WARNING, "refused an SMTP connection from %s: %s (%d open)", peer, reason,
                          self.total)
        return reason

    def close(self, peer: str) -> None:
        self.total -= 1
        self.per_peer[peer] -= 1
        if not self.per_peer[peer]:
            del self.per_peer[peer]


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Running out of descriptors is said once a minute, not once per failed accept(): asyncio retries the
    accept every second for every connection waiting, and would log a traceback each time. Everything else
    goes to the loop's usual handler. aiosmtpd's per-connection chatter (every peer, every command line)
    is kept to warnings for the same reason: what clients do must not decide how much the daemon writes."""
    said = Throttled()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in OUT_OF_DESCRIPTORS:
            said.say(logging.ERROR, "SMTP cannot accept connections: %s; sessions wait until descriptors are "
                     "free (raise the open-file limit, or lower smtp.max_connections)", exc.strerror or exc)
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
