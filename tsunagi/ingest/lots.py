"""A shop's lot → SKU table (au PAY マーケット's mail names each item's lot number, not its code), applied to its mails."""
from __future__ import annotations

import csv
import dataclasses
import io
from functools import lru_cache
from pathlib import Path

from tsunagi.common.jcodec import decode_bytes
from tsunagi.oms import lotlines, mailkinds, orders, status
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx


def read_table(path: Path) -> dict[str, str]:
    """lot -> SKU from the CSV (header `lot,sku`), read again whenever the file changes."""
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    data = Path(path).read_bytes()
    rows = csv.DictReader(io.StringIO(decode_bytes(data, None).lstrip("\ufeff")))
    return {r["lot"].strip(): r["sku"].strip() for r in rows if (r.get("lot") or "").strip() and (r.get("sku") or "").strip()}


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
                               f"(ロット番号,SKU の行を加えると、この店の次のメールの取り込みで引当し直します)")
    return result
