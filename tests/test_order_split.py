"""order-split, order-merge, order-copy: orders made from orders by a person (NextEngine's Amazon manual's
rules), each with its stock, its own label, its shipment confirmation and its history; bad inputs refused in
one line, changing nothing."""
from __future__ import annotations

import getpass
import json

import pytest

from tests.support.configs import RAKUTEN_TO
from tests.support.opsite import OpSite
from tests.support.sinks import Sink
from tests.support.sites import MailSite, mod7, order
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, order_mail


@pytest.fixture
def site(tmp_path, capsys):
    return OpSite(tmp_path, capsys)


def two_lines(n: int = 1):
    return order(n, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500))


def test_a_split_moves_the_lines_and_their_reservations_to_a_bk_order_with_its_own_label(site):
    o = two_lines()
    site.orders_csv([o])
    before = site.view(o)["total"]
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    part = site.view_by_no(o.order_no + "-bk-1")
    original = site.view(o)
    assert [line["sku"] for line in part["lines"]] == ["item-b"] and part["total"] == 500
    assert part["shipping_fee"] == 0 and original["shipping_fee"] == 500        # the fee stays with the original
    assert [line["sku"] for line in original["lines"]] == ["item-a"] and original["total"] == before - 500
    assert site.stock("item-b") == (10, 1) and site.ledger("release:edit") == []     # moved, not released
    assert getpass.getuser() in original["history"][-1]["note"]
    rows = site.label_rows()
    assert len(rows) == 2 and any("商品B" in ",".join(r) and "商品A" not in ",".join(r) for r in rows)


def test_a_split_that_would_leave_the_original_empty_is_refused_and_changes_nothing(site):
    o = two_lines()
    site.orders_csv([o])
    before = site.snapshot(o.order_no)
    assert "empty" in site.refused("order-split", "rakuten", o.order_no, "--lines", "1,2")
    assert site.snapshot(o.order_no) == before


def test_splitting_an_unknown_line_or_order_is_refused(site):
    o = two_lines()
    site.orders_csv([o])
    before = site.snapshot(o.order_no)
    assert "no line 3" in site.refused("order-split", "rakuten", o.order_no, "--lines", "3")
    assert "no order" in site.refused("order-split", "rakuten", "no-such-order", "--lines", "1")
    assert site.snapshot(o.order_no) == before


def test_an_order_holding_a_set_is_not_split_for_amazon(site):
    (site.folder / "sets.csv").write_text("sku,name,components\nset-ab,セットAB,item-a*1;item-b*1\n", encoding="utf-8")
    assert site.cli("products", "import", str(site.folder / "sets.csv")) == 0
    o = order(1, Item("set-ab", "セットAB", 1, 1500), Item("item-a", "商品A", 1, 1000))
    site.orders_csv([o])
    site.edit(lambda config: config["shop"][0]["shipping"].update(confirm_layout="amazon-ship-confirm"))
    before = site.snapshot(o.order_no)
    assert "Amazon" in site.refused("order-split", "rakuten", o.order_no, "--lines", "2")
    assert site.snapshot(o.order_no) == before


