"""A channel's own stock download applied: its figures set beside what tsunagi published, drifts alerted."""
from __future__ import annotations

import logging

from tsunagi.oms import filerows, outbound_tables, published
from tsunagi.oms.store import Store
from tsunagi.parsers.csvfile import Chunk

log = logging.getLogger("tsunagi.csv")
SHOWN = 20          # drifted SKUs named in an alert; the count says how many more


def apply(store: Store, shop: str, chunk: Chunk, outcomes, sha256: str, reported_at: str, source: str) -> None:
    """The chunk's figures recorded in one transaction with its rows; the SKUs whose figure differs from the
    one published before the download was made are alerted, and marked to be written again."""
    if not chunk.reported:
        return
    with store.transaction() as tx:
        drifts = published.record_report(tx, shop, [(r.channel_sku, r.qty) for r, _ in chunk.reported],
                                         reported_at, source)
        filerows.applied(tx, sha256, [row for _, row in chunk.reported])
        if drifts:
            outbound_tables.add_alert(tx, "feed", f"{shop}: チャネルの在庫が tsunagi の公開数と {len(drifts)} 件ずれています",
                                      describe(drifts, source))
    outcomes["reported"] += len(chunk.reported)
    outcomes["drifted"] += len(drifts)
    if drifts:
        log.warning("shop %s: %d SKUs drifted in %s; their figures are written again", shop, len(drifts), source)


def describe(drifts: list[dict], source: str) -> str:
    lines = [f"{d['channel_sku']}: チャネル {d['channel_qty']} / tsunagi {d['published_qty']}" for d in drifts[:SHOWN]]
    more = [f"ほか {len(drifts) - SHOWN} 件"] if len(drifts) > SHOWN else []
    return "\n".join([f"{source} より (正しい数を送り直します; 一覧: tsunagi feed drift):", *lines, *more])
