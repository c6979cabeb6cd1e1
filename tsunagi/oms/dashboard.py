"""The figures of the console's dashboard: orders per status and hold kind, today's per shop, open alerts."""
from __future__ import annotations

from tsunagi.oms import status
from tsunagi.oms.store import Tx


def last_event(tx: Tx) -> int:
    """The newest outbox row: every status and stock change writes one, so the counts move only with it."""
    return tx.value("SELECT MAX(id) FROM outbox", default=0) or 0


def status_counts(tx: Tx) -> dict[str, int]:
    """Orders per status code (every status named, 0 where none)."""
    found = dict(tx.all("SELECT status, COUNT(*) FROM orders GROUP BY status"))
    return {code: found.get(code, 0) for code in status.ALL}


def hold_counts(tx: Tx) -> dict[str, int]:
    """Orders on hold per hold kind, the largest first."""
    return dict(tx.all("SELECT hold_kind, COUNT(*) AS n FROM orders WHERE status = ? GROUP BY hold_kind "
                       "ORDER BY n DESC, hold_kind", status.HOLD))


def ordered_since(tx: Tx, shops: list[str], since: str) -> dict[str, int]:
    """Orders placed at or after since (ISO time), per shop, every shop named."""
    return {shop: tx.value("SELECT COUNT(*) FROM orders WHERE shop = ? AND ordered_at >= ?", shop, since)
            for shop in shops}


def recent_alerts(tx: Tx, since: str, limit: int = 20) -> list[dict]:
    """Operator alerts recorded since then, newest first; sent is when the digest mailed it (None: not yet)."""
    rows = tx.all("SELECT at, kind, subject, sent_at FROM alerts WHERE at >= ? ORDER BY id DESC LIMIT ?", since, limit)
    return [{"at": at, "kind": kind, "subject": subject, "sent_at": sent} for at, kind, subject, sent in rows]