def test_a_split_order_is_confirmed_once_under_the_original_number_when_every_part_has_shipped(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    keys = sorted(r[0] for r in site.label_rows())
    assert len(keys) == 2
    site.results([f"{keys[0]},0,0,{mod7('12345678901')},2026/06/13"], "r1.csv")
    site.cli("ship", "confirm")
    assert site.confirmations() == []                              # a part still to ship
    assert {site.status(o), site.view_by_no(o.order_no + "-bk-1")["status"]} == {"ready", "shipped"}
    site.results([f"{keys[1]},0,0,{mod7('22345678901')},2026/06/13"], "r2.csv")
    site.cli("ship", "confirm")
    [confirm] = site.confirmations()
    text = confirm.read_bytes().decode("cp932")
    assert o.order_no in text and "-bk-1" not in text and mod7("12345678901") in text
    site.deliver()
    assert site.status(o) == site.view_by_no(o.order_no + "-bk-1")["status"] == "closed"


def test_a_merge_moves_the_lines_and_reservations_to_one_parcel_and_cancels_the_others_by_merge(site):
    a, b = order(1), order(2, Item("item-b", "商品B", 1, 500))
    site.orders_csv([a, b])
    totals = site.view(a)["total"] + site.view(b)["total"]
    assert site.cli("order-merge", "rakuten", a.order_no, b.order_no) == 0
    survivor, absorbed = site.view(a), site.view(b)
    assert [line["sku"] for line in survivor["lines"]] == ["item-a", "item-b"] and survivor["total"] == totals
    assert survivor["shipping_fee"] == 1000                                     # both orders' fees, one parcel
    assert site.status(b) == "cancelled" and "同梱" in absorbed["history"][-1]["note"]
    assert site.stock("item-b") == (10, 1) and site.ledger("release:cancelled") == []   # moved, not released
    [row] = site.label_rows()
    assert "商品A" in ",".join(row) and "商品B" in ",".join(row)


def test_an_order_absorbed_by_a_merge_is_confirmed_with_the_surviving_parcels_tracking(site):
    a, b = order(1), order(2, Item("item-b", "商品B", 1, 500))
    site.orders_csv([a, b])
    assert site.cli("order-merge", "rakuten", a.order_no, b.order_no) == 0
    [row] = site.label_rows()
    site.results([f"{row[0]},0,0,{mod7('12345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    [confirm] = site.confirmations()
    lines = [r for r in confirm.read_bytes().decode("cp932").split("\r\n")[1:] if r]
    assert len(lines) == 2 and all(mod7("12345678901") in r for r in lines)
    assert any(b.order_no in r for r in lines) and any(a.order_no in r for r in lines)


def test_merging_orders_of_different_buyers_is_refused_and_changes_nothing(site):
    a, b = order(1), order(2, ship_to=Person("別人 次郎", "150-0001", "東京都渋谷区神宮前1-1", "03-1111-2222", ""))
    site.orders_csv([a, b])
    before = site.snapshot(a.order_no), site.snapshot(b.order_no)
    assert "another buyer" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert "no order" in site.refused("order-merge", "rakuten", a.order_no, "no-such-order")
    assert (site.snapshot(a.order_no), site.snapshot(b.order_no)) == before


def test_a_copy_for_a_reshipment_reserves_stock_like_a_new_order_and_is_never_confirmed(site):
    o = order(1)
    site.orders_csv([o])
    [row] = site.label_rows()
    site.results([f"{row[0]},0,0,{mod7('12345678901')},2026/06/13"], "r1.csv")
    site.cli("ship", "confirm")
    assert len(site.confirmations()) == 1
    assert site.cli("order-copy", "rakuten", o.order_no) == 0
    copy = site.view_by_no(o.order_no + "-cp-1")
    assert copy["status"] == "ready" and site.stock("item-a") == (9, 1)
    [row] = site.label_rows()
    site.results([f"{row[0]},0,0,{mod7('22345678901')},2026/06/14"], "r2.csv")
    site.cli("ship", "confirm")
    assert len(site.confirmations()) == 1                     # nothing new for the copy
    assert site.stock("item-a") == (8, 0)


def test_a_copy_is_never_mailed_to_the_buyer(tmp_path, capsys):
    sink = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        o = order(1)
        site.ship(o)
        assert site.cli("order-copy", "rakuten", o.order_no) == 0
        site.send()
        assert {r["order_no"] for r in site.log()} == {o.order_no}
    finally:
        sink.stop()


def test_merging_orders_of_different_shops_is_refused_and_changes_nothing(site):
    a, b = order(1), order(2)
    site.orders_csv([a])
    (site.folder / "yahoo.csv").write_bytes(order_csv("yahoo-order", [b]))
    assert site.cli("import", str(site.folder / "yahoo.csv"), "--shop", "yahoo") == 0
    before = site.snapshot(a.order_no)
    assert "different shops" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert site.snapshot(a.order_no) == before


def test_merging_an_order_that_is_not_open_is_refused(site):
    a, b = order(1), order(2)
    site.orders_csv([a, b])
    assert site.cli("order-cancel", "rakuten", b.order_no) == 0
    before = site.snapshot(a.order_no)
    assert "cancelled" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert site.snapshot(a.order_no) == before


def test_merging_a_cash_on_delivery_order_with_a_prepaid_one_is_refused(site):
    a, b = order(1), order(2, payment="代金引換", cod_fee=330)
    site.orders_csv([a, b])
    before = site.snapshot(a.order_no), site.snapshot(b.order_no)
    assert "paid the same way" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert (site.snapshot(a.order_no), site.snapshot(b.order_no)) == before


def test_a_split_part_sends_no_second_purchase_mail(tmp_path, capsys):
    sink = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        o = two_lines()
        site.mail_order(o)
        assert site.cli("order-split", "ec", o.order_no, "--lines", "2") == 0
        site.send()
        assert [(r["order_no"], r["stage"]) for r in site.log()] == [(o.order_no, "purchase")]
    finally:
        sink.stop()


def test_amazon_gets_a_split_order_once_with_the_first_tracking_number(tmp_path, capsys):
    site = OpSite(tmp_path, capsys, confirm="amazon-ship-confirm")
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    keys = sorted(r[0] for r in site.label_rows())
    site.results([f"{keys[0]},0,0,{mod7('12345678901')},2026/06/13",
                  f"{keys[1]},0,0,{mod7('22345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    [confirm] = site.confirmations()
    [row] = confirm.read_bytes().decode("cp932").split("\r\n")[3:-1]
    assert row.split("\t")[0] == o.order_no and row.split("\t")[6] == mod7("12345678901")


def test_the_channels_next_copy_of_a_split_or_merged_order_holds_neither(site):
    a, b, c = two_lines(1), order(2), order(3, Item("item-b", "商品B", 1, 500))
    site.orders_csv([a, b, c])
    assert site.cli("order-split", "rakuten", a.order_no, "--lines", "2") == 0
    assert site.cli("order-merge", "rakuten", b.order_no, c.order_no) == 0
    site.orders_csv([a, b, c, order(4)], "orders-again.csv")       # another file: every order applied again
    assert (site.status(a), site.status(b), site.status(c)) == ("ready", "ready", "cancelled")


def test_an_order_waiting_for_payment_is_neither_split_nor_merged(site):
    """The buyer pays the channel's total once, under the order's number: a part would wait for money never sent."""
    a = order(1, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500), payment="銀行振込")
    b = order(2, Item("item-b", "商品B", 1, 500), payment="銀行振込")
    site.orders_csv([a, b])
    assert site.status(a) == site.status(b) == "payment"
    before = site.snapshot(a.order_no)
    assert "入金待ち" in site.refused("order-split", "rakuten", a.order_no, "--lines", "2")
    assert "入金待ち" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert site.snapshot(a.order_no) == before


def test_a_split_whose_part_was_cancelled_is_confirmed_once_the_rest_has_shipped(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    assert site.cli("order-cancel", "rakuten", o.order_no + "-bk-1") == 0
    [key] = [r[0] for r in site.label_rows()]
    site.results([f"{key},0,0,{mod7('12345678901')},2026/06/13"], "r1.csv")
    site.cli("ship", "confirm")
    site.deliver()
    [confirm] = site.confirmations()
    assert o.order_no in confirm.read_bytes().decode("cp932") and site.status(o) == "closed"


def mismatches(site) -> list[dict]:
    site.capsys.readouterr()
    assert site.cli("ship", "mismatch", "--json") == 0
    return json.loads(site.capsys.readouterr().out)


def ship_all(site) -> None:
    keys = sorted(r[0] for r in site.label_rows())
    site.results([f"{k},0,0,{mod7(f'{n}2345678901')},2026/06/13" for n, k in enumerate(keys, 1)], "all.csv")


def test_a_split_order_and_its_parts_are_counted_together_in_ship_mismatch(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    ship_all(site)
    site.orders_csv([o], "again.csv")                       # the channel still charges the whole order
    assert site.status(o) == "shipped" and mismatches(site) == []
    cheaper = order(1, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500), total_override=2000)
    site.orders_csv([cheaper], "cheaper.csv")                # the channel took 500円 off: a real mismatch
    [row] = mismatches(site)
    assert row["order_no"] == o.order_no and row["total"] == o.total and row["channel_total"] == 2000
    assert row["related"] == [o.order_no + "-bk-1"]


def test_a_merged_order_is_compared_with_what_the_channel_charged_for_every_order_it_absorbed(site):
    a, b = order(1), order(2, Item("item-b", "商品B", 1, 500))
    site.orders_csv([a, b])
    assert site.cli("order-merge", "rakuten", a.order_no, b.order_no) == 0
    ship_all(site)
    site.orders_csv([a, b], "again.csv")
    assert site.status(a) == "shipped" and mismatches(site) == []
    site.orders_csv([order(2, Item("item-b", "商品B", 1, 500), total_override=800)], "b-refunded.csv")
    [row] = mismatches(site)
    assert row["order_no"] == a.order_no and row["channel_total"] == a.total + 800 and row["related"] == [b.order_no]


def test_a_pay_first_order_is_split_only_once_paid_and_its_part_then_waits_for_no_money(site):
    site.edit(lambda config: config["shop"][0].update(review={"remark": True}))
    held = order(1, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500), payment="銀行振込",
                 note="のし希望")
    mailed = order(2, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500), payment="銀行振込")
    site.orders_csv([held])
    path = site.folder / "mailed.eml"
    path.write_bytes(order_mail("rakuten", mailed, RAKUTEN_TO))
    assert site.cli("ingest", str(path), "--shop", "rakuten") == 0
    assert site.status(held) == "hold" and site.status(mailed) == "new"
    for o in (held, mailed):                      # 保留 and 新規受付, before any payment: refused, nothing changes
        before = site.snapshot(o.order_no)
        assert "once paid" in site.refused("order-split", "rakuten", o.order_no, "--lines", "2")
        assert site.snapshot(o.order_no) == before
    assert site.cli("order-release", "rakuten", held.order_no) == 0 and site.status(held) == "payment"
    assert site.cli("payment", "confirm", "rakuten", held.order_no) == 0 and site.status(held) == "ready"
    assert site.cli("order-split", "rakuten", held.order_no, "--lines", "2") == 0
    assert site.view_by_no(held.order_no + "-bk-1")["status"] == "ready"
