"""A channel's result file among the CSV items: each refused row an alert naming the file, the SKU or order and
the channel's message; the delivery of the uploaded file it is about becomes rejected where it can be matched."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from tsunagi.common.safetext import printable
from tsunagi.ingest.csvimport import CsvResult
from tsunagi.ingest.spool import Item
from tsunagi.oms import deliveries, filerows, outbound_tables
from tsunagi.oms.store import Store, Tx
from tsunagi.parsers.channelresult import Rejection, ResultFile, ResultLayout, read, recognise

log = logging.getLogger("tsunagi.results")
MAX_BYTES = 32 << 20        # a result file is a list of errors; anything bigger is an ordinary CSV
SAMPLE = 65536              # the bytes a file is recognised by (its name and header)
MAX_ALERTS = 200            # alerts one file makes; past that, one more says how many rows it left out


class ChannelResults:
    def __init__(self, store: Store, layouts: list[ResultLayout]):
        self.store = store
        self.layouts = layouts

    def apply(self, item: Item) -> CsvResult | None:
        """The item's rejections recorded in one transaction with its sha256 (a file pulled again changes
        nothing); None when the item is no channel result file."""
        if not self.layouts or item.meta.get("size", 0) > MAX_BYTES:
            return None
        with open(item.data_path, "rb") as fh:
            layout = recognise(item.meta.get("file", ""), fh.read(SAMPLE), self.layouts)
        if layout is None:
            return None
        found = read(layout, item.meta.get("file", ""), item.read())
        result = CsvResult(layout=f"channel-result {found.layout.name}", rows=len(found.rejections),
                           outcomes=Counter({"rejected_rows": len(found.rejections)}), sha256=item.meta["sha256"])
        with self.store.transaction() as tx:
            self._record(tx, item, found)
            filerows.finish(tx, result.sha256, item.id, {}, result.summary())
        log.info("%s: %d rows refused by %s", item.meta.get("file", item.id), len(found.rejections),
                 found.layout.spec.channel)
        return result

    def _record(self, tx: Tx, item: Item, found: ResultFile) -> None:
        shop, name = item.meta.get("shop", ""), printable(item.meta.get("file", "") or item.id)
        channel = found.layout.spec.channel
        # the upload it is about went before the channel wrote it: a later upload of the same name is not it
        made = found.made_at or (datetime.fromisoformat(item.meta["file_mtime"]) if item.meta.get("file_mtime") else None)
        before = made.isoformat(timespec="microseconds") if made else None
        by_file: dict[tuple[str, str] | None, list[Rejection]] = {}
        for row in found.rejections:
            uploaded = row.file or found.uploaded
            by_file.setdefault(deliveries.find_sent(tx, uploaded, before, prefer=shop) if uploaded else None,
                               []).append(row)
        for n, row in enumerate(found.rejections):
            if n == MAX_ALERTS:
                outbound_tables.add_alert(tx, "rejected", f"{channel}: {name} のほか {len(found.rejections) - n} 行",
                                          f"結果ファイル {name} の残りの行も受け付けられていません")
                break
            outbound_tables.add_alert(tx, "rejected", _subject(channel, row, found.uploaded),
                                      _detail(row, name, shop))
        for key, rows in by_file.items():
            if key is not None:
                deliveries.rejected(tx, *key, "\n".join(f"{channel}: {_what(r)}: {r.message}" for r in rows[:50]))


def _what(row: Rejection) -> str:
    if row.sku:
        return f"SKU {printable(row.sku)}"
    if row.order:
        return f"注文 {printable(row.order)}"
    return f"行 {row.line}"


def _subject(channel: str, row: Rejection, uploaded: str) -> str:
    file = printable(row.file or uploaded)
    return f"{channel} が{f' {file} の' if file else ''} {_what(row)} を受け付けませんでした"


def _detail(row: Rejection, name: str, shop: str) -> str:
    code = f" [{printable(row.code)}]" if row.code else ""
    return (f"{printable(row.message)}{code}\n結果ファイル: {name} (行 {row.line})\n"
            f"詳しく: tsunagi outbox list --all{f' --target {shop}' if shop else ''}")
