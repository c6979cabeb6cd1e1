"""The buyer-mail queue: a mail is queued in the transaction that moves its order, exactly once a stage."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from tsunagi.common.clock import timestamp
from tsunagi.oms import status
from tsunagi.oms.store import Tx

STAGES = ("purchase", "shipment", "post_purchase")
# queued → sending → sent; or queued again (temporary failure, later), failed (gave up), rejected
# (permanent: 5xx, a bad address), cancelled (the order was), uncertain (a crash between handing it to
# the relay and recording that: a person decides, nothing re-sends it by itself).
STATES = ("queued", "sending", "sent", "failed", "rejected", "cancelled", "uncertain")


def set_stages(tx: Tx, shop: str, stages: dict[str, dict]) -> None:
    """The stages a shop has enabled, with their settings. A stage enabled now is recorded with this
    moment: only orders reaching it afterwards get its mail (no backfill)."""
    for stage in STAGES:
        settings = stages.get(stage)
        if settings is None:
            tx.run("DELETE FROM mail_stages WHERE shop = ? AND stage = ?", shop, stage)
            continue
        tx.run("INSERT INTO mail_stages (shop, stage, enabled_at, settings) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (shop, stage) DO UPDATE SET settings = excluded.settings",
               shop, stage, timestamp(), json.dumps(settings, ensure_ascii=False))
    tx.memo.pop("mail_stages", None)


def _stages(tx: Tx) -> dict[tuple[str, str], tuple[str, dict]]:
    if "mail_stages" not in tx.memo:
        tx.memo["mail_stages"] = {(r[0], r[1]): (r[2], json.loads(r[3])) for r in tx.all(
            "SELECT shop, stage, enabled_at, settings FROM mail_stages")}
    return tx.memo["mail_stages"]


def on_status(tx: Tx, order_id: int, to: str) -> None:
    """Called by every status change: queue the stages this change starts, if the shop enabled them."""
    stages = _stages(tx)
    if not stages:
        return
    shop = tx.value("SELECT shop FROM orders WHERE id = ?", order_id)
    purchase = stages.get((shop, "purchase"))
    if purchase and to in purchase[1].get("statuses", [status.NEW, status.CONFIRM]):
        queue(tx, order_id, shop, "purchase", timestamp())
    if to == status.SHIPPED:
        if (shop, "shipment") in stages:
            queue(tx, order_id, shop, "shipment", timestamp())
        after = stages.get((shop, "post_purchase"))
        if after:
            shipped = _ship_date(tx, order_id)
            if shipped >= datetime.fromisoformat(after[0]).date():   # an old shipment gets no mail
                due = datetime.combine(shipped + timedelta(days=int(after[1].get("days", 7))),
                                       datetime.fromisoformat(timestamp()).timetz())
                queue(tx, order_id, shop, "post_purchase", due.isoformat())


def _ship_date(tx: Tx, order_id: int) -> date:
    dates = [r[0] for r in tx.all("SELECT s.ship_date FROM shipments s JOIN shipment_orders so "
                                  "ON so.shipment_id = s.id WHERE so.order_id = ? AND s.ship_date <> ''", order_id)]
    return date.fromisoformat(max(dates)) if dates else datetime.fromisoformat(timestamp()).date()


def queue(tx: Tx, order_id: int, shop: str, stage: str, due_at: str, to_addr: str = "", resend: bool = False) -> bool:
    """One mail a stage an order (a resend is a separate, recorded one). False if already queued."""
    cur = tx.run("INSERT INTO mails (order_id, shop, stage, state, to_addr, due_at, created_at, updated_at, resend) "
                 "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                 order_id, shop, stage, to_addr, due_at, timestamp(), timestamp(), int(resend))
    return cur.rowcount == 1


def due(tx: Tx, limit: int, at: str | None = None) -> list[tuple]:
    """(mail id, order id, shop, stage, to_addr, attempts) of queued mails whose time has come."""
    return tx.all("SELECT id, order_id, shop, stage, to_addr, attempts FROM mails WHERE state = 'queued' "
                  "AND due_at <= ? ORDER BY due_at, id LIMIT ?", at or timestamp(), limit)


def mark(tx: Tx, mail_id: int, state: str, answer: str = "", message_id: str = "", due_at: str | None = None,
         attempt: bool = False) -> None:
    tx.run("UPDATE mails SET state = ?, answer = CASE WHEN ? = '' THEN answer ELSE ? END, "
           "message_id = CASE WHEN ? = '' THEN message_id ELSE ? END, due_at = COALESCE(?, due_at), "
           "attempts = attempts + ?, updated_at = ? WHERE id = ?",
           state, answer, answer, message_id, message_id, due_at, int(attempt), timestamp(), mail_id)


def recover(tx: Tx) -> int:
    """At start-up: a mail left 'sending' may or may not have reached the relay: uncertain."""
    return tx.run("UPDATE mails SET state = 'uncertain', answer = 'tsunagi stopped while handing it to the relay', "
                  "updated_at = ? WHERE state = 'sending'", timestamp()).rowcount


def log(tx: Tx, shop: str | None = None, order_id: int | None = None, state: str | None = None) -> list[dict]:
    sql = ("SELECT m.id, m.shop, o.order_no, m.stage, m.state, m.to_addr, m.due_at, m.updated_at, m.message_id, "
           "m.answer, m.attempts, m.resend FROM mails m JOIN orders o ON o.id = m.order_id WHERE 1 = 1")
    params: list = []
    for column, value in (("m.shop", shop), ("m.order_id", order_id), ("m.state", state)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    keys = ("id", "shop", "order_no", "stage", "state", "to", "due_at", "at", "message_id", "answer", "attempts",
            "resend")
    return [dict(zip(keys, r)) for r in tx.all(sql + " ORDER BY m.id", *params)]
