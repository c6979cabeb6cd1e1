"""order-lines: a person changes an order's lines; the totals are recalculated, the stock reserved again as for
a new order, the feeds follow, a written label is voided so the next export carries the new contents; a
channel's later copy does not undo the change silently; bad inputs are refused in one line, changing nothing."""
from __future__ import annotations

import getpass

import pytest

from tests.support.opsite import OpSite
from tests.support.sites import mod7, order
from tsunagi.demo.mails import Item

# item-a, item-b: 10 each; item-c: 1 at 本店倉庫 and 5 at 外部倉庫; set-ab: one item-a and two item-b.


@pytest.fixture
def site(tmp_path, capsys):
    return OpSite(tmp_path, capsys)


def two_lines(n: int = 1):
    """2 × 商品A at 1,000円 and 1 × 商品B at 500円, shipping 500円: 3,000円."""
    return order(n, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500))


def lines(site: OpSite, o) -> list[tuple[str, int, int]]:
    return [(x["channel_sku"], x["qty"], x["unit_price"]) for x in site.view(o)["lines"]]


def test_a_new_quantity_recalculates_the_total_and_reserves_the_difference(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=5") == 0
    v = site.view(o)
    assert lines(site, o) == [("item-a", 5, 1000), ("item-b", 1, 500)] and v["total"] == 5000 + 500 + 500
    assert v["status"] == "ready" and site.stock("item-a") == (10, 5)


def test_a_new_price_recalculates_the_total_and_leaves_the_stock(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "set", "2", "qty=1", "price=300") == 0
    assert lines(site, o)[1] == ("item-b", 1, 300) and site.view(o)["total"] == 2000 + 300 + 500
    assert site.stock("item-b") == (10, 1)


def test_an_added_line_is_named_from_the_master_and_reserved(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "add", "item-c", "1", "800") == 0
    v = site.view(o)
    assert v["lines"][2] == {"sku": "item-c", "channel_sku": "item-c", "name": "商品C", "options": [], "qty": 1,
                             "unit_price": 800}
    assert v["total"] == 3000 + 800 and site.stock("item-c") == (6, 1)


def test_a_removed_line_gives_its_stock_back_and_the_rest_are_numbered_again(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "remove", "1") == 0
    assert lines(site, o) == [("item-b", 1, 500)] and site.view(o)["total"] == 1000
    assert site.stock("item-a") == (10, 0)
    assert site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=2") == 0
    assert lines(site, o) == [("item-b", 2, 500)]


def test_a_set_product_line_reserves_its_components(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "add", "set-ab", "2", "2500") == 0
    assert site.stock("item-a") == (10, 2 + 2) and site.stock("item-b") == (10, 1 + 4)


def test_the_feeds_follow_every_change(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.published("item-a") == 10 - 2 - 1
    site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=4")
    assert site.published("item-a") == 10 - 4 - 1
    site.cli("order-lines", "rakuten", o.order_no, "remove", "1")
    assert site.published("item-a") == 10 - 1


def test_a_line_that_cannot_be_reserved_makes_the_order_wait_with_nothing_reserved(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=11") == 0
    assert site.status(o) == "awaiting_stock" and site.stock("item-a") == (10, 0) and site.stock("item-b") == (10, 0)
    assert site.published("item-a") == 10 - 1


def test_a_waiting_order_changed_to_what_stock_allows_is_reserved_and_ready_again(site):
    o = order(1, Item("item-a", "商品A", 11, 1000))
    site.orders_csv([o])
    assert site.status(o) == "awaiting_stock"
    assert site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=10") == 0
    assert site.status(o) == "ready" and site.stock("item-a") == (10, 10)


def test_a_change_to_an_exported_order_voids_its_label_and_the_next_export_carries_the_new_contents(site):
    o = order(1, Item("item-a", "商品A", 1, 1000), payment="代金引換")
    site.orders_csv([o])
    [first] = site.label_rows()
    assert first[0] == "T00000001" and first[33] == "1500"              # collected on delivery
    assert site.cli("order-lines", "rakuten", o.order_no, "add", "item-b", "2", "500") == 0
    assert "T00000001" in site.capsys.readouterr().out
    assert site.view(o)["shipments"] == []
    [again] = site.label_rows()
    assert again[0] == "T00000001" and again[33] == "2500" and "商品B" in ",".join(again)
    assert site.results([f"T00000001,0,0,{mod7('32345678901')},2026/06/13"]) == 0
    assert site.status(o) == "shipped" and site.stock("item-b") == (8, 0)


def test_the_history_keeps_both_contents_and_who_changed_them(site):
    o = two_lines()
    site.orders_csv([o])
    site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=3")
    note = site.view(o)["history"][-1]["note"]
    assert "明細1 item-a 数量 3" in note and "item-a×2, item-b×1 合計 3,000円 → item-a×3, item-b×1 合計 4,000円" in note
    assert getpass.getuser() in note


def test_the_channels_later_csv_holds_the_changed_order_with_both_versions_and_the_change_stands(site):
    o = two_lines()
    site.orders_csv([o])
    site.cli("order-lines", "rakuten", o.order_no, "set", "1", "qty=3")
    site.orders_csv([o, order(2, Item("item-c", "商品C", 1, 100))], "again.csv")   # the channel still says 2 × 商品A
    v = site.view(o)
    assert v["status"] == "hold" and v["hold_kind"] == "conflict"
    assert "item-a×3" in v["hold_reason"] and "受注CSV item-a×2" in v["hold_reason"]
    assert lines(site, o)[0] == ("item-a", 3, 1000)
    assert site.cli("order-release", "rakuten", o.order_no) == 0         # the operator keeps the change
    assert site.status(o) == "ready" and site.stock("item-a") == (10, 3)


# Refusals: one line, exit status 2, nothing changed.

def refused_unchanged(site: OpSite, o, *args) -> str:
    before = site.snapshot(o.order_no)
    err = site.refused("order-lines", "rakuten", o.order_no, *args)
    assert site.snapshot(o.order_no) == before
    return err


def test_changing_a_shipped_order_is_refused(site):
    o = two_lines()
    site.orders_csv([o])
    site.export()
    site.results([f"T00000001,0,0,{mod7('32345678901')},2026/06/13"])
    assert "出荷確定済 (shipped)" in refused_unchanged(site, o, "set", "1", "qty=1")


def test_changing_a_cancelled_order_is_refused(site):
    o = two_lines()
    site.orders_csv([o])
    site.cli("order-cancel", "rakuten", o.order_no)
    assert "キャンセル (cancelled)" in refused_unchanged(site, o, "add", "item-c", "1", "100")


def test_a_line_number_out_of_range_is_refused(site):
    o = two_lines()
    site.orders_csv([o])
    assert "no line 3" in refused_unchanged(site, o, "set", "3", "qty=1")
    assert "no line 0" in refused_unchanged(site, o, "remove", "0")


def test_a_quantity_of_zero_is_refused_pointing_at_remove(site):
    o = two_lines()
    site.orders_csv([o])
    assert "remove 2" in refused_unchanged(site, o, "set", "2", "qty=0")
    assert "1 or more" in refused_unchanged(site, o, "add", "item-c", "-1", "100")


def test_a_change_that_changes_nothing_is_refused_and_keeps_the_label(site):
    o = two_lines()
    site.orders_csv([o])
    site.export()
    assert "nothing to change" in refused_unchanged(site, o, "set", "1", "qty=2", "price=1000")


def test_an_unknown_sku_on_add_is_refused(site):
    o = two_lines()
    site.orders_csv([o])
    assert "no-such" in refused_unchanged(site, o, "add", "no-such", "1", "100")


def test_removing_the_last_line_is_refused_pointing_at_order_cancel(site):
    o = order(1)
    site.orders_csv([o])
    assert "order-cancel" in refused_unchanged(site, o, "remove", "1")


def test_an_unknown_order_is_refused(site):
    assert "no order 999 in shop rakuten" in site.refused("order-lines", "rakuten", "999", "remove", "1")


def test_an_order_instructed_to_a_warehouse_is_refused(site):
    site.with_warehouse()
    o = order(1, Item("item-c", "商品C", 1, 100), Item("item-a", "商品A", 1, 1000))
    site.orders_csv([o])
    site.wms_files()
    assert "倉庫 logi" in refused_unchanged(site, o, "set", "2", "qty=2")


def test_values_that_are_not_numbers_are_refused(site):
    o = two_lines()
    site.orders_csv([o])
    assert "qty must be a whole number" in refused_unchanged(site, o, "set", "1", "qty=many")
    assert "qty=Q" in refused_unchanged(site, o, "set", "1", "amount=3")
