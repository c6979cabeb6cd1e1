"""The whole catalog as a shop publishes it, read in bulk for a full resync: codes, parts, names."""
from __future__ import annotations

from tsunagi.oms.store import Tx


def channel_codes(tx: Tx, shop: str) -> dict[str, str]:
    """{channel_sku: product} of every product the shop publishes, as catalog.channel_codes gives it product
    by product: the shop's own codes, else the codes for all shops, else the product's own SKU."""
    own: dict[str, list[str]] = {}
    common: dict[str, list[str]] = {}
    for code, sku, for_shop in tx.all("SELECT channel_sku, sku, shop FROM channel_skus WHERE shop IN (?, '')", shop):
        (own if for_shop == shop else common).setdefault(sku, []).append(code)
    master = {r[0] for r in tx.all("SELECT sku FROM products")}
    out: dict[str, str] = {}
    for product in sorted(master | own.keys() | common.keys()):   # a mapping may name a product not in the master
        for code in own.get(product) or common.get(product) or [product]:
            out[code] = product
    return out


def components(tx: Tx) -> dict[str, list[tuple[str, int]]]:
    """{set: [(part, qty)]} of every set; a product not in it takes only itself."""
    out: dict[str, list[tuple[str, int]]] = {}
    for set_sku, sku, qty in tx.all("SELECT set_sku, sku, qty FROM set_components ORDER BY set_sku, sku"):
        out.setdefault(set_sku, []).append((sku, qty))
    return out


def names(tx: Tx) -> dict[str, str]:
    """{product: name} of the master."""
    return {r[0]: r[1] or "" for r in tx.all("SELECT sku, name FROM products")}
