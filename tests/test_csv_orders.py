"""Order and stock CSVs applied: confirmation of mail orders, holds on difference, cancellations,
gaps between the two ways in, absolute stock, and the report of refused rows."""
from __future__ import annotations

from datetime import timedelta

import json

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config, shop as shop_table
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv, stock_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store


def order(no: int, *items: Item) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{no:010d}", list(items) or [Item("item-a", "商品A", 2, 1000)])


class Shop:
    def __init__(self, config_path, tmp_path, capsys):
        self.config_path, self.tmp, self.capsys = config_path, tmp_path, capsys

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def mail(self, o: SampleOrder) -> None:
        path = self.tmp / f"{o.order_no}.eml"
        path.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))
        assert self.cli("ingest", str(path), "--shop", "rakuten") == 0

    def csv(self, data: bytes, name: str = "orders.csv", *extra) -> int:
        path = self.tmp / name
        path.write_bytes(data)
        return self.cli("import", str(path), "--shop", "rakuten", *extra)

    def view(self, o: SampleOrder) -> dict:
        self.capsys.readouterr()
        assert self.cli("order", "rakuten", o.order_no, "--json") == 0
        return json.loads(self.capsys.readouterr().out)

    def stock(self) -> dict:
        self.capsys.readouterr()
        self.cli("stock", "--json")
        return {r["sku"]: (r["on_hand"], r["reserved"]) for r in json.loads(self.capsys.readouterr().out)}

    def listed(self, *flags) -> list[str]:
        self.capsys.readouterr()
        assert self.cli("orders", "--json", *flags) == 0
        return [v["order_no"] for v in json.loads(self.capsys.readouterr().out)]


@pytest.fixture
def shop(config_path, tmp_path, capsys):
    return Shop(config_path, tmp_path, capsys)


def test_an_order_csv_confirms_a_mail_order_without_reserving_twice(shop):
    o = order(1)
    shop.mail(o)
    assert shop.view(o)["status"] == "new" and shop.stock()["item-a"] == (10, 2)
    assert shop.csv(order_csv("rakuten-rms", [o])) == 0
    v = shop.view(o)
    assert v["status"] == "confirm" and v["status_label"] == "確認待ち"
    assert v["reserved"] == [{"sku": "item-a", "location": "本店倉庫", "lot": "1", "qty": 2}]
    assert shop.stock()["item-a"] == (10, 2)
    assert v["mail_at"] and v["csv_at"]


def test_the_csv_fills_what_the_mail_lacked_and_keeps_what_it_had(shop):
    o = order(2)
    shop.mail(o)
    copy = order(2)
    copy.buyer.email = "changed@example.jp"
    copy.delivery = "宅配便(ヤマト)"
    before = shop.view(o)
    shop.csv(order_csv("rakuten-rms", [copy]))
    after = shop.view(o)
    assert before["buyer"]["email"] == "" and after["buyer"]["email"] == "changed@example.jp"  # the mail had none
    assert after["delivery_method"] == before["delivery_method"] == "宅配便"                  # the mail had it
    assert after["ship_to"]["name"] == "山田 花子"


def test_a_csv_that_disagrees_with_the_mail_puts_the_order_on_hold_with_the_difference(shop):
    o = order(3, Item("item-a", "商品A", 1, 1000))
    shop.mail(o)
    shop.csv(order_csv("rakuten-rms", [order(3, Item("item-a", "商品A", 3, 1000))]))
    v = shop.view(o)
    assert v["status"] == "hold" and v["hold_kind"] == "mismatch"
    assert "item-a×1 / 受注CSV item-a×3" in v["hold_reason"] and "1,500円 / 受注CSV 3,500円" in v["hold_reason"]
    assert shop.stock()["item-a"] == (10, 0)
    shop.capsys.readouterr()
    shop.cli("order", "rakuten", o.order_no)
    assert "メールと受注CSVの内容が一致しません" in shop.capsys.readouterr().out


def test_an_order_first_seen_in_a_csv_is_created_reserved_and_confirmed(shop):
    o = order(4)
    shop.csv(order_csv("rakuten-rms", [o]))
    v = shop.view(o)
    assert v["status"] == "confirm" and v["source"] == "csv" and shop.stock()["item-a"] == (10, 2)
    shop.mail(o)                          # the mail arriving later changes nothing
    assert shop.view(o)["status"] == "confirm" and shop.stock()["item-a"] == (10, 2)


