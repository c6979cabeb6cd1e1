"""A CSV file is recorded row by row: rows applied are never applied again, refused rows wait in the
store with their reasons, and `spool retry` or the same bytes sent again apply only those, once fixed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support.configs import seed, write_config
from tests.support.daemon import wait_for
from tests.support.sites import ShipSite, mod7, order
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv, stock_csv
from tsunagi.demo.mails import Item, SampleOrder
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store

COUNTS = [("item-a", "本店倉庫", "1", 25), ("new-sku", "本店倉庫", "1", 5), ("item-b", "本店倉庫", "1", 8)]


def run(config_path, *args) -> int:
    return cli.main(["-c", str(config_path), *args])


def import_file(config_path, path, data: bytes) -> int:
    path.write_bytes(data)
    return run(config_path, "import", str(path), "--shop", "rakuten")


def add_product(config_path, sku: str) -> None:
    path = config_path.parent / f"{sku}.csv"
    path.write_text(f"sku,name\n{sku},新商品\n", encoding="utf-8")
    assert run(config_path, "products", "import", str(path)) == 0


def count_entries(config_path) -> dict[str, int]:
    """Ledger entries of stock counts at 本店倉庫, per SKU."""
    return dict(Store(config_path.parent / "var" / "tsunagi.db").read().all(
        "SELECT sku, COUNT(*) FROM ledger WHERE cause = 'count' AND location = '本店倉庫' GROUP BY sku"))


def on_hand(config_path, sku: str) -> int | None:
    return Store(config_path.parent / "var" / "tsunagi.db").read().value(
        "SELECT SUM(on_hand) FROM stock WHERE sku = ? AND location = '本店倉庫'", sku)


def test_a_refused_stock_row_waits_and_spool_retry_applies_only_it_once_its_product_exists(config_path, capsys):
    before = count_entries(config_path)
    assert import_file(config_path, config_path.parent / "count.csv", stock_csv(COUNTS)) == 1
    [reason] = Spool(config_path.parent / "var" / "spool").failed()
    assert reason["kind"] == "rows_refused" and reason["waiting_rows"] == 1
    assert "new-sku" in reason["problems"][0]["message"] and reason["applied"] == {"counted": 2}
    # item-a is counted again meanwhile: a retry that re-applied the old file's row would put back 25
    assert import_file(config_path, config_path.parent / "recount.csv", stock_csv([("item-a", "本店倉庫", "1", 30)])) == 0
    add_product(config_path, "new-sku")
    capsys.readouterr()
    assert run(config_path, "spool", "retry", reason["id"]) == 0
    assert "1 waiting rows tried again" in capsys.readouterr().out
    assert (on_hand(config_path, "item-a"), on_hand(config_path, "new-sku"), on_hand(config_path, "item-b")) == (30, 5, 8)
    after = count_entries(config_path)
    assert after["new-sku"] == 1 and after["item-b"] == before["item-b"] + 1     # each row applied once
    assert after["item-a"] == before["item-a"] + 2                                  # the file's row, then the recount
    assert Spool(config_path.parent / "var" / "spool").failed() == []


def test_a_retry_that_still_fails_names_the_rows_and_why_and_they_keep_waiting(config_path, capsys):
    assert import_file(config_path, config_path.parent / "count.csv", stock_csv(COUNTS)) == 1
    [reason] = Spool(config_path.parent / "var" / "spool").failed()
    capsys.readouterr()
    assert run(config_path, "spool", "retry", reason["id"]) == 1
    out = capsys.readouterr().out
    assert "1 rows still refused" in out and "行 3:" in out and "new-sku" in out and "商品マスタにありません" in out
    [again] = Spool(config_path.parent / "var" / "spool").failed()
    assert again["id"] == reason["id"] and again["waiting_rows"] == 1 and again["retried_rows"] == 1
    assert again["applied"] == {}                                  # nothing else was applied a second time
    capsys.readouterr()
    assert run(config_path, "spool", "list") == 0
    assert "[rows_refused] 待ち行 1" in capsys.readouterr().out


def test_a_file_whose_every_row_was_applied_is_a_plain_duplicate_when_sent_again(config_path, capsys):
    data = stock_csv([("item-a", "本店倉庫", "1", 25)])
    assert import_file(config_path, config_path.parent / "count.csv", data) == 0
    capsys.readouterr()
    assert import_file(config_path, config_path.parent / "count-again.csv", data) == 0
    assert "this exact file was imported before; nothing changed" in capsys.readouterr().out


def test_a_file_sent_again_applies_only_its_waiting_rows_once_fixed(config_path, capsys):
    data = stock_csv(COUNTS)
    assert import_file(config_path, config_path.parent / "count.csv", data) == 1
    [first] = Spool(config_path.parent / "var" / "spool").failed()
    before = count_entries(config_path)
    add_product(config_path, "new-sku")
    assert import_file(config_path, config_path.parent / "count-again.csv", data) == 0
    assert count_entries(config_path) == dict(before, **{"new-sku": 1})
    spool = Spool(config_path.parent / "var" / "spool")
    assert spool.failed() == []                  # the first copy is filed as taken over by the second
    item, reason = spool.find(first["id"])
    assert "done" in str(item.folder) and reason["kind"] == "superseded"
    capsys.readouterr()
    assert import_file(config_path, config_path.parent / "count-third.csv", data) == 0
    assert "imported before; nothing changed" in capsys.readouterr().out


def test_identical_bytes_dropped_again_apply_only_the_rows_that_waited(running):
    drop = running.spool.dir("drop") / "rakuten"
    before = count_entries(running.config_path)
    (drop / "count.csv").write_bytes(stock_csv(COUNTS))
    [first] = wait_for(lambda: running.failed())
    assert first["kind"] == "rows_refused" and first["waiting_rows"] == 1
    assert count_entries(running.config_path) == dict(before, **{"item-a": before["item-a"] + 1,
                                                                 "item-b": before["item-b"] + 1})
    add_product(running.config_path, "new-sku")
    (drop / "count.csv").write_bytes(stock_csv(COUNTS))
    wait_for(lambda: on_hand(running.config_path, "new-sku") == 5)
    wait_for(lambda: not running.failed())
    assert count_entries(running.config_path) == dict(before, **{"item-a": before["item-a"] + 1,
                                                                 "item-b": before["item-b"] + 1, "new-sku": 1})


WMS = {"name": "logi", "location": "外部倉庫", "statuses": ["ready"], "tag": "wms"}


def test_a_cancel_refused_while_the_warehouse_works_is_applied_by_a_retry_once_the_warehouse_cancelled(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda config: config.update(wms=[dict(WMS)]))
    (tmp_path / "tagged.csv").write_text("sku,name,components,channel_sku,shop,tags\nitem-c,商品C,,,,wms\n")
    assert site.cli("products", "import", str(tmp_path / "tagged.csv")) == 0
    o = order(1, Item("item-c", "C", 1, 100))
    site.orders_csv([o])
    site.cli("wms", "send", "logi")

    def warehouse(row: str, name: str) -> int:
        (tmp_path / name).write_bytes(f"出荷指示番号,状態,追跡番号,出荷日\r\nW00000001,{row}\r\n".encode("cp932"))
        return site.cli("import", str(tmp_path / name), "--carrier", "logi")

    assert warehouse("作業中,,", "working.csv") == 0
    assert site.orders_csv([o], "cancel.csv", status="キャンセル確定") == 1
    [reason] = site.spool.failed()
    assert reason["kind"] == "rows_refused" and "作業中" in reason["problems"][0]["message"]
    assert warehouse("キャンセル済,,", "cancelled.csv") == 0
    assert site.status(o) == "hold"
    assert site.cli("spool", "retry", reason["id"]) == 0
    assert site.status(o) == "cancelled" and site.spool.failed() == []
    assert Store(tmp_path / "var" / "tsunagi.db").read().value(
        "SELECT SUM(reserved) FROM stock WHERE sku = 'item-c'") == 0


def test_a_carrier_result_refused_while_its_order_was_held_ships_it_on_retry_after_release(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1)
    site.orders_csv([o])
    assert len(site.export()) == 1
    site.orders_csv([order(1, Item("item-a", "商品A", 2, 1000))], "changed.csv")     # the channel's change holds it
    assert site.status(o) == "hold"
    assert site.results([f"T00000001,0,0,{mod7('62345678901')},2026/06/13"]) == 1
    [reason] = site.spool.failed()
    assert reason["kind"] == "rows_refused" and "保留" in reason["problems"][0]["message"]
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    assert site.cli("spool", "retry", reason["id"]) == 0
    assert site.status(o) == "shipped" and site.spool.failed() == []
    assert site.view(o)["shipments"][0]["tracking"] == mod7("62345678901")


ORDERS = 2000


def test_sigkill_mid_import_then_a_restart_applies_every_row_once_and_the_refused_row_waits(tmp_path):
    """A long order file dropped while tsunagi serve runs, the daemon SIGKILLed part-way and started
    again: every order once, its stock reserved once, and only the one bad row waiting."""
    config_path = write_config(tmp_path, store={"synchronous": "FULL"})
    seed(config_path, counts="sku,location,lot,qty\nitem-a,本店倉庫,1,100000\nitem-b,本店倉庫,1,100000\n")
    orders = [SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500)])
              for n in range(ORDERS)]
    data = order_csv("rakuten-rms", orders).decode("cp932")
    bad = orders[ORDERS - 10].order_no        # a date that does not exist: its rows are refused and wait
    data = data.replace(f'"{bad}","2026-06-12 08:55:46"', f'"{bad}","2026-02-30 08:00"')
    db = tmp_path / "var" / "tsunagi.db"
    spool = Spool(tmp_path / "var" / "spool")
    proc = serve(config_path)
    try:
        drop = wait_for(lambda: (spool.dir("drop") / "rakuten").is_dir() and spool.dir("drop") / "rakuten", timeout=30)
        (drop / ".orders.part").write_bytes(data.encode("cp932"))
        os.rename(drop / ".orders.part", drop / "orders.csv")
        wait_for(lambda: 0 < created(db) < ORDERS - 500, timeout=60, step=0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert created(db) < ORDERS - 1          # killed part-way
        proc = serve(config_path)
        wait_for(lambda: spool.failed(), timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    tx = Store(db).read()
    assert tx.value("SELECT COUNT(*) FROM orders") == tx.value("SELECT COUNT(DISTINCT order_no) FROM orders") == ORDERS - 1
    assert tx.value("SELECT COUNT(*) FROM order_lines") == 2 * (ORDERS - 1)
    assert dict(tx.all("SELECT sku, SUM(reserved) FROM stock GROUP BY sku")) == {"item-a": ORDERS - 1,
                                                                                  "item-b": 2 * (ORDERS - 1)}
    assert tx.value("SELECT COUNT(*) FROM ledger WHERE cause != 'count'") == 2 * (ORDERS - 1)   # reserved once each
    assert tx.value("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM order_history GROUP BY order_id)") == \
        tx.value("SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM order_history GROUP BY order_id)")
    [reason] = spool.failed()
    assert reason["kind"] == "rows_refused" and reason["waiting_rows"] == 2
    assert {p["row"] for p in reason["problems"]} == {2 * (ORDERS - 10) + 2, 2 * (ORDERS - 10) + 3}
    assert tx.value("SELECT COUNT(*) FROM file_rows") == 2        # the applied rows' records went at the end


def serve(config_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def created(db) -> int:
    if not db.exists():
        return 0
    try:
        return Store.open_read_only(db).read().value("SELECT COUNT(*) FROM orders", default=0)
    except Exception:
        time.sleep(0.01)
        return 0
