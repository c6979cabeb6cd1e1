"""Writes tests/data/schema_v0.sql: a database as the release before numbered migrations left it.

Run with that release's code, not this tree's (the point is its code path):
    git archive cbe4dc1 | tar -x -C /tmp/tsunagi-v0
    PYTHONPATH=/tmp/tsunagi-v0 python tests/data/make_schema_v0.py
"""
from __future__ import annotations

import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from tsunagi.common.clock import JST
from tsunagi.oms import catalog, counting, mailq, orders, stock, store
from tsunagi.oms.records import Address, OrderLine, OrderRecord, ProductRecord, StockRecord

OUT = Path(__file__).with_name("schema_v0.sql")


def build(path: Path) -> None:
    db = store.Store(path)
    assert db.read().one("PRAGMA user_version")[0] == 0
    with db.transaction() as tx:
        stock.set_locations(tx, ["main"])
        catalog.upsert_product(tx, ProductRecord("A", "商品A"))
        catalog.upsert_product(tx, ProductRecord("B", "商品B"))
        counting.apply_count(tx, StockRecord("A", "main", "1", 10), "counts.csv")
        counting.apply_count(tx, StockRecord("B", "main", "1", 5), "counts.csv")
        mailq.set_stages(tx, "shop", {"purchase": {"statuses": ["new", "confirm"]}})
        placed = OrderRecord("shop", "1001", datetime(2026, 6, 1, 10, tzinfo=JST),
                             (OrderLine("A", "商品A", 2, 1000), OrderLine("B", "商品B", 1, 500)), 2500,
                             ship_to=Address("山田 花子", "100-0001", "東京都", "千代田区1-1", "03-1234-5678"),
                             delivery_method="宅配便", payment_method="クレジットカード")
        assert orders.apply_order(tx, placed) == "created"
        unknown = OrderRecord("shop", "1002", datetime(2026, 6, 1, 11, tzinfo=JST),
                              (OrderLine("Z", "未登録", 1, 300),), 300)
        assert orders.apply_order(tx, unknown) == "held"
        store.record_applied(tx, "0" * 64, "mail-0001", "created")
    db.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v0.db"
        build(path)
        dump = subprocess.run(["sqlite3", str(path), ".dump"], check=True, capture_output=True, text=True).stdout
    OUT.write_text(dump, encoding="utf-8")


if __name__ == "__main__":
    main()
