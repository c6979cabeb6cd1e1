"""Config mistakes are named before anything starts; the command line's JSON keeps its shape."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config, shop, write_config
from tsunagi.app import cli
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool


@pytest.mark.parametrize("change,key,words", [
    (lambda d: shop(d, "rakuten").update(cart="rakuten-old"), "shop[0].cart", "no mail spec 'rakuten-old'"),
    (lambda d: shop(d, "yahoo")["stock_feed"].update(layout="yahoo"), "shop[1].stock_feed.layout", "unknown layout"),
    (lambda d: d["smtp"].update(listen="localhost"), "smtp.listen", "host:port"),
    (lambda d: shop(d, "yahoo")["stock_feed"].update(safety_stock="1"), "shop[1].stock_feed.safety_stock",
     "must be int"),
    (lambda d: shop(d, "yahoo").update(id="rakuten"), "shop[1].id", "already used"),
    (lambda d: d.update(smpt=1), "smpt", "unknown key"),
    (lambda d: d.update(data_dir="config.toml"), "data_dir", "is a file, not a folder"),
], ids=["cart", "layout", "listen", "type", "duplicate id", "unknown key", "data_dir a file"])
def test_a_config_mistake_names_the_file_and_key_and_exits_non_zero(tmp_path, change, key, words):
    path = write_config(tmp_path)
    edit_config(path, change)
    out = subprocess.run([sys.executable, "-m", "tsunagi.app.cli", "-c", str(path), "serve"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert str(path) in out.stderr and f"{key}:" in out.stderr and words in out.stderr
    assert not (tmp_path / "var").exists()  # nothing was started or created


def test_check_accepts_the_shipped_config(capsys):
    assert cli.main(["-c", "config.toml", "check"]) == 0
    assert "OK (3 shops" in capsys.readouterr().out


def test_ingest_then_orders_and_order_json_have_the_stable_shape(config_path, tmp_path, capsys):
    eml = tmp_path / "m.eml"
    eml.write_bytes(order_mail("rakuten", SampleOrder("402853-20260612-0000000001", [
        Item("item-a", "商品A", 2, 1000, ("カラー:赤",))]), RAKUTEN_TO, charset="iso-2022-jp", cte="7bit"))
    assert cli.main(["-c", str(config_path), "ingest", str(eml), "--shop", "rakuten"]) == 0
    capsys.readouterr()
    assert cli.main(["-c", str(config_path), "orders", "--json", "--status", "新規受付"]) == 0
    (order,) = json.loads(capsys.readouterr().out)
    assert {"shop", "order_no", "status", "ordered_at", "ship_to", "lines", "total"} <= set(order)
    assert order["status"] == "new" and order["total"] == 2500
    assert order["ordered_at"] == "2026-06-12T08:55:46+09:00"
    assert order["ship_to"]["postal_code"] == "530-0001"
    assert order["lines"] == [{"sku": "item-a", "channel_sku": "item-a", "name": "商品A", "options": ["カラー:赤"],
                               "qty": 2, "unit_price": 1000}]
    assert cli.main(["-c", str(config_path), "order", "rakuten", "402853-20260612-0000000001", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["history"][0]["to"] == "new"
    assert cli.main(["-c", str(config_path), "stock", "--json"]) == 0
    rows = {r["sku"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["item-a"] == {"sku": "item-a", "on_hand": 10, "reserved": 2, "free": 8}


def test_stock_import_refuses_bad_rows_by_number_and_applies_the_rest(config_path, tmp_path, capsys):
    counts = tmp_path / "c.csv"
    counts.write_bytes("sku,location,lot,qty\nitem-a,本店倉庫,1,3\nitem-b,本店倉庫,1,-2\n,本店倉庫,1,1\nitem-c,本店倉庫,1,x\n"
                       .encode("cp932"))
    assert cli.main(["-c", str(config_path), "stock", "import", str(counts)]) == 1
    err = capsys.readouterr().err
    assert "行 3: 数量が負です ('-2')" in err and "行 4: 商品コードが空です" in err and "行 5: 数量を数値として読めません ('x')" in err
    cli.main(["-c", str(config_path), "stock", "--json"])
    rows = {r["sku"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["item-a"]["on_hand"] == 3 and rows["item-b"]["on_hand"] == 10


def test_start_up_recovery_returns_claimed_items_and_drops_unacknowledged_halves(tmp_path):
    spool = Spool(tmp_path / "spool")
    item = spool.put(b"mail", {"shop": "s"})
    spool.claim(item.id)                                  # a crash while it was being applied
    (spool.dir("tmp") / "x.eml").write_bytes(b"half")     # a crash while receiving: never got 250
    (spool.dir("new") / "y.eml").write_bytes(b"no meta")  # data renamed, meta not yet: never got 250
    counts = spool.recover()
    assert counts == {"requeued": 1, "orphans": 2, "poison": 0}
    assert spool.waiting() == [item.id]
    assert not list(spool.dir("tmp").iterdir()) and not (spool.dir("new") / "y.eml").exists()


def test_recovery_completes_a_move_to_done_that_a_crash_cut_in_half(tmp_path):
    spool = Spool(tmp_path / "spool")
    item = spool.claim(spool.put(b"mail", {"shop": "s"}).id)
    day = spool.dir("done") / "2026-11-22"
    day.mkdir()
    import os
    os.rename(item.data_path, day / item.data_path.name)  # SIGKILL came before the meta followed
    spool.recover()
    assert not any(spool.dir("cur").iterdir()) and not spool.waiting()
    assert (day / f"{item.id}.meta.json").exists()
