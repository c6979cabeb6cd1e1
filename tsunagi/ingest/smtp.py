"""The SMTP receiver: aiosmtpd handler hooks that answer 250 only once the mail is durable in the spool."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from tsunagi.common import clock
from tsunagi.ingest.spool import Spool

log = logging.getLogger("tsunagi.smtp")


class IntakeHandler:
    """RCPT: 550 for an address no shop takes. DATA: spool one item per shop, then 250."""

    def __init__(self, spool: Spool, shop_for: Callable[[str], str | None],
                 on_spooled: Callable[[list[str]], None] = lambda ids: None):
        self.spool = spool
        self.shop_for = shop_for
        self.on_spooled = on_spooled

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.shop_for(address) is None:
            log.info("refused RCPT %s from %s", address, session.peer)
            return f"550 5.1.1 <{address}>: no shop takes order mail at this address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        shops: dict[str, list[str]] = {}
        for rcpt in envelope.rcpt_tos:
            shops.setdefault(self.shop_for(rcpt) or "", []).append(rcpt)
        loop = asyncio.get_running_loop()
        ids = []
        try:
            for shop, rcpts in shops.items():
                meta = {"source": "smtp", "kind": "order_mail", "shop": shop,
                        "mail_from": envelope.mail_from or "", "rcpt_tos": rcpts,
                        "peer": str(session.peer[0]) if session.peer else "",
                        "helo": session.host_name or "",
                        "received_at": clock.now().isoformat()}
                item = await loop.run_in_executor(None, self.spool.put, data, meta)
                ids.append(item.id)
        except OSError as exc:
            # Nothing was acknowledged: the sending server keeps the mail and tries again.
            log.error("spool write failed: %s", exc)
            return "451 4.3.0 cannot store the mail right now, try again later"
        self.on_spooled(ids)
        return f"250 2.0.0 OK queued as {' '.join(ids)}"


def make_server(handler: IntakeHandler, max_message_bytes: int) -> Callable[[], SMTP]:
    """A protocol factory for loop.create_server: SMTPUTF8 and 8BITMIME on, SIZE enforced (552)."""
    def factory() -> SMTP:
        return SMTP(handler, data_size_limit=max_message_bytes, enable_SMTPUTF8=True,
                    decode_data=False, ident="tsunagi ESMTP")
    return factory