def test_a_cancelled_status_in_the_csv_releases_the_stock_and_reaches_the_feeds(shop, config_path):
    o = order(5)
    shop.mail(o)
    assert shop.stock()["item-a"] == (10, 2)
    outbox = Spool(config_path.parent / "var" / "spool").dir("outbox") / "yahoo" / "ready"
    before = set(outbox.iterdir()) if outbox.exists() else set()
    shop.csv(order_csv("rakuten-rms", [o], status="キャンセル確定"), "cancel.csv")
    assert shop.view(o)["status"] == "cancelled"
    assert shop.stock()["item-a"] == (10, 0)
    new_files = set(outbox.iterdir()) - before
    assert new_files and any("item-a" in p.read_bytes().decode("cp932") for p in new_files)


def test_a_csv_with_an_order_cancelled_before_we_saw_it_reserves_nothing(shop):
    o = order(6)
    shop.csv(order_csv("rakuten-rms", [o], status="キャンセル確定"))
    assert shop.view(o)["status"] == "cancelled" and shop.stock()["item-a"] == (10, 0)


def test_gaps_mail_without_csv_and_csv_without_mail_are_listed(shop, later):
    shop.mail(order(7))
    shop.csv(order_csv("rakuten-rms", [order(8)]))
    assert shop.listed("--unconfirmed") == [] and shop.listed("--mail-missing") == []
    later(timedelta(minutes=61))          # past both windows (1 h, 60 min)
    assert shop.listed("--unconfirmed") == [order(7).order_no]
    assert shop.listed("--mail-missing") == [order(8).order_no]
    shop.csv(order_csv("rakuten-rms", [order(7)]), "later.csv")
    assert shop.listed("--unconfirmed") == []


def test_importing_the_same_stock_file_twice_changes_nothing(shop, config_path):
    data = stock_csv([("item-a", "本店倉庫", "1", 25), ("item-b", "外部倉庫", "", 7)])
    (shop.tmp / "count.csv").write_bytes(data)
    assert shop.cli("import", str(shop.tmp / "count.csv"), "--shop", "rakuten") == 0
    first = shop.stock()
    (shop.tmp / "count2.csv").write_bytes(data.replace(b"\r\n", b"\n"))   # same counts, another file
    assert shop.cli("import", str(shop.tmp / "count2.csv"), "--shop", "rakuten") == 0
    assert shop.stock() == first == {"item-a": (25, 0), "item-b": (17, 0), "item-c": (10, 0)}
    ledger = Store(config_path.parent / "var" / "tsunagi.db").read().value("SELECT COUNT(*) FROM ledger")
    assert shop.cli("import", str(shop.tmp / "count.csv"), "--shop", "rakuten") == 0
    assert Store(config_path.parent / "var" / "tsunagi.db").read().value("SELECT COUNT(*) FROM ledger") == ledger


def test_row_errors_are_reported_by_row_while_the_valid_orders_are_applied(shop, config_path):
    good, unknown = order(10), order(11, Item("no-such-sku", "謎", 1, 100))
    data = order_csv("rakuten-rms", [good, unknown, order(12)]).decode("cp932")
    data = data.replace(f'"{order(12).order_no}","2026-06-12 08:55:46"', f'"{order(12).order_no}","2026-02-30 08:00"')
    assert shop.csv(data.encode("cp932")) == 1
    assert shop.view(good)["status"] == "confirm"
    assert shop.view(unknown)["status"] == "hold"
    assert shop.cli("order", "rakuten", order(12).order_no) == 2
    spool = Spool(config_path.parent / "var" / "spool")
    [report] = spool.failed()                 # its refused row waits: the file is in failed/ until it is applied
    item_id = report["id"]
    rows = {p["row"]: p["message"] for p in report["problems"]}
    assert "2026-02-30" in rows[4] and "注文日時" in rows[4]
    assert "保留" in rows[3] and "no-such-sku" in rows[3]
    assert report["refused_rows"] == 1 and report["held_rows"] == 1
    shop.capsys.readouterr()
    assert shop.cli("spool", "show", item_id) == 0
    out = shop.capsys.readouterr().out
    assert "行 4:" in out and "rows_refused" in out and "waiting_rows: 1" in out


@pytest.mark.parametrize("data,kind,needle", [
    ("注文番号,注文日時\r\n1,2024/4/1\r\n".encode("cp932"), "unknown_layout", "どのレイアウトにも合いません"),
    (b"\x82\xa0\xff\xfe\xfd,\x81\r\n", "encoding", "byte"),
])
def test_an_unreadable_file_goes_to_failed_with_its_reason(shop, config_path, data, kind, needle):
    assert shop.csv(data, "bad.csv") == 1
    failed = Spool(config_path.parent / "var" / "spool").failed()
    assert [r["kind"] for r in failed] == [kind] and needle in failed[0]["message"]


