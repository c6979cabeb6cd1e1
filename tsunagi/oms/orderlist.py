"""The order list of the console: orders filtered by status, shop and dates, searched by number, buyer or
recipient name (kana too) or phone, newest first, a page at a time."""
from __future__ import annotations

import re
from dataclasses import dataclass

from tsunagi.common.japanese import full_width_kana, half_width
from tsunagi.oms.store import Tx


@dataclass(frozen=True)
class Filter:
    status: str = ""          # a status code; "" any
    hold_kind: str = ""       # with status hold: one kind of hold
    shop: str = ""
    ordered_from: str = ""    # YYYY-MM-DD, inclusive (JST, as ordered_at is stored)
    ordered_to: str = ""      # YYYY-MM-DD, inclusive
    text: str = ""            # order number, a name or its kana, a phone number


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _katakana(text: str) -> str:
    """ひらがな typed into the search box finds the カタカナ readings carts send."""
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in full_width_kana(text))


def _where(f: Filter) -> tuple[str, list]:
    sql, params = [], []
    for column, value in (("status", f.status), ("hold_kind", f.hold_kind), ("shop", f.shop)):
        if value:
            sql.append(f"{column} = ?")
            params.append(value)
    if f.ordered_from:
        sql.append("ordered_at >= ?")
        params.append(f.ordered_from)
    if f.ordered_to:
        sql.append("ordered_at < ?")
        params.append(f.ordered_to + "T99")      # every time of that day sorts before it
    text = f.text.strip()
    if text:
        words = {text, _katakana(text)}
        found = ["order_no LIKE ? ESCAPE '\\'"] + ["data LIKE ? ESCAPE '\\'"] * len(words)
        params += [_like(text)] + [_like(w) for w in sorted(words)]
        digits = re.sub(r"[-\s]", "", half_width(text))
        if digits.isdigit() and len(digits) >= 4:       # a phone number, typed with or without its hyphens
            found.append("replace(data, '-', '') LIKE ?")
            params.append(_like(digits))
        sql.append("(" + " OR ".join(found) + ")")
    return (" WHERE " + " AND ".join(sql)) if sql else "", params


def search(tx: Tx, f: Filter, limit: int = 50, offset: int = 0) -> tuple[list[int], int]:
    """A page of order ids (newest first) and how many orders match in all."""
    where, params = _where(f)
    total = tx.value("SELECT COUNT(*) FROM orders" + where, *params)
    ids = [r[0] for r in tx.all("SELECT id FROM orders" + where + " ORDER BY ordered_at DESC, id DESC LIMIT ? OFFSET ?",
                                *params, limit, offset)]
    return ids, total


def refs(tx: Tx, order_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(shop, order number) of each id that exists."""
    out = {}
    for i in range(0, len(order_ids), 500):
        chunk = order_ids[i:i + 500]
        out.update({r[0]: (r[1], r[2]) for r in tx.all(
            f"SELECT id, shop, order_no FROM orders WHERE id IN ({','.join('?' * len(chunk))})", *chunk)})
    return out


def exists(tx: Tx, order_id: int) -> bool:
    return tx.value("SELECT 1 FROM orders WHERE id = ?", order_id) is not None
