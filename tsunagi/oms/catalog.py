"""Products, sets and the channel-SKU mapping: which stocked SKUs a channel's code stands for."""
from __future__ import annotations

from tsunagi.oms import outbox
from tsunagi.oms.records import ProductRecord
from tsunagi.oms.store import Tx


def upsert_product(tx: Tx, rec: ProductRecord) -> None:
    tx.memo.clear()
    tx.run("INSERT INTO products (sku, name, tags) VALUES (?, ?, ?) "
           "ON CONFLICT (sku) DO UPDATE SET name = excluded.name, tags = excluded.tags",
           rec.sku, rec.name, " ".join(rec.tags))
    if rec.components:
        tx.run("DELETE FROM set_components WHERE set_sku = ?", rec.sku)
        for sku, qty in rec.components:
            tx.run("INSERT INTO set_components (set_sku, sku, qty) VALUES (?, ?, ?)", rec.sku, sku, qty)
    if rec.channel_sku:
        tx.run("INSERT INTO channel_skus (shop, channel_sku, sku) VALUES (?, ?, ?) "
               "ON CONFLICT (shop, channel_sku) DO UPDATE SET sku = excluded.sku",
               rec.shop, rec.channel_sku, rec.sku)
    # A new product or set must reach the stock feeds like any stock change.
    for sku in [rec.sku, *(c for c, _ in rec.components)]:
        outbox.emit(tx, outbox.STOCK, sku)


def components(tx: Tx, sku: str) -> list[tuple[str, int]]:
    """What one unit of this product takes from stock: itself, or a set's parts."""
    key = ("components", sku)
    if key not in tx.memo:
        rows = tx.all("SELECT sku, qty FROM set_components WHERE set_sku = ? ORDER BY sku", sku)
        tx.memo[key] = [(r[0], r[1]) for r in rows] or [(sku, 1)]
    return tx.memo[key]


def product_for(tx: Tx, shop: str, channel_sku: str) -> str | None:
    """The product a channel's code means in this shop: a mapping for the shop, for all shops,
    or a product whose SKU is the code itself."""
    key = ("product_for", shop, channel_sku)
    if key not in tx.memo:
        tx.memo[key] = _product_for(tx, shop, channel_sku)
    return tx.memo[key]


def _product_for(tx: Tx, shop: str, channel_sku: str) -> str | None:
    row = tx.one("SELECT sku FROM channel_skus WHERE channel_sku = ? AND shop IN (?, '') "
                 "ORDER BY shop DESC LIMIT 1", channel_sku, shop)
    if row:
        return row[0]
    row = tx.one("SELECT sku FROM products WHERE sku = ?", channel_sku)
    return row[0] if row else None


def affected_products(tx: Tx, skus: set[str]) -> set[str]:
    """Products whose availability follows these SKUs: themselves and the sets holding them."""
    out = set(skus)
    for sku in skus:
        out.update(r[0] for r in tx.all("SELECT set_sku FROM set_components WHERE sku = ?", sku))
    return out


def channel_codes(tx: Tx, shop: str, products: set[str]) -> dict[str, str]:
    """{channel_sku: product} this shop publishes for these products. A product with a mapped
    channel code for the shop (or for all shops) is published under that code only."""
    out: dict[str, str] = {}
    for product in products:
        rows = tx.all("SELECT channel_sku, shop FROM channel_skus WHERE sku = ? AND shop IN (?, '')",
                      product, shop)
        shop_rows = [r[0] for r in rows if r[1] == shop] or [r[0] for r in rows]
        if shop_rows:
            out.update({code: product for code in shop_rows})
        elif tx.one("SELECT 1 FROM products WHERE sku = ?", product):
            out[product] = product
    return out


def tags(tx: Tx, sku: str) -> set[str]:
    return set((tx.value("SELECT tags FROM products WHERE sku = ?", sku, default="") or "").split())


def product_name(tx: Tx, sku: str) -> str:
    """The product's name in the master; "" for an unknown SKU."""
    return tx.value("SELECT name FROM products WHERE sku = ?", sku, default="")
