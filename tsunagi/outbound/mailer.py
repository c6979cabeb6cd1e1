"""Sending queued buyer mails through the shop's relay: queued → sending → sent, retried, or rejected."""
from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol

from jinja2 import TemplateError

from tsunagi.common import clock
from tsunagi.oms import mailcontents, outbound_tables, queries, status
from tsunagi.outbound import mailorder, mailqueue
from tsunagi.oms.store import Store, Tx
from tsunagi.outbound.mailbuild import BadAddress, Outgoing, build, message_id
from tsunagi.outbound.mailtemplates import Templates
from tsunagi.outbound.settings import RelaySettings

log = logging.getLogger("tsunagi.mail")
BATCH = 20                # marked 'sending' together: a crash leaves at most these uncertain
ADDRESS_WAIT = timedelta(hours=24)     # how long a mail waits for a buyer address before it is rejected
ADDRESS_RETRY = timedelta(minutes=10)


class BuyerMail(Protocol):
    """What sending a shop's buyer mails needs; the configuration's shop.mail table is one."""
    sender: str
    sender_name: str
    reply_to: str
    bcc: str
    charset: str                             # utf-8, or iso-2022-jp for old mail clients

    @property
    def stages(self) -> dict[str, dict]: ...


def _hours(mail: BuyerMail) -> tuple[int, int]:
    """Post-purchase mails only go out within these hours (JST)."""
    return tuple(mail.stages.get("post_purchase", {}).get("hours", (0, 24)))


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** attempts, 3600))


