"""Stock files as a channel takes them: one unsent file a channel with the latest figures, stock-outs first,
full resyncs, and the channel's own stock download checked against what tsunagi published."""
from __future__ import annotations

import json
import time
from datetime import timedelta

from tests.support.configs import RAKUTEN_TO, edit_config, shop
from tests.support.daemon import Running, wait_for
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import outbound_tables, published


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


def pushed(running, shop: str) -> None:
    """Every file in the shop's ready/ moved to sent/, as a push does once the server has them."""
    folder = running.spool.dir("outbox") / shop
    (folder / "sent").mkdir(exist_ok=True)
    for path in (folder / "ready").glob("*"):
        path.rename(folder / "sent" / path.name)


def test_feed_resync_writes_every_mapped_skus_current_figure_to_the_shops_file(running, capsys):
    wait_for(lambda: one_yahoo_file(running))
    pushed(running, "yahoo")
    pushed(running, "rakuten")
    running.send(sale(1, Item("item-a", "商品A", 2, 1000)))
    wait_for(lambda: one_yahoo_file(running))
    assert running.cli("feed", "resync", "--shop", "yahoo") == 0
    assert "shop yahoo: 4 SKUs written" in capsys.readouterr().out
    assert figures(one_yahoo_file(running)) == {"item-a": 7, "item-b": 9, "item-c": 9, "set-ab": 4}
    rakuten = sorted((running.spool.dir("outbox") / "rakuten" / "ready").glob("rakuten-stock-*"))
    assert len(rakuten) == 1 and "item-b" not in rakuten[0].read_bytes().decode("cp932")   # its sale's file only


