"""出荷確定戻し and 返品: a shipped order taken back (stock, label, confirmation again), returned units and refunds."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support.sites import ShipSite, mod7, order
from tsunagi.demo.mails import Item
from tsunagi.oms.store import Store


def shipped(tmp_path, capsys, *items: Item, confirm: bool = True):
    """A ShipSite with order 1 (the items; default item-a×2) exported, shipped by a result file and confirmed."""
    site = ShipSite(tmp_path, capsys)
    o = order(1, *(items or (Item("item-a", "A", 2, 1000),)))
    site.orders_csv([o])
    site.export()
    assert site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"], "r1.csv") == 0
    if confirm:
        site.cli("ship", "confirm")
        site.deliver()
    return site, o


def slots(site, sku: str) -> list[tuple]:
    return Store(site.folder / "var" / "tsunagi.db").read().all(
        "SELECT location, on_hand, reserved FROM stock WHERE sku = ? ORDER BY location", sku)


def feed_qty(site, code: str) -> list[str]:
    """Every quantity the Rakuten stock feed files published for this channel code, oldest first."""
    out = []
    for path in sorted((site.spool.dir("outbox") / "rakuten" / "ready").glob("*")):
        if "shipconfirm" in path.name:
            continue
        for row in csv.DictReader(io.StringIO(path.read_bytes().decode("cp932"))):
            if code in row.values():
                out.append(row.get("在庫数", ""))
    return out


def history(site, o) -> str:
    return "\n".join(h["note"] for h in site.view(o)["history"])


def test_unship_returns_the_units_and_the_next_export_carries_the_order_again(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys, confirm=False)
    assert slots(site, "item-a") == [("本店倉庫", 8, 0)]
    assert site.cli("order-unship", "rakuten", o.order_no) == 0
    assert site.status(o) == "ready"
    assert slots(site, "item-a") == [("本店倉庫", 10, 2)]       # on hand again, reserved for the order again
    [label] = site.export()[-1:]
    assert "T00000001" in label.read_bytes().decode("cp932")
    assert "出荷確定戻し" in history(site, o) and "操作:" in history(site, o)


def test_an_unshipped_order_that_was_confirmed_ships_again_with_a_second_confirmation(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    assert site.status(o) == "closed" and len(site.confirmations()) == 1
    assert site.cli("order-unship", "rakuten", o.order_no) == 0
    site.export()
    assert site.results([f"T00000001,0,0,{mod7('52345678901')},2026/06/14"], "r2.csv") == 0
    assert site.status(o) == "shipped"
    assert slots(site, "item-a") == [("本店倉庫", 8, 0)]
    site.cli("ship", "confirm")
    files = site.confirmations()
    assert len(files) == 2 and mod7("52345678901") in files[1].read_bytes().decode("cp932")
    site.deliver()
    assert site.status(o) == "closed"


def test_a_changed_tracking_number_is_confirmed_again_and_noted_in_the_history(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    site.results([f"T00000001,0,0,{mod7('62345678901')},2026/06/13"], "r2.csv")
    site.cli("ship", "confirm")
    assert len(site.confirmations()) == 2
    assert f"追跡番号の変更: {mod7('62345678901')}" in history(site, o)


def test_good_returned_units_go_to_the_chosen_location_and_the_feed_shows_them(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    before = feed_qty(site, "item-a")
    assert site.cli("order-return", "rakuten", o.order_no, "--line", "1", "--qty", "1", "--to", "外部倉庫") == 0
    assert slots(site, "item-a") == [("外部倉庫", 1, 0), ("本店倉庫", 8, 0)]
    assert feed_qty(site, "item-a")[-1] == "9" and before[-1:] != ["9"]
    assert site.status(o) == "closed" and "返品 明細1×1 → 外部倉庫" in history(site, o)


def test_returned_units_go_back_where_they_shipped_from_by_default(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    assert site.cli("order-return", "rakuten", o.order_no) == 0
    assert slots(site, "item-a") == [("本店倉庫", 10, 0)]
    assert "(全数返品済)" in history(site, o)


def test_damaged_returned_units_are_never_published_nor_reserved(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    published = feed_qty(site, "item-a")
    assert site.cli("order-return", "rakuten", o.order_no, "--damaged") == 0
    assert ("返品不良", 2, 0) in slots(site, "item-a")
    assert feed_qty(site, "item-a") == published           # nothing new for item-a: still 8
    other = order(2, Item("item-a", "A", 9, 1000))         # 8 sellable: the damaged two are never taken
    site.orders_csv([other], name="more.csv")
    assert site.status(other) != "ready"


def test_a_refund_is_shown_in_ship_mismatch(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    capsys.readouterr()
    site.cli("ship", "mismatch")
    assert o.order_no not in capsys.readouterr().out
    assert site.cli("order-return", "rakuten", o.order_no, "--line", "1", "--qty", "1", "--refund", "1000") == 0
    capsys.readouterr()
    site.cli("ship", "mismatch", "--json")
    [row] = json.loads(capsys.readouterr().out)
    assert row["order_no"] == o.order_no and row["refunded"] == 1000 and row["channel_total"] == row["total"]
    site.cli("ship", "mismatch")
    assert "返金 1,000円" in capsys.readouterr().out


@pytest.mark.parametrize("args, why", [
    (("order-unship",), "not shipped"),
    (("order-return",), "not shipped"),
])
def test_an_order_not_shipped_cannot_be_unshipped_or_returned(tmp_path, capsys, args, why):
    site = ShipSite(tmp_path, capsys)
    o = order(1)
    site.orders_csv([o])
    capsys.readouterr()
    assert site.cli(*args, "rakuten", o.order_no) == 2
    assert why in capsys.readouterr().err and site.status(o) == "ready"


@pytest.mark.parametrize("args, why", [
    (("--line", "1", "--qty", "3"), "3 returned but 2 shipped"),
    (("--line", "2"), "no line 2"),
    (("--to", "どこか"), "unknown location"),
])
def test_a_bad_return_is_refused_in_one_line_and_changes_nothing(tmp_path, capsys, args, why):
    site, o = shipped(tmp_path, capsys)
    before = slots(site, "item-a"), site.view(o)
    capsys.readouterr()
    assert site.cli("order-return", "rakuten", o.order_no, *args) == 2
    err = capsys.readouterr().err
    assert why in err and len(err.strip().splitlines()) == 1
    assert (slots(site, "item-a"), site.view(o)) == before


def test_a_refund_the_channel_already_took_off_its_total_is_no_mismatch(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)          # total 2,500円 (2×1,000 + shipping)
    site.orders_csv([order(1, Item("item-a", "A", 2, 1000), total_override=1500)], "later.csv")
    capsys.readouterr()
    site.cli("ship", "mismatch")
    assert o.order_no in capsys.readouterr().out
    assert site.cli("order-return", "rakuten", o.order_no, "--line", "1", "--qty", "1", "--refund", "1000") == 0
    capsys.readouterr()
    site.cli("ship", "mismatch", "--json")
    assert json.loads(capsys.readouterr().out) == []


def test_a_refund_alone_takes_no_units_back(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    assert site.cli("order-return", "rakuten", o.order_no, "--qty", "0", "--refund", "300") == 0
    assert slots(site, "item-a") == [("本店倉庫", 8, 0)]
    assert "返金 300円" in history(site, o)


def test_an_order_with_returned_units_cannot_be_unshipped(tmp_path, capsys):
    site, o = shipped(tmp_path, capsys)
    site.cli("order-return", "rakuten", o.order_no, "--line", "1", "--qty", "1")
    capsys.readouterr()
    assert site.cli("order-unship", "rakuten", o.order_no) == 2
    assert "returned units" in capsys.readouterr().err
    assert site.status(o) == "closed" and slots(site, "item-a") == [("本店倉庫", 9, 0)]


def test_an_order_closed_at_go_live_cannot_be_unshipped_for_no_unit_of_ours_left(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1)
    site.orders_csv([o])
    capsys.readouterr()
    assert site.cli("orders", "close-before", "2030-01-01") == 0
    assert site.status(o) == "closed"
    capsys.readouterr()
    assert site.cli("order-unship", "rakuten", o.order_no) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "never shipped" in err and site.status(o) == "closed"
