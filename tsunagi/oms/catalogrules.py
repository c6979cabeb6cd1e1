"""What the catalog refuses, row by row: sets of unknown parts, codes differing only in case, counts of no product."""
from __future__ import annotations

import dataclasses

from tsunagi.oms.records import ProductRecord
from tsunagi.oms.store import Tx

REFUSE, FOLD = "refuse", "fold"      # catalog.sku_case: a code equal to a product's but for case


class Refused(ValueError):
    """One row the catalog will not take; the message names the value."""


def spellings(tx: Tx, sku: str) -> list[str]:
    """The products whose code is this one in any case (ABC-1 and abc-1 for abc-1): one indexed look-up."""
    return sorted(r[0] for r in tx.all("SELECT sku FROM products WHERE lower(sku) = lower(?)", sku))


def case_twin(tx: Tx, sku: str, found: list[str] | None = None) -> str | None:
    """A product whose code is this one's but for case (ABC-1 for abc-1); None if there is none.
    Warehouses and spreadsheets change a code's case: taken as a new product, its stock would be counted twice."""
    return next((s for s in (spellings(tx, sku) if found is None else found) if s != sku), None)


def is_product(tx: Tx, sku: str) -> bool:
    return tx.one("SELECT 1 FROM products WHERE sku = ?", sku) is not None


def set_parts(tx: Tx, sku: str) -> list[str]:
    return [r[0] for r in tx.all("SELECT sku FROM set_components WHERE set_sku = ? ORDER BY sku", sku)]


def sets_holding(tx: Tx, sku: str) -> list[str]:
    return [r[0] for r in tx.all("SELECT set_sku FROM set_components WHERE sku = ? ORDER BY set_sku", sku)]


def known(tx: Tx, sku: str, sku_case: str, what: str) -> str:
    """The product this code names: itself, or (sku_case "fold") its case twin; else Refused naming it."""
    found = spellings(tx, sku)
    if sku in found:
        return sku
    twin = case_twin(tx, sku, found)
    if twin and sku_case == FOLD:
        return twin
    if twin:
        raise Refused(f"{what} {sku} は商品マスタにありません (大文字小文字だけ違う {twin} があります; "
                      f"同じ商品なら catalog.sku_case = \"fold\")")
    raise Refused(f"{what} {sku} は商品マスタにありません (tsunagi products import で登録)")


def checked_product(tx: Tx, rec: ProductRecord, sku_case: str) -> ProductRecord:
    """The row as the catalog takes it (its code and its parts' codes as the catalog spells them), or Refused."""
    sku, found = rec.sku, spellings(tx, rec.sku)
    if sku not in found and (twin := case_twin(tx, sku, found)):
        if sku_case != FOLD:
            raise Refused(f"商品コード {sku} は既存の商品 {twin} と大文字小文字だけが違います "
                          f"(同じ商品なら catalog.sku_case = \"fold\"、別の商品なら別のコードに)")
        sku = twin
    parts = []
    for part, qty in rec.components:
        code = known(tx, part, sku_case, "セットの構成品")
        if code == sku:
            raise Refused(f"セット {sku} の構成品に自分自身 {part} があります")
        if set_parts(tx, code):
            raise Refused(f"セットの構成品 {part} はセット商品です (構成品は単品だけ)")
        parts.append((code, qty))
    if parts and (holders := sets_holding(tx, sku)):
        raise Refused(f"商品 {sku} はセット {', '.join(holders)} の構成品なので、セットにはできません")
    return dataclasses.replace(rec, sku=sku, components=tuple(parts))


def counted_sku(tx: Tx, sku: str, sku_case: str) -> str:
    """The product a stock count is for, or Refused: a code no product has, or a set (counted in its parts)."""
    code = known(tx, sku, sku_case, "商品コード")
    parts = set_parts(tx, code)
    if parts:
        raise Refused(f"商品コード {sku} はセット商品です: 在庫は構成品 ({', '.join(parts)}) で数えます")
    return code
