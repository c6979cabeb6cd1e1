"""The whole catalog as a shop publishes it, read in bulk for a full resync: codes, parts, names."""
from __future__ import annotations

from tsunagi.oms.store import Tx


def mapped_codes(tx: Tx, shops: list[str]) -> dict[str, dict[str, str]]:
    """shop -> {channel_sku: product} of the products the shop publishes under a mapped code, as
    catalog.channel_codes gives them: the shop's own codes, else the codes for all shops. Any other product
    of the master is published under its own SKU."""
    mappings = tx.all("SELECT channel_sku, sku, shop FROM channel_skus")
    out = {}
    for shop in shops:
        own: dict[str, list[str]] = {}
        common: dict[str, list[str]] = {}
        for code, sku, for_shop in mappings:
            if for_shop in (shop, ""):
                (own if for_shop == shop else common).setdefault(sku, []).append(code)
        out[shop] = {code: product for product in own.keys() | common.keys()
                     for code in own.get(product) or common[product]}
    return out


def components(tx: Tx) -> dict[str, list[tuple[str, int]]]:
    """{set: [(part, qty)]} of every set; a product not in it takes only itself."""
    out: dict[str, list[tuple[str, int]]] = {}
    for set_sku, sku, qty in tx.all("SELECT set_sku, sku, qty FROM set_components ORDER BY set_sku, sku"):
        out.setdefault(set_sku, []).append((sku, qty))
    return out


def names(tx: Tx) -> list[tuple[str, str]]:
    """(product, name) of the master."""
    return tx.all("SELECT sku, name FROM products")
