"""Stock files as a channel takes them: one unsent file a channel with the latest figures, stock-outs first,
full resyncs, and the channel's own stock download checked against what tsunagi published."""
from __future__ import annotations

import time

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.daemon import Running, wait_for
from tsunagi.demo.mails import Item, SampleOrder, order_mail


def sale(n: int, *items: Item) -> bytes:
    return order_mail("rakuten", SampleOrder(f"402853-20260612-{n:010d}", list(items)), RAKUTEN_TO)


def yahoo_files(running) -> list:
    return sorted((running.spool.dir("outbox") / "yahoo" / "ready").glob("yahoo-stock-*"))


def figures(path) -> dict[str, int]:
    """code -> quantity of a Yahoo quantity.csv (safety stock 1 in the test shops)."""
    rows = [line.split(",") for line in path.read_bytes().decode("cp932").split("\r\n")[1:] if line]
    return {row[0]: int(row[2]) for row in rows}


def one_yahoo_file(running):
    files = yahoo_files(running)
    return files[0] if len(files) == 1 else None


def test_changes_not_yet_sent_are_merged_into_one_file_holding_each_skus_latest_figure(running):
    first = wait_for(lambda: one_yahoo_file(running))            # the initial feed: every SKU
    assert figures(first)["item-a"] == 9 and figures(first)["item-c"] == 9
    running.send(sale(1, Item("item-a", "商品A", 2, 1000)))
    wait_for(lambda: (f := one_yahoo_file(running)) and figures(f)["item-a"] == 7)
    running.send(sale(2, Item("item-a", "商品A", 3, 1000)))
    merged = wait_for(lambda: (f := one_yahoo_file(running)) and figures(f)["item-a"] == 4 and f)
    # one file, the latest figure of item-a, the figures of the SKUs no sale touched still in it
    assert figures(merged) == {"item-a": 4, "item-b": 9, "item-c": 9, "set-ab": 4}
    assert len(merged.read_bytes().decode("cp932").split("\r\n")) == 6    # header, 4 rows, end


def test_a_file_a_push_took_is_left_alone_and_the_next_file_holds_only_what_changed_since(running):
    first = wait_for(lambda: one_yahoo_file(running))
    sent = first.parent.parent / "sent"
    sent.mkdir(exist_ok=True)
    first.rename(sent / first.name)                          # as a push does once the server has it
    running.send(sale(1, Item("item-b", "商品B", 2, 1000)))
    second = wait_for(lambda: one_yahoo_file(running))
    assert figures(second) == {"item-b": 7, "set-ab": 3}   # set-ab: (8 - 1) // 2
    assert figures(sent / first.name)["item-b"] == 9         # what went stays as it went


def test_a_stock_out_is_written_at_once_ahead_of_the_coalescing_window(config_path):
    edit_config(config_path, lambda d: d["stock_feed"].update(coalesce_ms=6000))
    running = Running(config_path)
    try:
        wait_for(lambda: one_yahoo_file(running), timeout=15)   # the initial feed, after one window
        started = time.monotonic()
        running.send(sale(1, Item("item-c", "商品C", 9, 1000), Item("item-a", "商品A", 1, 1000)))
        # item-c: 10 - 9 - safety 1 = 0, in the file at once; item-a's change waits for the window
        early = wait_for(lambda: (f := one_yahoo_file(running)) and figures(f)["item-c"] == 0 and f, timeout=3)
        assert time.monotonic() - started < 3
        assert figures(early)["item-a"] == 9
        late = wait_for(lambda: (f := one_yahoo_file(running)) and figures(f)["item-a"] == 8 and f, timeout=15)
        assert figures(late)["item-c"] == 0
    finally:
        running.stop()
