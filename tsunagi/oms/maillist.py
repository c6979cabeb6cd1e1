"""メール as the console lists it: the newest buyer mails first, filtered by state, shop and order number."""
from __future__ import annotations

from tsunagi.oms.store import Tx

KEYS = ("id", "order_id", "shop", "order_no", "stage", "state", "to", "due_at", "at", "answer", "attempts",
        "resend", "sent_to")


def recent(tx: Tx, state: str = "", shop: str = "", order_no: str = "", limit: int = 200,
           mail_id: int | None = None) -> list[dict]:
    """Up to limit mails, newest first; each filter given narrows them."""
    sql = ("SELECT m.id, m.order_id, m.shop, o.order_no, m.stage, m.state, m.to_addr, m.due_at, m.updated_at, "
           "m.answer, m.attempts, m.resend, m.sent_to FROM mails m JOIN orders o ON o.id = m.order_id WHERE 1 = 1")
    params: list = []
    for column, value in (("m.state", state), ("m.shop", shop), ("o.order_no", order_no), ("m.id", mail_id)):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    return [dict(zip(KEYS, r)) for r in tx.all(sql + " ORDER BY m.id DESC LIMIT ?", *params, limit)]


def failed_count(tx: Tx, shop: str = "") -> int:
    return tx.value("SELECT COUNT(*) FROM mails WHERE state = 'failed'" + (" AND shop = ?" if shop else ""),
                    *([shop] if shop else []))
