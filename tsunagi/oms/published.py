"""What the channels were told and what they say they hold: resync times, reported figures, drift."""
from __future__ import annotations

from tsunagi.common.clock import timestamp
from tsunagi.oms.store import Tx


def figures(tx: Tx, shop: str) -> list[tuple[str, int]]:
    """(channel_sku, quantity) last published to the shop's stock feed, by code."""
    return tx.all("SELECT channel_sku, qty FROM feed_state WHERE shop = ? ORDER BY channel_sku", shop)


def record_resync(tx: Tx, shop: str) -> None:
    """The shop's feed was just written whole."""
    tx.run("INSERT INTO feed_resyncs (shop, at) VALUES (?, ?) ON CONFLICT (shop) DO UPDATE SET at = excluded.at",
           shop, timestamp())


def last_resync(tx: Tx, shop: str) -> str | None:
    """When the shop's feed was last written whole; None if never."""
    return tx.value("SELECT at FROM feed_resyncs WHERE shop = ?", shop)


def record_report(tx: Tx, shop: str, figures: list[tuple[str, int]], reported_at: str, source: str) -> list[dict]:
    """A channel's own figures (channel SKU, quantity), as its stock download made at reported_at gave them,
    set beside the figure tsunagi last published for each; returns the drifts (a figure differing from one
    published before the download was made), each marked to be written again. A code tsunagi never
    published is kept but is no drift; a published figure newer than the download is not compared (the
    channel may not have read it yet)."""
    tx.many("INSERT INTO channel_stock (shop, channel_sku, qty, reported_at, source, published, published_at, repush) "
            "SELECT ?, ?, ?, ?, ?, f.qty, f.published_at, 0 FROM (SELECT 1) LEFT JOIN feed_state f "
            "ON f.shop = ? AND f.channel_sku = ? AND f.published_at <= ? WHERE true "
            "ON CONFLICT (shop, channel_sku) DO UPDATE SET qty = excluded.qty, reported_at = excluded.reported_at, "
            "source = excluded.source, published = excluded.published, published_at = excluded.published_at, "
            "repush = 0 WHERE excluded.reported_at >= channel_stock.reported_at",
            [(shop, code, qty, reported_at, source, shop, code, reported_at) for code, qty in figures])
    codes = [code for code, _ in figures]
    tx.many("UPDATE channel_stock SET repush = 1 WHERE shop = ? AND channel_sku = ? AND published IS NOT NULL "
            "AND qty <> published AND reported_at = ?", [(shop, code, reported_at) for code in codes])
    return [d for d in drift(tx, shop) if d["reported_at"] == reported_at]


def drift(tx: Tx, shop: str | None = None) -> list[dict]:
    """Each channel SKU whose channel's last download differs from what tsunagi had published, by shop and code."""
    sql = ("SELECT shop, channel_sku, qty, published, reported_at, published_at, source, repush FROM channel_stock "
           "WHERE published IS NOT NULL AND qty <> published")
    rows = tx.all(sql + (" AND shop = ?" if shop else "") + " ORDER BY shop, channel_sku", *([shop] if shop else []))
    keys = ("shop", "channel_sku", "channel_qty", "published_qty", "reported_at", "published_at", "source",
            "repush_pending")
    return [dict(zip(keys, r[:7]), repush_pending=bool(r[7])) for r in rows]


def repush_wanted(tx: Tx) -> dict[str, list[str]]:
    """shop -> the channel SKUs a drift marked to be written again."""
    out: dict[str, list[str]] = {}
    for shop, code in tx.all("SELECT shop, channel_sku FROM channel_stock WHERE repush = 1 ORDER BY shop, channel_sku"):
        out.setdefault(shop, []).append(code)
    return out


def repushed(tx: Tx, shop: str, codes: list[str]) -> None:
    """These codes' right figures were written again."""
    tx.many("UPDATE channel_stock SET repush = 0 WHERE shop = ? AND channel_sku = ?", [(shop, c) for c in codes])
