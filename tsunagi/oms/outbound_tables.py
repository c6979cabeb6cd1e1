"""Outbound's own tables: buyer mails and their stages, operator alerts, written files, published stock figures."""
from __future__ import annotations

import json

from tsunagi.common.clock import timestamp
from tsunagi.oms.store import Tx

STAGES = ("purchase", "shipment", "post_purchase", "payment_reminder")
# queued → sending → sent; or queued again (temporary failure, later), failed (gave up), rejected
# (permanent: 5xx, a bad address), cancelled (the order was), uncertain (a crash between handing it to
# the relay and recording that: a person decides, nothing re-sends it by itself).
STATES = ("queued", "sending", "sent", "failed", "rejected", "cancelled", "uncertain")


def set_mail_stages(tx: Tx, shop: str, stages: dict[str, dict]) -> None:
    """The stages a shop has enabled, with their settings. A stage enabled now is recorded with this
    moment: only orders reaching it afterwards get its mail (no backfill)."""
    for stage in STAGES:
        settings = stages.get(stage)
        if settings is None:
            tx.run("DELETE FROM mail_stages WHERE shop = ? AND stage = ?", shop, stage)
            continue
        text = json.dumps(settings, ensure_ascii=False, sort_keys=True)
        # written only when it changed: a pass that finds the same settings writes nothing
        tx.run("INSERT INTO mail_stages (shop, stage, enabled_at, settings) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (shop, stage) DO UPDATE SET settings = excluded.settings "
               "WHERE mail_stages.settings <> excluded.settings", shop, stage, timestamp(), text)


def mail_stages(tx: Tx) -> dict[tuple[str, str], tuple[str, dict]]:
    """(shop, stage) -> (enabled_at, settings) of every enabled stage."""
    return {(r[0], r[1]): (r[2], json.loads(r[3])) for r in tx.all(
        "SELECT shop, stage, enabled_at, settings FROM mail_stages")}


def queue_mail(tx: Tx, order_id: int, shop: str, stage: str, due_at: str, to_addr: str = "", resend: bool = False) -> bool:
    """One mail a stage an order (a resend is a separate, recorded one). False if already queued."""
    cur = tx.run("INSERT INTO mails (order_id, shop, stage, state, to_addr, due_at, created_at, updated_at, resend) "
                 "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                 order_id, shop, stage, to_addr, due_at, timestamp(), timestamp(), int(resend))
    return cur.rowcount == 1


def due_mails(tx: Tx, limit: int, at: str | None = None) -> list[tuple]:
    """(mail id, order id, shop, stage, to_addr, attempts, failing since or None) of queued mails whose time
    has come."""
    return tx.all("SELECT id, order_id, shop, stage, to_addr, attempts, failing_since FROM mails "
                  "WHERE state = 'queued' AND due_at <= ? ORDER BY due_at, id LIMIT ?", at or timestamp(), limit)


def mark_mail(tx: Tx, mail_id: int, state: str, answer: str = "", message_id: str = "", due_at: str | None = None,
         attempt: bool = False, failing: bool = False) -> None:
    """A mail's new state; an empty answer or message id keeps the one recorded, attempt counts one more;
    failing (a temporary failure) keeps when the first of them was."""
    tx.run("UPDATE mails SET state = ?, answer = CASE WHEN ? = '' THEN answer ELSE ? END, "
           "message_id = CASE WHEN ? = '' THEN message_id ELSE ? END, due_at = COALESCE(?, due_at), "
           "attempts = attempts + ?, failing_since = CASE WHEN ? THEN COALESCE(failing_since, ?) ELSE failing_since END, "
           "updated_at = ? WHERE id = ?",
           state, answer, answer, message_id, message_id, due_at, int(attempt), int(failing), timestamp(),
           timestamp(), mail_id)


def record_address(tx: Tx, mail_id: int, address: str) -> None:
    """The address the mail is being handed to the relay for."""
    tx.run("UPDATE mails SET sent_to = ? WHERE id = ?", address, mail_id)


def order_mails(tx: Tx, order_id: int) -> list[tuple[int, str, str, str, bool]]:
    """(id, stage, state, due_at, resend) of every mail of the order, oldest first."""
    return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in tx.all(
        "SELECT id, stage, state, due_at, resend FROM mails WHERE order_id = ? ORDER BY id", order_id)]


