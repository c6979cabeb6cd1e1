"""aiosmtpd's SMTP session bounded against what a client may do: connections, idle time, recipients, bad bytes."""
from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager
from functools import wraps
from typing import Awaitable, Callable, Iterator

from aiosmtpd.smtp import SMTP

from tsunagi.ingest.smtpguard import Connections, Throttled

log = logging.getLogger("tsunagi.smtp")
errors_said = Throttled()     # a client that found a way to make sessions fail must not flood the log with it

# aiosmtpd's own answers, said the way the rest of tsunagi's are (enhanced status code, no internals)
PLAIN_REPLIES = {"500 Command line too long": "500 5.5.2 command line too long (at most 512 bytes, 1,000 in all)"}


def _is_text(arg: str | None) -> bool:
    """Whether a command's argument was UTF-8 (aiosmtpd keeps other bytes as surrogates)."""
    try:
        (arg or "").encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class GuardedSMTP(SMTP):
    """aiosmtpd's session, bounded: counted against the connection limits and refused with 421 beyond them;
    closed with 421 when idle (no progress) too long; at most max_recipients per mail; bytes that are not
    UTF-8 in a command answered 501; no reply carries a Python exception's text. A subclass reading DATA
    calls _receiving() around the message and _handling() around the handler."""

    def __init__(self, handler, connections: Connections, **kwargs):
        super().__init__(handler, **kwargs)
        self.connections = connections
        self.limits = connections.limits
        self._peer_key: str | None = None     # counted in connections while set
        self._refused = False
        self._progress_at = self.loop.time()
        self._in_data = False                  # between 354 and the message's end: arriving bytes are progress
        self._busy = False                     # the handler works on the mail: not idle, whatever the time

    # -- connection limits

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:    # a new connection, not its STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            key = str(peer[0]) if peer else ""
            reason = self.connections.open(key)
            if reason:
                self._refused = True
                transport.write(f"421 4.7.0 {reason}\r\n".encode())
                transport.close()
                return
            self._peer_key = key
        self._progress()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:                       # aiosmtpd never saw this connection
            return
        if self._peer_key is not None:
            self.connections.close(self._peer_key)
            self._peer_key = None
        super().connection_lost(error)

    # -- idle timeout: aiosmtpd resets its timer at every command; here only progress moves the deadline

    def _progress(self) -> None:
        self._progress_at = self.loop.time()

    def _reset_timeout(self, duration: float | None = None) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        due = self._progress_at + self.limits.idle_timeout_seconds
        self._timeout_handle = self.loop.call_at(due, self._timeout_cb)

    def _timeout_cb(self) -> None:
        if self.transport is None:
            return
        if self._busy or self.loop.time() < self._progress_at + self.limits.idle_timeout_seconds:
            self._reset_timeout()               # progress since the timer was set: wait from there
            return
        log.info("closed an SMTP session from %s idle for %s s", self._peer_key, self.limits.idle_timeout_seconds)
        self.transport.write(b"421 4.4.2 idle too long\r\n")
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_data:
            self._progress()
        super().data_received(data)

    async def _advancing(self, command: Awaitable[None], measure: Callable[[], int]) -> None:
        """Runs a command; it made progress if it moved the session on (measure grew)."""
        before = measure()
        await command
        if measure() > before:
            self._progress()

    async def _refuse_bad_bytes(self, arg: str | None, what: str) -> bool:
        if _is_text(arg):
            return False
        await self.push(f"501 5.5.2 {what} has bytes that are not UTF-8")
        return True

    # -- commands

    @wraps(SMTP.smtp_HELO)
    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._refuse_bad_bytes(hostname, "the host name"):
            await self._advancing(super().smtp_HELO(hostname), self._greeted)

    @wraps(SMTP.smtp_EHLO)
    async def smtp_EHLO(self, hostname: str) -> None:
        if not await self._refuse_bad_bytes(hostname, "the host name"):
            await self._advancing(super().smtp_EHLO(hostname), self._greeted)

    def _greeted(self) -> bool:
        return self.session.host_name is not None    # only the first greeting moves the session on

    @wraps(SMTP.smtp_MAIL)
    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._refuse_bad_bytes(arg, "the sender address"):
            await self._advancing(super().smtp_MAIL(arg), lambda: self.envelope.mail_from is not None)

    @wraps(SMTP.smtp_RCPT)
    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self._refuse_bad_bytes(arg, "the recipient address"):
            return
        if self.envelope.mail_from is not None and len(self.envelope.rcpt_tos) >= self.limits.max_recipients:
            await self.push("452 4.5.3 too many recipients")
            return
        await self._advancing(super().smtp_RCPT(arg), lambda: len(self.envelope.rcpt_tos))

    @wraps(SMTP.smtp_VRFY)
    async def smtp_VRFY(self, arg: str | None) -> None:
        if not await self._refuse_bad_bytes(arg, "the address"):
            await super().smtp_VRFY(arg)

    @wraps(SMTP.smtp_AUTH)
    async def smtp_AUTH(self, arg: str) -> None:
        await self._advancing(super().smtp_AUTH(arg), lambda: bool(self.session.authenticated))

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = PLAIN_REPLIES.get(status, status).encode("utf-8", "replace")
        await super().push(status)

    @contextmanager
    def _receiving(self) -> Iterator[None]:
        """The message's bytes arrive meanwhile: each one is progress."""
        self._progress()
        self._in_data = True
        try:
            yield
        finally:
            self._in_data = False

    @contextmanager
    def _handling(self) -> Iterator[None]:
        """The handler works on the mail (the spool's fsync may be slow): the session is not idle."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
            self._progress()

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd would answer `500 Error: (ExcName) text`: the client learns nothing of our insides."""
        errors_said.say(logging.ERROR, "SMTP session from %s: %s", self._peer_key, error, exc_info=error)
        return "451 4.3.0 local error, try again later"