def connect(relay: RelaySettings) -> smtplib.SMTP:
    """A session with the relay, TLS as configured; the password only from its environment variable."""
    try:
        context = ssl.create_default_context(cafile=relay.ca_file or None)   # the certificate is always verified
        if relay.security == "tls":
            smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout, context=context)
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
            if relay.security == "starttls":
                smtp.starttls(context=context)
        if relay.user:
            smtp.login(relay.user, os.environ.get(relay.password_env, ""))
        return smtp
    except smtplib.SMTPAuthenticationError as exc:
        raise TemporaryFailure(f"relay login refused: {exc.smtp_code} {exc.smtp_error!r}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryFailure(f"relay {relay.host}:{relay.port}: {exc}") from None


class Uncertain(Exception):
    """The relay may or may not have taken it (no answer after the message was sent): a person decides."""


def _fail(code: int, text) -> Exception:
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return (PermanentFailure if code >= 500 else TemporaryFailure)(f"{code} {text}")


def hand_over(smtp: smtplib.SMTP, mail_from: str, rcpts: list[str], data: bytes) -> str:
    """The relay's answer once it took the mail. A 4xx or a connection lost before the message was
    sent is temporary, a 5xx permanent; a connection lost after it was sent is uncertain."""
    try:
        smtp.ehlo_or_helo_if_needed()
        code, text = smtp.mail(mail_from)
        if code != 250:
            raise _fail(code, text)
        for n, rcpt in enumerate(rcpts):
            code, text = smtp.rcpt(rcpt)
            if code not in (250, 251) and n == 0:      # the buyer; a refused Bcc does not stop the mail
                smtp.rset()
                raise _fail(code, text)
        code, text = smtp.docmd("DATA")
        if code != 354:
            raise _fail(code, text)
    except (OSError, smtplib.SMTPException) as exc:
        raise TemporaryFailure(f"connection: {exc}") from None
    try:
        body = re.sub(rb"(?m)^\.", b"..", data)       # dot-stuffing (RFC 5321 4.5.2)
        smtp.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        code, text = smtp.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        raise Uncertain(f"no answer after the message was sent: {exc}") from None
    if code != 250:
        raise _fail(code, text)
    return f"{code} {text.decode(errors='replace')}"


@dataclass
class Mailer:
    store: Store
    relay: RelaySettings
    shops: dict[str, BuyerMail]
    templates: dict[str, Templates]
    context: Callable[[Tx, int, str], dict]          # (tx, order id, stage) -> the template's variables
    failing_since: float | None = None
    counts: dict = field(default_factory=dict)

    def send_due(self, limit: int = BATCH) -> int:
        """One batch: the due mails are built, marked sending, handed to the relay, and recorded."""
        mailqueue.drain(self.store)      # mails the order events since the last pass start
        ready = self._prepare(limit)
        if not ready:
            return 0
        try:
            smtp = connect(self.relay)
        except TemporaryFailure as exc:
            self._retry_all(ready, str(exc))
            return 0
        outcomes = []
        try:
            for mail_id, attempts, failing_since, mail_from, rcpts, data, msg_id in ready:
                try:
                    answer = hand_over(smtp, mail_from, rcpts, data)
                    outcomes.append((mail_id, "sent", answer, None, False))
                except PermanentFailure as exc:
                    outcomes.append((mail_id, "rejected", str(exc), None, True))
                except Uncertain as exc:
                    outcomes.append((mail_id, "uncertain", str(exc), None, True))
                    smtp.close()
                    smtp = connect(self.relay)
                except TemporaryFailure as exc:
                    outcomes.append(self._later(mail_id, attempts, failing_since, str(exc)))
                    smtp.close()
                    smtp = connect(self.relay)
        except TemporaryFailure as exc:   # the relay went away mid-batch: the rest waits
            done = {o[0] for o in outcomes}
            outcomes += [self._later(m[0], m[1], m[2], str(exc)) for m in ready if m[0] not in done]
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        self._record(outcomes)
        self.failing_since = None if any(o[1] == "sent" for o in outcomes) else self.failing_since
        return len(outcomes)

    def _record(self, outcomes: list[tuple]) -> None:
        with self.store.transaction() as tx:
            for mail_id, state, answer, due_at, attempt in outcomes:
                # queued again or given up: only a temporary failure (_later) leads there
                outbound_tables.mark_mail(tx, mail_id, state, answer, due_at=due_at, attempt=attempt,
                                          failing=state in ("queued", "failed"))
                self.counts[state] = self.counts.get(state, 0) + 1
        given_up = sum(o[1] == "failed" for o in outcomes)
        if given_up:
            log.error("%d buyer mails failed after %g hours of relay trouble (relay.give_up_hours); once the relay "
                      "works: tsunagi mail retry --failed", given_up, self.relay.give_up_hours)

    def _later(self, mail_id: int, attempts: int, failing_since: str | None, answer: str) -> tuple:
        """A temporary failure: backed off, until the mail has been failing for relay.give_up_hours."""
        if self.failing_since is None:
            self.failing_since = time.time()
        first = datetime.fromisoformat(failing_since) if failing_since else clock.now()
        if clock.now() - first >= timedelta(hours=self.relay.give_up_hours):
            return mail_id, "failed", answer, None, True
        return mail_id, "queued", answer, (clock.now() + backoff(attempts)).isoformat(), True

    def _retry_all(self, ready: list, answer: str) -> None:
        self._record([self._later(mail_id, attempts, failing_since, answer)
                      for mail_id, attempts, failing_since, *_ in ready])
        log.warning("relay unavailable: %s (%d mails wait)", answer, len(ready))

    def _prepare(self, limit: int) -> list[tuple]:
        """Build what is due; what cannot go (cancelled order, bad address, template error, outside
        the hours) is settled now; the rest is marked 'sending' in one commit before any is handed over."""
        ready, orders = [], set()
        with self.store.transaction() as tx:
            for mail_id, order_id, shop, stage, to_addr, attempts, failing_since in outbound_tables.due_mails(tx, limit):
                if order_id in orders:    # one mail of an order a batch: a later stage waits to see the earlier sent
                    continue
                sender = self.shops.get(shop)
                code = queries.order_status(tx, order_id)
                if sender is None:
                    outbound_tables.mark_mail(tx, mail_id, "failed", f"shop {shop} has no [shop.mail] any more")
                elif code == status.CANCELLED:
                    outbound_tables.mark_mail(tx, mail_id, "cancelled", "the order was cancelled")
                elif stage == "payment_reminder" and code != status.PAYMENT:
                    outbound_tables.mark_mail(tx, mail_id, "cancelled", "入金済み (または入金待ちではない)")
                elif not mailorder.may_go(tx, mail_id, order_id, stage, code, sender.stages):
                    pass                  # settled there: cancelled, or waiting for an earlier stage's mail
                elif stage == "post_purchase" and not self._in_hours(sender):
                    outbound_tables.mark_mail(tx, mail_id, "queued", due_at=self._next_hours(sender))
                else:
                    item = self._build(tx, mail_id, order_id, stage, to_addr, shop)
                    if item:
                        ready.append((mail_id, attempts, failing_since, *item))
                        orders.add(order_id)
                        outbound_tables.mark_mail(tx, mail_id, "sending", message_id=item[3])
                        outbound_tables.record_address(tx, mail_id, item[1][0])
        return ready

    def _build(self, tx: Tx, mail_id: int, order_id: int, stage: str, to_addr: str, shop: str):
        sender = self.shops[shop]
        try:
            context = self.context(tx, order_id, stage)
            rendered = self.templates[shop].render(stage, context)
            to = to_addr or context["buyer"].get("email", "")
            if not to and self._may_wait(tx, mail_id):
                outbound_tables.mark_mail(tx, mail_id, "queued", "購入者のメールアドレス待ち (受注CSVなどで届けば送ります)",
                           due_at=(clock.now() + ADDRESS_RETRY).isoformat())
                return None
            msg_id = message_id(self.relay.message_id_domain)
            data, _ = build(Outgoing(rendered.subject, rendered.text, rendered.html, sender.sender_name, sender.sender,
                                     to, sender.reply_to, sender.bcc, sender.charset), msg_id)
            mailcontents.keep(tx, mail_id, rendered.subject, rendered.text)
        except BadAddress as exc:
            outbound_tables.mark_mail(tx, mail_id, "rejected", str(exc))
            return None
        except TemplateError as exc:
            outbound_tables.mark_mail(tx, mail_id, "failed", f"template: {exc}")
            return None
        return sender.sender, [to] + ([sender.bcc] if sender.bcc else []), data, msg_id

    @staticmethod
    def _may_wait(tx: Tx, mail_id: int) -> bool:
        """A buyer address can still come (Rakuten's order mail has none; its order CSV has)."""
        created = outbound_tables.mail_created_at(tx, mail_id)
        return clock.now() - datetime.fromisoformat(created) < ADDRESS_WAIT

    @staticmethod
    def _in_hours(sender: BuyerMail) -> bool:
        return _hours(sender)[0] <= clock.now().hour < _hours(sender)[1]

    @staticmethod
    def _next_hours(sender: BuyerMail) -> str:
        t = clock.now().replace(minute=0, second=0, microsecond=0)
        while not _hours(sender)[0] <= t.hour < _hours(sender)[1]:
            t += timedelta(hours=1)
        return t.isoformat()


def recover(store: Store) -> int:
    with store.transaction() as tx:
        return outbound_tables.recover_mails(tx)