def requeue_failed(tx: Tx, shop: str | None = None, since: str | None = None) -> int:
    """Failed mails (of a shop, failed at or after since) queued again from scratch; how many. A mail whose
    order and stage has another mail sent, on its way or undecided (a resend) is left failed: the buyer has
    it, or may. Run twice, the second finds none: each is queued once."""
    sql = ("UPDATE mails SET state = 'queued', attempts = 0, failing_since = NULL, due_at = ?, updated_at = ?, "
           "answer = 'queued again by tsunagi mail retry --failed' WHERE state = 'failed' AND NOT EXISTS ("
           "SELECT 1 FROM mails other WHERE other.order_id = mails.order_id AND other.stage = mails.stage "
           "AND other.id <> mails.id AND other.state IN ('queued', 'sending', 'sent', 'uncertain'))")
    now = timestamp()
    params: list = [now, now]
    if shop is not None:
        sql += " AND shop = ?"
        params.append(shop)
    if since is not None:
        sql += " AND updated_at >= ?"
        params.append(since)
    return tx.run(sql, *params).rowcount


def recover_mails(tx: Tx) -> int:
    """At start-up: a mail left 'sending' may or may not have reached the relay: uncertain."""
    return tx.run("UPDATE mails SET state = 'uncertain', answer = 'tsunagi stopped while handing it to the relay', "
                  "updated_at = ? WHERE state = 'sending'", timestamp()).rowcount


def mail_log(tx: Tx, shop: str | None = None, order_id: int | None = None, state: str | None = None,
             mail_id: int | None = None) -> list[dict]:
    """The mails, oldest first, as `tsunagi mail log --json` prints them; each filter given narrows them."""
    sql = ("SELECT m.id, m.shop, o.order_no, m.stage, m.state, m.to_addr, m.due_at, m.updated_at, m.message_id, "
           "m.answer, m.attempts, m.resend, m.sent_to FROM mails m JOIN orders o ON o.id = m.order_id WHERE 1 = 1")
    params: list = []
    for column, value in (("m.shop", shop), ("m.order_id", order_id), ("m.state", state), ("m.id", mail_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    keys = ("id", "shop", "order_no", "stage", "state", "to", "due_at", "at", "message_id", "answer", "attempts",
            "resend", "sent_to")
    return [dict(zip(keys, r)) for r in tx.all(sql + " ORDER BY m.id", *params)]


def mail_created_at(tx: Tx, mail_id: int) -> str:
    """When the mail was queued."""
    return tx.value("SELECT created_at FROM mails WHERE id = ?", mail_id)


def add_alert(tx: Tx, kind: str, subject: str, detail: str) -> None:
    """An operator alert, told in the next digest."""
    tx.run("INSERT INTO alerts (at, kind, subject, detail) VALUES (?, ?, ?, ?)", timestamp(), kind, subject, detail)


def unsent_alerts(tx: Tx) -> list[tuple[int, str, str, str]]:
    """(id, at, subject, detail) of the alerts no digest has told yet, oldest first."""
    return tx.all("SELECT id, at, subject, detail FROM alerts WHERE sent_at IS NULL ORDER BY id")


def mark_alerts_sent(tx: Tx, alert_ids: list[int]) -> None:
    """These alerts went out in a digest."""
    tx.many("UPDATE alerts SET sent_at = ? WHERE id = ?", [(timestamp(), i) for i in alert_ids])


def record_file(tx: Tx, folder: str, name: str) -> None:
    """A file written to outbox/<folder>/tmp/ as part of this transaction (published once it commits)."""
    tx.run("INSERT INTO outbound_files (folder, name, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
           folder, name, timestamp())


def file_recorded(tx: Tx, folder: str, name: str) -> bool:
    """Whether the transaction that wrote this outbox file committed."""
    return tx.one("SELECT 1 FROM outbound_files WHERE folder = ? AND name = ?", folder, name) is not None


def published_qty(tx: Tx, shop: str, channel_sku: str) -> int | None:
    """The quantity last published to the shop's stock feed for this code; None if never."""
    return tx.value("SELECT qty FROM feed_state WHERE shop = ? AND channel_sku = ?", shop, channel_sku)


def record_published(tx: Tx, figures: list[tuple[str, str, int]], chain: int | None = None) -> None:
    """(shop, channel_sku, qty) now published in a stock feed, in the file of this chain (oms/feedchain.py):
    a figure going into a chain for the first time keeps the one before it as its prior."""
    stamp = timestamp()
    tx.many("INSERT INTO feed_state (shop, channel_sku, qty, published_at, chain) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (shop, channel_sku) DO UPDATE SET qty = excluded.qty, published_at = excluded.published_at, "
            "prior = CASE WHEN feed_state.chain IS excluded.chain THEN feed_state.prior ELSE feed_state.qty END, "
            "chain = excluded.chain", [(shop, code, qty, stamp, chain) for shop, code, qty in figures])
