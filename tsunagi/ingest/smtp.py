"""The SMTP receiver: aiosmtpd handler hooks that answer 250 only once the mail is durable in the spool."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from tsunagi.common import clock
from tsunagi.ingest.smtpguard import Connections, SessionLimits
from tsunagi.ingest.smtpsession import GuardedSMTP
from tsunagi.ingest.senders import Rules, Sender
from tsunagi.ingest.smtpauth import login_of, peer_ip
from tsunagi.ingest.spool import Spool

log = logging.getLogger("tsunagi.smtp")


@dataclass
class FlowDelay:
    """Postfix's in_flow_delay: while more mails wait to be applied than one commit takes, a mail waits up to
    `seconds` before it is taken. A burst then waits at the sending server (in its durable queue) instead of
    in ours, where each mail's wait for its order would grow with the backlog."""
    backlog: Callable[[], int] = lambda: 0
    limit: int = 64
    seconds: float = 1.0
    step: float = 0.05

    async def wait(self) -> None:
        waited = 0.0
        while waited < self.seconds and self.backlog() > self.limit:
            await asyncio.sleep(self.step)
            waited += self.step


class IntakeHandler:
    """RCPT: 550 for an address no shop takes, or a sender the shop does not take (accept_from).
    DATA: spool one item per shop, then 250."""

    def __init__(self, spool: Spool, shop_for: Callable[[str], str | None],
                 on_spooled: Callable[[list[str]], None] = lambda ids: None,
                 senders: Callable[[str], Rules | None] = lambda shop: None,
                 flow: FlowDelay | None = None):
        self.spool = spool
        self.shop_for = shop_for
        self.on_spooled = on_spooled
        self.senders = senders          # a shop's accept_from; None takes mail from anyone
        self.flow = flow or FlowDelay()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        shop = self.shop_for(address)
        if shop is None:
            log.info("refused RCPT %s from %s", address, session.peer)
            return f"550 5.1.1 <{address}>: no shop takes order mail at this address"
        rules = self.senders(shop)
        refusal = rules.refusal(Sender(envelope.mail_from or "", peer_ip(session), login_of(session))) if rules else None
        if refusal:     # refused here, before DATA: a forged order is never received, let alone spooled
            log.info("refused RCPT %s for shop %s: %s", address, shop, refusal)
            return f"550 5.7.1 <{address}>: {refusal}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.flow.wait()
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        shops: dict[str, list[str]] = {}
        for rcpt in envelope.rcpt_tos:
            shops.setdefault(self.shop_for(rcpt) or "", []).append(rcpt)
        loop = asyncio.get_running_loop()
        ids, peer, login = [], peer_ip(session), login_of(session)
        try:
            for shop, rcpts in shops.items():
                meta = {"source": "smtp", "kind": "order_mail", "shop": shop,
                        "mail_from": envelope.mail_from or "", "rcpt_tos": rcpts,
                        "peer": peer,
                        "helo": session.host_name or "",
                        "received_at": clock.now().isoformat()}
                if login:
                    meta["auth_user"] = login
                item = await loop.run_in_executor(None, self.spool.put, data, meta)
                ids.append(item.id)
        except OSError as exc:
            # Nothing was acknowledged: the sending server keeps the mail and tries again.
            log.error("spool write failed: %s", exc)
            return "451 4.3.0 cannot store the mail right now, try again later"
        self.on_spooled(ids)
        return f"250 2.0.0 OK queued as {' '.join(ids)}"


BLOCK = 1 << 20     # DATA is read up to this much at a time


class IntakeSMTP(GuardedSMTP):
    """The bounded session with DATA read in blocks, not line by line: a message of millions of short lines
    costs the event loop what its bytes cost, and other sessions are answered while it arrives."""

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        with self._receiving():
            message = await self._read_message()
        if message is None:
            await self.push("552 5.3.4 Error: Too much mail data")
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = message
        with self._handling():
            status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)

    async def _read_message(self) -> bytes | None:
        """The message up to the lone dot, dots unstuffed (RFC 5321 4.5.2); None when it is over the size
        limit (read to its end all the same, so the session stays in step). Bytes after the dot stay
        in the reader for the next command (pipelining)."""
        limit = self.data_size_limit or 0
        self._reader._limit = BLOCK            # how far one readuntil may look ahead: the size of a block
        try:
            parts, over = await self._until_lone_dot(limit)
        finally:
            self._reader._limit = self.line_length_limit
        if over:
            return None
        body = b"".join(parts)[:-3]             # the CRLF before the dot ends the last line; ".\r\n" goes
        body = body.replace(b"\r\n.", b"\r\n")
        return body[1:] if body.startswith(b".") else body

    async def _until_lone_dot(self, limit: int) -> tuple[list[bytes], bool]:
        """The parts read up to and with a line that is a single dot, and whether they overran the limit."""
        parts: list[bytes] = []
        size, over, tail = 0, False, b"\r\n"    # the message's start counts as the start of a line
        while True:
            try:
                part, done = await self._reader.readuntil(b".\r\n"), True
            except asyncio.LimitOverrunError as exc:   # a long stretch with no line ending in a dot
                part, done = await self._reader.readexactly(max(1, exc.consumed - 2)), False
            lone = done and (tail + part)[-5:-3] == b"\r\n"
            tail = (tail + part)[-2:]
            size += len(part)
            over = over or bool(limit and size > limit + 3)
            if not over:
                parts.append(part)
            if lone:
                return parts, over


def make_server(handler: IntakeHandler, max_message_bytes: int, limits: SessionLimits = SessionLimits(),
                access: dict | None = None) -> Callable[[], SMTP]:
    """A protocol factory for loop.create_server: SMTPUTF8 and 8BITMIME on, SIZE enforced (552), every
    session counted against the same connection limits; access: STARTTLS and AUTH options
    (smtpauth.server_options)."""
    connections = Connections(limits)

    def factory() -> SMTP:
        return IntakeSMTP(handler, connections, data_size_limit=max_message_bytes, enable_SMTPUTF8=True,
                          decode_data=False, ident="tsunagi ESMTP", **(access or {}))
    return factory
