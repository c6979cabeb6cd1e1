"""A products CSV row (read through a products layout) to a ProductRecord: set parts and tags taken apart."""
from __future__ import annotations

import re

from tsunagi.common import japanese as jp
from tsunagi.oms.records import ProductRecord


def components(text: str) -> tuple[tuple[str, int], ...]:
    """'A-1*2;B-1' -> (('A-1', 2), ('B-1', 1)); a ValueError naming the part that is not that."""
    out = []
    for part in filter(None, (p.strip() for p in re.split(r"[;|]", text))):
        sku, star, qty = (jp.half_width(s).strip() for s in part.partition("*"))   # codes fold as in orders
        if not sku or (star and not (qty.isdigit() and int(qty) > 0)):
            raise ValueError(f"セット構成 {part!r} が読めません (商品コード*数量 を ; で区切ります)")
        out.append((sku, int(qty) if qty else 1))
    return tuple(out)


def product(row: dict) -> ProductRecord:
    """One typed row (csvfields.type_frame) as a product; a ValueError when its set parts do not read."""
    tags = tuple(t for t in re.split(r"[;|\s]+", row.get("tags") or "") if t)
    return ProductRecord(row["sku"], row.get("name") or "", components(row.get("components") or ""),
                         row.get("channel_sku") or "", row.get("shop") or "", tags)
