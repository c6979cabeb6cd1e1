"""Other versions of an order: a disagreeing copy kept when it holds the order, then adopted or set aside."""
from __future__ import annotations

import hashlib
import json

from tsunagi.common.clock import timestamp
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

PENDING, KEPT, ADOPTED, REPLACED, SUPERSEDED = "pending", "kept", "adopted", "replaced", "superseded"
AMOUNTS = ("total", "shipping_fee", "cod_fee", "discount")


def content_of(rec: OrderRecord) -> dict:
    """What a version is: its lines (code, name, options, quantity, unit price) and its amounts (and where it
    has several recipients, each line's and theirs)."""
    out = {"lines": [[line.channel_sku, line.name, list(line.options), line.qty, line.unit_price] for line in rec.lines],
           **{name: getattr(rec, name) for name in AMOUNTS}}
    if rec.more_ship_to:    # several recipients (複数送付先): whom each line goes to, and who they are
        out["recipients"] = [line.recipient for line in rec.lines]
        out["more_ship_to"] = [dict(a.__dict__) for a in rec.more_ship_to]
    return out


def line_keys(lines) -> list[tuple[str, int]]:
    """(code, quantity) pairs in a fixed order: what tells two versions' lines apart."""
    return sorted((code, qty) for code, qty in lines)


def show_lines(lines) -> str:
    """(code, quantity) pairs as an operator reads them."""
    return ", ".join(f"{code}×{qty}" for code, qty in lines)


def digest(content: dict) -> str:
    """What tells two versions apart, as holds compare them: the codes and quantities, and the total."""
    keys = line_keys((code, qty) for code, _, _, qty, _ in content["lines"])
    return hashlib.sha256(json.dumps([keys, content["total"]]).encode()).hexdigest()


def offer(tx: Tx, order_id: int, rec: OrderRecord) -> bool:
    """Keep a disagreeing copy as the order's pending other version; False when a person has already set
    this very version aside (kept the order's own, or adopted another over it): it holds the order no more."""
    content = content_of(rec)
    key = digest(content)
    if tx.one("SELECT 1 FROM order_versions WHERE order_id = ? AND digest = ? AND state IN (?, ?)",
              order_id, key, KEPT, REPLACED):
        return False
    if tx.one("SELECT 1 FROM order_versions WHERE order_id = ? AND digest = ? AND state = ?", order_id, key, PENDING):
        return True
    tx.run("UPDATE order_versions SET state = ?, decided_at = ? WHERE order_id = ? AND state = ?",
           SUPERSEDED, timestamp(), order_id, PENDING)
    tx.run("INSERT INTO order_versions (order_id, at, source, digest, content, state) VALUES (?, ?, ?, ?, ?, ?)",
           order_id, timestamp(), rec.source, key, json.dumps(content, ensure_ascii=False), PENDING)
    return True


def pending(tx: Tx, order_id: int) -> tuple[int, str, dict] | None:
    """The order's pending other version: (id, source, content), or None."""
    row = tx.one("SELECT id, source, content FROM order_versions WHERE order_id = ? AND state = ? "
                 "ORDER BY id DESC LIMIT 1", order_id, PENDING)
    return (row[0], row[1], json.loads(row[2])) if row else None


def decide(tx: Tx, version_id: int, state: str, by: str) -> None:
    tx.run("UPDATE order_versions SET state = ?, decided_at = ?, decided_by = ? WHERE id = ?",
           state, timestamp(), by, version_id)


def keep_current(tx: Tx, order_id: int, by: str) -> dict | None:
    """The pending version is set aside (the order keeps its own); returns its content, if there was one."""
    found = pending(tx, order_id)
    if found:
        decide(tx, found[0], KEPT, by)
    return found[2] if found else None


def record_replaced(tx: Tx, order_id: int, content: dict, by: str) -> None:
    """The order's lines and amounts as they were before an adoption replaced them."""
    tx.run("INSERT INTO order_versions (order_id, at, source, digest, content, state, decided_at, decided_by) "
           "VALUES (?, ?, 'current', ?, ?, ?, ?, ?)", order_id, timestamp(), digest(content),
           json.dumps(content, ensure_ascii=False), REPLACED, timestamp(), by)


def show(content: dict) -> str:
    """A version in one line for the order's history: lines and total."""
    return f"{show_lines((code, qty) for code, _, _, qty, _ in content['lines'])} 合計 {content['total']:,}円"
