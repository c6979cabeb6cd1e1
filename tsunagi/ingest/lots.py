"""A shop's lot → SKU table (au PAY マーケット's mail names each item's lot number, not its code), applied to its mails."""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
from functools import lru_cache
from pathlib import Path

from tsunagi.common.jcodec import decode_bytes
from tsunagi.oms import lotlines, mailkinds, orders, status
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Store, Tx

log = logging.getLogger("tsunagi.lots")


def read_table(path: Path) -> dict[str, str]:
    """lot -> SKU from the CSV (header `lot,sku`), read again whenever the file changes."""
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    data = Path(path).read_bytes()
    rows = csv.DictReader(io.StringIO(decode_bytes(data, None).lstrip("\ufeff")))
    return {r["lot"].strip(): r["sku"].strip() for r in rows if (r.get("lot") or "").strip() and (r.get("sku") or "").strip()}


class TableWatch:
    """Shops' lot tables looked at for an edit: the orders held for lots an edited table now names are placed
    at once, not when the shop's next mail comes (a first look places what an edit while stopped allows)."""

    def __init__(self, store: Store, tables: dict[str, Path]):
        self.store, self.tables = store, tables
        self.seen: dict[str, tuple[int, int]] = {}

    def check(self) -> int:
        """The orders placed again by the tables edited since the last look."""
        placed = 0
        for shop, path in self.tables.items():
            try:
                stat = path.stat()
                if self.seen.get(shop) == (stat.st_mtime_ns, stat.st_size):
                    continue
                table = read_table(path)
            except (OSError, KeyError, UnicodeDecodeError) as exc:      # being rewritten, or broken: next look
                log.warning("lot table %s of %s: %s", path, shop, exc)
                continue
            with self.store.transaction() as tx:
                placed += lotlines.relink(tx, shop, table)
            self.seen[shop] = (stat.st_mtime_ns, stat.st_size)
        return placed


def problem(path: Path) -> str | None:
    """Why the file cannot be a lot table (no `lot` and `sku` header, or not text), or None."""
    try:
        head = decode_bytes(path.read_bytes()[:4096], None).lstrip("\ufeff").splitlines()[:1]
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path}: {exc}"
    names = {c.strip() for c in head[0].split(",")} if head else set()
    return None if {"lot", "sku"} <= names else f"{path.name}: the first line must name the columns lot,sku"


def apply(tx: Tx, record: OrderRecord, table_path: Path | None) -> str:
    """mailkinds.apply (orders.apply_order for a whole order) with each line's lot read as its SKU; a lot the
    table lacks holds the order naming it.
    Orders held earlier for lots the table now has are placed again first (the table was completed)."""
    if table_path is None:
        return mailkinds.apply(tx, record)
    table = read_table(table_path)
    lotlines.relink(tx, record.shop, table)
    missing = [line.channel_sku for line in record.lines if line.channel_sku not in table]
    lines = tuple(dataclasses.replace(line, channel_sku=table.get(line.channel_sku, line.channel_sku))
                  for line in record.lines)
    result = mailkinds.apply(tx, dataclasses.replace(record, lines=lines))
    found = orders.find(tx, record.shop, record.order_no)
    if missing and found and found[1] == status.HOLD:
        orders.set_status(tx, found[0], status.HOLD, hold_kind=lotlines.HOLD_KIND,
                          note=f"ロット番号 {', '.join(missing)} がロット表 {table_path.name} にありません "
                               f"(ロット番号,SKU の行を加えると、数秒のうちに引当し直します)")
    return result
