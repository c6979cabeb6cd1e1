"""The buyer-mail queue: a consumer of the outbox's order events that queues each stage's mail exactly once."""
from __future__ import annotations

from datetime import datetime, timedelta

from tsunagi.common import clock
from tsunagi.oms import golive, outbound_tables, outbox, queries, relations, shipping, status
from tsunagi.oms.store import Store, Tx

CONSUMER = "mails"
BATCH = 5000


def sync_stages(store: Store, shops: dict[str, dict[str, dict]]) -> None:
    """Record the stages each shop has enabled; a stage enabled now only mails orders reaching it afterwards."""
    with store.transaction() as tx:
        for shop, stages in shops.items():
            outbound_tables.set_mail_stages(tx, shop, stages)


def run(store: Store) -> int:
    """Queue the mails the order events since the last pass start; returns how many events were read.

    The queued mails and the consumer's cursor commit together, so a crash neither loses nor repeats one."""
    with store.transaction() as tx:
        events = outbox.events(tx, CONSUMER, outbox.ORDER, BATCH)
        if not events:
            return 0
        stages = outbound_tables.mail_stages(tx)
        for _, at, key, payload in events:
            if stages:
                _queue_for(tx, stages, int(key), payload.get("to", ""), at)
        outbox.advance(tx, CONSUMER, events[-1][0])
    return len(events)


def drain(store: Store) -> None:
    while run(store) == BATCH:
        pass


def _queue_for(tx: Tx, stages: dict, order_id: int, to: str, at: str) -> None:
    """The stages this status change starts, for stages the shop had enabled when it happened (no backfill)."""
    shop = queries.order_ref(tx, order_id)[0]
    if golive.closed_as_history(tx, order_id):
        return                # handled in the cart before go-live: its buyer heard from the cart
    if relations.is_copy(tx, order_id):
        return                # a re-shipment copy: the buyer's order is the original

    def enabled(stage: str):
        found = stages.get((shop, stage))
        return found if found and found[0] <= at else None

    part = relations.parent(tx, order_id, relations.SPLIT) is not None    # its buyer heard of the whole order
    purchase = enabled("purchase")
    if purchase and not part and to in purchase[1].get("statuses", [status.NEW, status.CONFIRM]):
        outbound_tables.queue_mail(tx, order_id, shop, "purchase", at)
    reminder = enabled("payment_reminder")
    if reminder and not part and to == status.PAYMENT:     # sent only if still unpaid then (mailer.py)
        due = datetime.fromisoformat(at) + timedelta(days=int(reminder[1].get("days", 3)))
        outbound_tables.queue_mail(tx, order_id, shop, "payment_reminder", due.isoformat())
    if to != status.SHIPPED:
        return
    if enabled("shipment"):
        outbound_tables.queue_mail(tx, order_id, shop, "shipment", at)
    after = enabled("post_purchase")
    if after:
        shipped = shipping.last_ship_date(tx, order_id) or clock.today()
        if shipped >= datetime.fromisoformat(after[0]).date():   # an old shipment gets no mail
            due = datetime.combine(shipped + timedelta(days=int(after[1].get("days", 7))), clock.now().timetz())
            outbound_tables.queue_mail(tx, order_id, shop, "post_purchase", due.isoformat())
