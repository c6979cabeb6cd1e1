"""order-adopt: a held order takes the channel's other version (lines, quantities, amounts) and is reserved
again, both versions in its history; order-release keeps its own; what cannot be adopted is refused."""
from __future__ import annotations

import getpass
import json

import pytest

from tests.support.configs import RAKUTEN_TO
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool

NO = "402853-20260612-0000000031"


def order(*items: Item) -> SampleOrder:
    return SampleOrder(NO, list(items) or [Item("item-a", "商品A", 1, 1000)])


class Shop:
    def __init__(self, config_path, tmp_path, capsys):
        self.config_path, self.tmp, self.capsys = config_path, tmp_path, capsys
        self.spool = Spool(tmp_path / "var" / "spool")

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def mail(self, o: SampleOrder) -> None:
        path = self.tmp / "order.eml"
        path.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))
        assert self.cli("ingest", str(path), "--shop", "rakuten") == 0

    def csv(self, o: SampleOrder, name: str = "orders.csv", **kw) -> None:
        (self.tmp / name).write_bytes(order_csv("rakuten-rms", [o], **kw))
        assert self.cli("import", str(self.tmp / name), "--shop", "rakuten") == 0

    def view(self) -> dict:
        self.capsys.readouterr()
        assert self.cli("order", "rakuten", NO, "--json") == 0
        return json.loads(self.capsys.readouterr().out)

    def reserved(self, sku: str) -> int:
        self.capsys.readouterr()
        self.cli("stock", "--json")
        return {r["sku"]: r["reserved"] for r in json.loads(self.capsys.readouterr().out)}[sku]

    def published(self, code: str) -> int | None:
        """The latest figure Yahoo's stock feed files published for code (safety stock 1)."""
        figure = None
        for path in sorted((self.spool.dir("outbox") / "yahoo" / "ready").glob("*")):
            for row in path.read_bytes().decode("cp932").split("\r\n")[1:]:
                if row.split(",")[0] == code:
                    figure = int(row.split(",")[2])
        return figure

    def refused(self, *args) -> str:
        self.capsys.readouterr()
        assert self.cli(*args) == 2
        err = self.capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        return err


@pytest.fixture
def shop(config_path, tmp_path, capsys):
    return Shop(config_path, tmp_path, capsys)


def _held(shop: Shop) -> None:
    """Mail for one 商品A, the order CSV for three and a 商品B: held, its stock given back."""
    shop.mail(order())
    shop.csv(order(Item("item-a", "商品A", 3, 1000), Item("item-b", "商品B", 1, 500)))
    assert shop.view()["status"] == "hold" and shop.reserved("item-a") == 0


def test_adopting_takes_the_csvs_lines_and_amounts_and_reserves_them(shop):
    _held(shop)
    assert shop.cli("order-adopt", "rakuten", NO) == 0
    v = shop.view()
    assert [(line["channel_sku"], line["qty"]) for line in v["lines"]] == [("item-a", 3), ("item-b", 1)]
    assert v["total"] == 3 * 1000 + 500 + 500 and v["status"] == "confirm"
    assert shop.reserved("item-a") == 3 and shop.reserved("item-b") == 1
    assert shop.published("item-a") == 10 - 3 - 1 and shop.published("item-b") == 10 - 1 - 1


def test_adopting_records_both_versions_and_who_adopted(shop):
    _held(shop)
    assert shop.cli("order-adopt", "rakuten", NO) == 0
    [note] = [h["note"] for h in shop.view()["history"] if "の内容を採用:" in h["note"]]
    assert "item-a×3, item-b×1" in note and "それまで: item-a×1" in note and getpass.getuser() in note


def test_once_adopted_the_version_it_replaced_arriving_again_holds_the_order_no_more(shop):
    _held(shop)
    assert shop.cli("order-adopt", "rakuten", NO) == 0
    shop.csv(order(), "old.csv")        # the version it replaced, from an older export
    assert shop.view()["status"] == "confirm" and shop.reserved("item-a") == 3


def test_releasing_keeps_the_orders_own_version_and_the_same_csv_holds_it_no_more(shop):
    _held(shop)
    assert shop.cli("order-release", "rakuten", NO) == 0
    v = shop.view()
    assert [(line["channel_sku"], line["qty"]) for line in v["lines"]] == [("item-a", 1)] and v["status"] == "confirm"
    assert any("採用せず" in h["note"] for h in v["history"])
    shop.csv(order(Item("item-a", "商品A", 3, 1000), Item("item-b", "商品B", 1, 500)), "again.csv")
    assert shop.view()["status"] == "confirm" and shop.reserved("item-a") == 1
    assert "no other version" in shop.refused("order-adopt", "rakuten", NO)


def test_an_order_with_no_other_version_is_refused_in_one_line(shop):
    shop.mail(order())
    assert "no other version" in shop.refused("order-adopt", "rakuten", NO)


def test_a_cancelled_order_is_refused_in_one_line(shop):
    _held(shop)
    shop.csv(order(), "cancel.csv", status="キャンセル確定")
    assert "キャンセル" in shop.refused("order-adopt", "rakuten", NO)
