"""What `tsunagi status` reads from the store: the last order and item applied, and the buyer mails' state."""
from __future__ import annotations

from tsunagi.oms.store import Tx

MAIL_STATES = ("queued", "sending", "failed", "uncertain")     # the states a person may have to look at


def last_order(tx: Tx) -> dict | None:
    """The order taken last (shop, order number, when): ids grow with every order created."""
    row = tx.one("SELECT shop, order_no, created_at FROM orders ORDER BY id DESC LIMIT 1")
    return dict(zip(("shop", "order_no", "at"), row)) if row else None


def last_applied(tx: Tx) -> dict | None:
    """The spool item applied last and its outcome (rowid follows the order of inserts)."""
    row = tx.one("SELECT item_id, outcome, applied_at FROM applied_items ORDER BY rowid DESC LIMIT 1")
    return dict(zip(("item", "outcome", "at"), row)) if row else None


def mail_counts(tx: Tx) -> dict[str, int]:
    """Buyer mails by state, for the states that are not settled; every state named, 0 when none."""
    counts = dict(tx.all("SELECT state, COUNT(*) FROM mails WHERE state IN (?, ?, ?, ?) GROUP BY state",
                         *MAIL_STATES))
    return {state: counts.get(state, 0) for state in MAIL_STATES}


def mails_gone_wrong_since(tx: Tx, since: str) -> int:
    """Mails that became failed or uncertain at or after `since` (ISO time, as stored)."""
    return tx.value("SELECT COUNT(*) FROM mails WHERE state IN ('failed', 'uncertain') AND updated_at >= ?",
                    since, default=0)


def last_send_error(tx: Tx) -> dict | None:
    """The relay's last refusal or failure recorded on a mail still queued or given up: (answer, when)."""
    row = tx.one("SELECT answer, updated_at FROM mails WHERE state IN ('queued', 'failed') AND attempts > 0 "
                 "AND answer <> '' ORDER BY updated_at DESC, id DESC LIMIT 1")
    return {"answer": row[0], "at": row[1]} if row else None