def test_a_missing_required_column_names_it(shop, config_path):
    data = order_csv("rakuten-rms", [order(13)]).decode("cp932").replace("個数", "数")
    assert shop.csv(data.encode("cp932"), "nocol.csv", "--layout", "rakuten-rms") == 1
    reason = Spool(config_path.parent / "var" / "spool").failed()[0]
    assert reason["kind"] == "missing_column" and reason["field"] == "個数"


def test_import_prints_a_summary(shop, capsys):
    shop.capsys.readouterr()
    assert shop.csv(order_csv("rakuten-rms", [order(20), order(21)])) == 0
    out = capsys.readouterr().out
    assert "2 rows" in out and "rows/s" in out and "created: 2" in out


def test_check_validates_a_custom_layout_against_a_sample_and_shows_the_first_order(shop, tmp_path, capsys):
    folder = tmp_path / "layouts"
    folder.mkdir()
    (folder / "my-cart.toml").write_text("""
title = "自社カート"
encoding = "auto"
[fields]
order_no = "伝票"
ordered_at = { column = "日時", formats = ["%Y年%m月%d日 %H時%M分"] }
ship_to.name = { columns = ["姓", "名"], sep = " " }
line.sku = "品番"
line.qty = "数"
line.unit_price = "単価"
""", encoding="utf-8")
    edit_config(shop.config_path, lambda config: config["csv"].update(layout_dir="layouts"))
    (tmp_path / "sample.csv").write_bytes("伝票,日時,姓,名,品番,数,単価\r\nZ-9,2024年04月01日 09時05分,田中,一,item-a,2,300\r\n"
                                          .encode("cp932"))
    capsys.readouterr()
    assert shop.cli("check", "--layout", "my-cart", "--sample", str(tmp_path / "sample.csv")) == 0
    out = capsys.readouterr().out
    assert '"order_no": "Z-9"' in out and '"ordered_at": "2024-04-01T09:05:00+09:00"' in out and "田中 一" in out
    assert shop.csv((tmp_path / "sample.csv").read_bytes(), "s.csv", "--layout", "my-cart") == 0


def test_a_layout_given_inline_in_config_is_used(shop, tmp_path):
    inline_cart = {"encoding": "utf-8", "fields": {"order_no": "no", "ordered_at": "at", "line": {"sku": "sku", "qty": "qty"}}}
    edit_config(shop.config_path, lambda config: config.update(csv_layout={"inline-cart": inline_cart}))
    (tmp_path / "i.csv").write_text("no,at,sku,qty\nI-1,2024-04-01 10:00,item-b,1\n", encoding="utf-8")
    assert shop.cli("import", str(tmp_path / "i.csv"), "--shop", "rakuten", "--layout", "inline-cart") == 0
    assert shop.stock()["item-b"] == (10, 1)


def test_a_broken_custom_layout_is_a_config_error_naming_the_key(shop, capsys):
    edit_config(shop.config_path,
                lambda config: shop_table(config, "rakuten").update(order_csv={"layout": "no-such-layout"}))
    assert shop.cli("check") == 2
    assert "shop[0].order_csv.layout" in capsys.readouterr().err


def test_mail_and_csv_read_a_full_width_katakana_code_as_the_same_sku(shop, tmp_path):
    (tmp_path / "coffee.csv").write_text("sku,name\nコーヒーA-1,コーヒー豆\n", encoding="utf-8")
    (tmp_path / "coffee-count.csv").write_text("sku,location,lot,qty\nコーヒーA-1,本店倉庫,1,5\n", encoding="utf-8")
    assert shop.cli("products", "import", str(tmp_path / "coffee.csv")) == 0
    assert shop.cli("stock", "import", str(tmp_path / "coffee-count.csv")) == 0
    o = order(40, Item("コーヒーＡ－１", "コーヒー豆", 1, 1200))
    shop.mail(o)
    assert shop.view(o)["lines"][0]["sku"] == "コーヒーA-1"
    assert shop.csv(order_csv("rakuten-rms", [o])) == 0
    v = shop.view(o)
    assert v["status"] == "confirm" and v["lines"][0]["sku"] == "コーヒーA-1"
    assert shop.stock()["コーヒーA-1"] == (5, 1)