def test_a_resync_of_a_shop_without_a_stock_feed_is_refused_in_one_line(config_path, capsys):
    from tsunagi.app import cli
    assert cli.main(["-c", str(config_path), "feed", "resync", "--shop", "ec"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ec" in err and "stock_feed" in err


def test_full_every_hours_writes_every_shops_feed_whole_on_schedule(config_path, later):
    edit_config(config_path, lambda d: d["stock_feed"].update(full_every_hours=6))
    running = Running(config_path)
    try:
        # the first resync (there was never one) is done at start
        wait_for(lambda: all(published.last_resync(running.store.read(), s) for s in ("rakuten", "yahoo")))
        pushed(running, "yahoo")
        later(timedelta(hours=5))
        time.sleep(2.5)
        assert yahoo_files(running) == []                  # not due yet
        later(timedelta(hours=1, minutes=1))
        whole = wait_for(lambda: one_yahoo_file(running), timeout=10)
        assert figures(whole) == {"item-a": 9, "item-b": 9, "item-c": 9, "set-ab": 4}
    finally:
        running.stop()


def drift_site(config_path) -> Running:
    """The test site with Yahoo's quantity download (code, sub-code, quantity) named for the yahoo shop."""
    edit_config(config_path, lambda d: shop(d, "yahoo")["stock_feed"].update(download_layout="yahoo-quantity-download"))
    return Running(config_path)


def yahoo_download(running, rows: list[str], name: str = "quantity.csv") -> None:
    """The channel's own stock download, dropped in the shop's folder as an operator does."""
    text = "code,sub-code,quantity,allow-overdraft,stock-close\r\n" + "".join(f"{r}\r\n" for r in rows)
    (running.spool.dir("drop") / "yahoo" / name).write_bytes(text.encode("cp932"))


def test_a_channels_stock_download_that_differs_is_listed_alerted_and_its_right_figure_written_again(config_path, capsys):
    running = drift_site(config_path)
    try:
        wait_for(lambda: one_yahoo_file(running) and published.figures(running.store.read(), "yahoo"))
        pushed(running, "yahoo")
        # item-a and item-c as published (9); item-b shows 5 where tsunagi published 9; a code never published
        yahoo_download(running, ["item-a,,9,0,", "item-b,,5,0,", "item-c,,9,0,", "other,,3,0,"])
        again = wait_for(lambda: one_yahoo_file(running))
        assert figures(again) == {"item-b": 9}                  # the right figure, only where it drifted
        capsys.readouterr()
        assert running.cli("feed", "drift", "--shop", "yahoo", "--json") == 0
        [drift] = json.loads(capsys.readouterr().out)
        assert (drift["channel_sku"], drift["channel_qty"], drift["published_qty"]) == ("item-b", 5, 9)
        assert drift["source"].startswith("yahoo-quantity-download:") and not drift["repush_pending"]
        [alert] = [a for a in outbound_tables.unsent_alerts(running.store.read()) if "ずれ" in a[2]]
        assert "yahoo" in alert[2] and "item-b: チャネル 5 / tsunagi 9" in alert[3]
        assert running.cli("feed", "drift") == 0
        assert "yahoo  item-b  channel 5  published 9" in capsys.readouterr().out
    finally:
        running.stop()


def test_a_later_download_that_agrees_clears_the_drift(config_path, capsys):
    running = drift_site(config_path)
    try:
        wait_for(lambda: published.figures(running.store.read(), "yahoo"))     # the initial feed, recorded
        yahoo_download(running, ["item-b,,5,0,"], "first.csv")
        wait_for(lambda: published.drift(running.store.read(), "yahoo"))
        time.sleep(0.01)
        yahoo_download(running, ["item-b,,9,0,"], "second.csv")
        wait_for(lambda: not published.drift(running.store.read(), "yahoo"))
        assert running.cli("feed", "drift", "--shop", "yahoo") == 0
        assert "(0 drifted SKUs)" in capsys.readouterr().out
    finally:
        running.stop()


def test_a_variation_in_a_rakuten_item_download_is_compared_under_code_and_sku_number(tmp_path, capsys):
    from tests.support.configs import seed, write_config
    path = write_config(tmp_path)
    edit_config(path, lambda d: shop(d, "rakuten")["stock_feed"].update(download_layout="rakuten-item-download"))
    seed(path, products="sku,name,components,channel_sku,shop\nitem-a,商品A,,shirt:red,rakuten\nitem-b,商品B,,,\n",
         counts="sku,location,lot,qty\nitem-a,本店倉庫,1,10\nitem-b,本店倉庫,1,10\n")
    running = Running(path)
    try:
        ready = running.spool.dir("outbox") / "rakuten" / "ready"
        first = wait_for(lambda: published.figures(running.store.read(), "rakuten") and sorted(ready.glob("rakuten-stock-*")))
        text = first[0].read_bytes().decode("cp932")
        assert '"u","shirt","red","10"' in text and '"u","item-b","","10"' in text
        pushed(running, "rakuten")
        download = ("コントロールカラム,商品管理番号（商品URL）,SKU管理番号,在庫数\r\n"
                    "u,shirt,red,4\r\nu,item-b,,10\r\n").encode("cp932")
        (running.spool.dir("drop") / "rakuten" / "dl-normal-item.csv").write_bytes(download)
        again = wait_for(lambda: sorted(ready.glob("rakuten-stock-*")))
        assert again[0].read_bytes().decode("cp932").split("\r\n")[1:] == ['"u","shirt","red","10"', ""]
        assert [d["channel_sku"] for d in published.drift(running.store.read(), "rakuten")] == ["shirt:red"]
        assert running.cli("feed", "resync", "--shop", "rakuten") == 0        # merged into the unsent file
        [whole] = sorted(ready.glob("rakuten-stock-*"))
        assert whole.read_bytes().decode("cp932").split("\r\n")[1:] == ['"u","item-b","","10"', '"u","shirt","red","10"', ""]
    finally:
        running.stop()


def test_a_download_layout_that_is_no_channel_stock_layout_is_named_in_the_config_error(config_path):
    import pytest
    from tsunagi.app import config
    edit_config(config_path, lambda d: shop(d, "yahoo")["stock_feed"].update(download_layout="tsunagi-stock"))
    with pytest.raises(config.ConfigError, match=r"shop\[1\]\.stock_feed\.download_layout: .*not channel_stock"):
        config.load(config_path)


def test_unsent_files_a_crash_left_side_by_side_are_merged_oldest_first(running):
    first = wait_for(lambda: one_yahoo_file(running))
    older = first.with_name("yahoo-stock-20000101T000000_000000.csv")     # sorts first: written before
    older.write_bytes("code,sub-code,quantity,mode,allow-overdraft,stock-close\r\nitem-c,,1,,0,\r\nold-x,,2,,0,\r\n"
                      .encode("cp932"))
    running.send(sale(1, Item("item-a", "商品A", 2, 1000)))
    merged = wait_for(lambda: (f := one_yahoo_file(running)) and figures(f)["item-a"] == 7 and f)
    # item-c: the newer file's 9 wins over the older one's 1; a SKU only the older file had stays
    assert figures(merged) == {"item-a": 7, "item-b": 9, "item-c": 9, "set-ab": 4, "old-x": 2}


def test_changes_after_a_large_unsent_file_go_in_a_file_of_their_own_sent_after_it(running):
    from tsunagi.outbound.stockmerge import MERGE_BYTES
    first = wait_for(lambda: one_yahoo_file(running))
    rows = "".join(f"bulk-{n:07d},,5,,0,\r\n" for n in range(MERGE_BYTES // 20 + 1))
    first.write_bytes(("code,sub-code,quantity,mode,allow-overdraft,stock-close\r\n" + rows).encode("cp932"))
    big = first.read_bytes()                      # a full resync's file waiting for a person to upload it
    running.send(sale(1, Item("item-a", "商品A", 2, 1000)))
    wait_for(lambda: len(yahoo_files(running)) == 2)
    running.send(sale(2, Item("item-c", "商品C", 1, 1000)))
    files = wait_for(lambda: (f := yahoo_files(running)) and len(f) == 2 and figures(f[-1]).get("item-c") == 8 and f)
    assert len(files) == 2 and files[0] == first and first.read_bytes() == big    # left as it was, sent first
    assert figures(files[1]) == {"item-a": 7, "item-c": 8}     # the changes since, merged with each other


def test_a_stock_download_pulled_over_sftp_is_compared_and_its_drift_written_again(tmp_path, sshd, capsys, later):
    from tests.support.configs import seed, write_config
    from tsunagi.app import cli
    remote = tmp_path / "remote"
    for d in ("out", "done"):
        (remote / d).mkdir(parents=True)
    path = write_config(tmp_path)
    seed(path)
    assert cli.main(["-c", str(path), "feed", "resync"]) == 0       # the figures published (item-b: 10 on Rakuten)
    endpoint = {"name": "rms", "host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                "key_file": str(sshd.user_key), "known_hosts": str(sshd.known_hosts(tmp_path / "known_hosts", sshd.port)),
                "timeout": 10, "pull": {"remote_dir": str(remote / "out"), "into": "rakuten", "pattern": "dl-*.csv",
                                        "after": "move", "processed_dir": str(remote / "done")}}
    edit_config(path, lambda d: (d.update(sftp=[endpoint]),
                                 shop(d, "rakuten")["stock_feed"].update(download_layout="rakuten-item-download")))
    later(timedelta(minutes=1))      # the channel makes its download a while after (SFTP times are whole seconds)
    (remote / "out" / "dl-normal-item.csv").write_bytes(
        "商品管理番号（商品URL）,SKU管理番号,在庫数\r\nitem-b,,3\r\nitem-c,,10\r\n".encode("cp932"))
    ready = tmp_path / "var" / "spool" / "outbox" / "rakuten" / "ready"
    before = set(ready.glob("*"))
    assert cli.main(["-c", str(path), "sftp", "run", "rms"]) == 0
    assert cli.main(["-c", str(path), "feed", "drift", "--json"]) == 0
    out = capsys.readouterr().out
    [drift] = json.loads(out[out.index("\n[") + 1:])                  # after what sftp run printed
    assert (drift["shop"], drift["channel_sku"], drift["channel_qty"], drift["published_qty"]) == ("rakuten", "item-b", 3, 10)
    [again] = set(ready.glob("*")) - before or ready.glob("*")
    assert '"u","item-b","","10"' in again.read_bytes().decode("cp932")


def test_a_product_deleted_while_the_daemon_runs_is_told_0_by_the_feed_worker_then_leaves_the_file(running, tmp_path):
    wait_for(lambda: one_yahoo_file(running))
    (tmp_path / "p.csv").write_text("sku,name\njunk-1,不要な商品\n")
    (tmp_path / "c.csv").write_text("sku,location,lot,qty\njunk-1,本店倉庫,1,3\n")
    assert running.cli("products", "import", str(tmp_path / "p.csv")) == 0
    assert running.cli("stock", "import", str(tmp_path / "c.csv")) == 0
    wait_for(lambda: (f := one_yahoo_file(running)) and figures(f).get("junk-1") == 2)    # safety stock 1
    pushed(running, "yahoo")                                  # the channel holds 2 of it
    assert running.cli("products", "delete", "junk-1", "--force") == 0
    told = wait_for(lambda: (f := one_yahoo_file(running)) and f)
    assert figures(told) == {"junk-1": 0}
    pushed(running, "yahoo")
    running.send(sale(1, Item("item-a", "商品A", 2, 1000)))
    after = wait_for(lambda: (f := one_yahoo_file(running)) and f)
    assert figures(after) == {"item-a": 7}
