"""The order list of the console: orders filtered by status, shop and dates, searched by number, buyer or
recipient name (kana too) or phone, newest first, a page at a time."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tsunagi.common.japanese import full_width_kana, half_width
from tsunagi.oms import orderbigrams, ordersearch, status
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
    """The filters on orders (status, hold kind, shop, dates) as a WHERE clause and its values."""
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
    return (" WHERE " + " AND ".join(sql)) if sql else "", params


def _words(text: str) -> list[str]:
    """What a search looks for: as typed, its katakana reading, and a phone number's digits."""
    words = {text, _katakana(text)}
    digits = re.sub(r"[-\s]", "", half_width(text))
    if digits.isdigit() and len(digits) >= 4:       # a phone number, typed with or without its hyphens
        words.add(digits)
    return sorted(words)


def _ids(tx: Tx, f: Filter, limit: int, offset: int) -> tuple[list[int], int]:
    where, params = _where(f)
    text = f.text.strip()
    if not text:              # filters alone are answered from an index: count it, and read one page
        total = tx.value("SELECT COUNT(*) FROM orders" + where, *params)
        return [r[0] for r in tx.all("SELECT id FROM orders" + where + " ORDER BY ordered_at DESC, id DESC "
                                     "LIMIT ? OFFSET ?", *params, limit, offset)], total
    words = _words(text)
    if ordersearch.usable(tx, words):
        return ordersearch.ids(tx, words, where, params, limit, offset)
    if orderbigrams.usable(tx, words):             # 2 characters, a name's or its kana's
        return orderbigrams.ids(tx, words, where, params, limit, offset)
    # 1 character, 2 in ASCII (or an SQLite without the trigram tokenizer): the narrow order_search table
    # read once by LIKE, for the count and the page alike
    likes = [_like(w) for w in words]
    sql = ("SELECT order_id FROM order_search WHERE (" + " OR ".join(["text LIKE ? ESCAPE '\\'"] * len(likes)) + ")"
           + (f" AND order_id IN (SELECT id FROM orders{where})" if where else "")
           + " ORDER BY ordered_at DESC, order_id DESC")
    found = [r[0] for r in tx.all(sql, *likes, *params)]
    return found[offset:offset + limit], len(found)


@dataclass(frozen=True)
class Row:
    """An order as a line of the list shows it (the read model would load lines, stock and parcels too)."""
    id: int
    shop: str
    order_no: str
    status: str
    hold_kind: str
    ordered_at: str
    total: int
    buyer: str
    buyer_kana: str
    recipient: str

    @property
    def status_label(self) -> str:
        return status.label(self.status)


def search(tx: Tx, f: Filter, limit: int = 50, offset: int = 0) -> tuple[list[Row], int]:
    """A page of orders (newest first) and how many orders match in all."""
    ids, total = _ids(tx, f, limit, offset)
    if not ids:
        return [], total
    rows = {r[0]: r for r in tx.all("SELECT id, shop, order_no, status, hold_kind, ordered_at, total, data FROM orders "
                                    f"WHERE id IN ({','.join('?' * len(ids))})", *ids)}
    return [_row(rows[i]) for i in ids], total


def _row(r: tuple) -> Row:
    data = json.loads(r[7])
    buyer, ship_to = data.get("buyer") or {}, data.get("ship_to") or {}
    return Row(*r[:7], buyer.get("name", ""), buyer.get("kana", ""), ship_to.get("name") or buyer.get("name", ""))


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
