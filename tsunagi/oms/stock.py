"""Stock by SKU, location and lot; every change of on-hand or reserved goes through the ledger."""
from __future__ import annotations

import re
from datetime import datetime

from tsunagi.common.clock import JST, timestamp
from tsunagi.oms import outbox
from tsunagi.oms.records import StockRecord
from tsunagi.oms.store import Tx


def move(tx: Tx, sku: str, location: str, lot: str, d_on_hand: int, d_reserved: int,
         cause: str, ref: str) -> None:
    """The only writer of stock figures: the row, its ledger line and the outbox event together."""
    if tx.run("UPDATE stock SET on_hand = on_hand + ?, reserved = reserved + ? WHERE sku = ? AND location = ? "
              "AND lot = ?", d_on_hand, d_reserved, sku, location, lot).rowcount == 0:
        tx.run("INSERT INTO stock (sku, location, lot, on_hand, reserved) VALUES (?, ?, ?, ?, ?)",
               sku, location, lot, d_on_hand, d_reserved)
    tx.run("INSERT INTO ledger (at, sku, location, lot, d_on_hand, d_reserved, cause, ref) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", timestamp(), sku, location, lot, d_on_hand, d_reserved, cause, ref)
    # One event a SKU a transaction is all a consumer needs (they commit together); a rolled-back
    # savepoint clears the memo, so its events are written again by what follows.
    emitted = tx.memo.setdefault("stock_emitted", set())
    if sku not in emitted:
        outbox.emit(tx, outbox.STOCK, sku)
        emitted.add(sku)


def slot(tx: Tx, sku: str, location: str, lot: str) -> tuple[int, int]:
    row = tx.one("SELECT on_hand, reserved FROM stock WHERE sku = ? AND location = ? AND lot = ?",
                 sku, location, lot)
    return (row[0], row[1]) if row else (0, 0)


def counted_slot(tx: Tx, sku: str, location: str, lot: str) -> tuple[int, int, datetime | None]:
    """on_hand, reserved, and when the figure was last counted (None: never), in one look."""
    row = tx.one("SELECT on_hand, reserved, counted_at FROM stock WHERE sku = ? AND location = ? AND lot = ?",
                 sku, location, lot)
    if row is None:
        return 0, 0, None
    return row[0], row[1], datetime.fromisoformat(row[2]) if row[2] else None


def note_counted(tx: Tx, sku: str, location: str, lot: str, at: datetime, ref: str) -> None:
    """The slot's figure is as counted at this time. A slot never stocked, counted at zero, gets its row
    through the ledger (a line of zero), so the time is kept and the ledger still sums to every row."""
    stamp = at.astimezone(JST).isoformat(timespec="microseconds")
    sql = "UPDATE stock SET counted_at = ? WHERE sku = ? AND location = ? AND lot = ?"
    if tx.run(sql, stamp, sku, location, lot).rowcount == 0:
        move(tx, sku, location, lot, 0, 0, "count", ref)
        tx.run(sql, stamp, sku, location, lot)


def ensure_location(tx: Tx, location: str) -> None:
    """A location first seen in a stock file ranks after the configured ones."""
    if tx.one("SELECT 1 FROM locations WHERE location = ?", location) is None:
        rank = tx.value("SELECT MAX(priority) FROM locations", default=0) + 1
        tx.run("INSERT INTO locations (location, priority) VALUES (?, ?)", location, rank)


def mark_unsellable(tx: Tx, location: str) -> None:
    """Stock at this location is never reserved nor published (it is known, so a return may name it)."""
    ensure_location(tx, location)
    tx.run("INSERT INTO unsellable_locations (location) VALUES (?) ON CONFLICT DO NOTHING", location)


def set_locations(tx: Tx, names: list[str]) -> None:
    """Configured priority: the first name is taken from first."""
    for rank, name in enumerate(names, 1):
        tx.run("INSERT INTO locations (location, priority) VALUES (?, ?) "
               "ON CONFLICT (location) DO UPDATE SET priority = excluded.priority", name, rank)


SELLABLE = "location NOT IN (SELECT location FROM unsellable_locations)"


def free_by_sku(tx: Tx, skus: set[str] | None = None) -> dict[str, int]:
    """Free units by SKU at the locations that sell (an unsellable one, 返品不良, is never published)."""
    if skus is None:
        rows = tx.all(f"SELECT sku, SUM(on_hand - reserved) FROM stock WHERE {SELLABLE} GROUP BY sku")
    else:
        rows = []
        for sku in skus:
            rows += tx.all(f"SELECT sku, SUM(on_hand - reserved) FROM stock WHERE sku = ? AND {SELLABLE} GROUP BY sku",
                           sku)
    return {r[0]: r[1] for r in rows}


def natural_key(text: str) -> tuple:
    """Lot '9' before lot '10'; letters compare as text."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", text) if part)


def free_slots(tx: Tx, sku: str) -> list[tuple[str, str, int]]:
    """(location, lot, free) with free stock, in the order they are taken from:
    location by configured priority, then lot ascending."""
    rows = tx.all("SELECT s.location, s.lot, s.on_hand - s.reserved, COALESCE(l.priority, 1000000) "
                  "FROM stock s LEFT JOIN locations l ON l.location = s.location "
                  "WHERE s.sku = ? AND s.on_hand > s.reserved AND s." + SELLABLE, sku)
    rows.sort(key=lambda r: (r[3], r[0], natural_key(r[1])))
    return [(r[0], r[1], r[2]) for r in rows]


def check_count(rec: StockRecord) -> str | None:
    if not rec.sku:
        return "sku is empty"
    if rec.qty < 0:
        return f"quantity {rec.qty} is negative"
    return None


def rows(tx: Tx) -> list[dict]:
    out = []
    for sku, on_hand, reserved in tx.all(
            "SELECT sku, SUM(on_hand), SUM(reserved) FROM stock GROUP BY sku ORDER BY sku"):
        out.append({"sku": sku, "on_hand": on_hand, "reserved": reserved, "free": on_hand - reserved})
    return out
