"""order-cancel: a person cancels an order (or one line); its stock is given back and the feeds follow, a
written label is voided, a warehouse gets its cancel, no later buyer mail goes; what cannot be cancelled is
refused in one line and nothing changes."""
from __future__ import annotations

import getpass

import pytest

from tests.support.opsite import OpSite
from tests.support.sinks import Sink
from tests.support.sites import MailSite, mod7, order
from tsunagi.demo.mails import Item, Person, SampleOrder


@pytest.fixture
def site(tmp_path, capsys):
    return OpSite(tmp_path, capsys)


def two_lines(n: int = 1):
    return order(n, Item("item-a", "商品A", 2, 1000), Item("item-b", "商品B", 1, 500))


def test_cancelling_releases_the_reservation_through_the_ledger(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.stock("item-a") == (10, 2)
    assert site.cli("order-cancel", "rakuten", o.order_no) == 0
    assert site.status(o) == "cancelled" and site.stock("item-a") == (10, 0) and site.stock("item-b") == (10, 0)
    assert site.ledger("release:cancelled") == [("item-a", -2), ("item-b", -1)]


def test_the_history_names_who_cancelled_and_why(site):
    o = order(1)
    site.orders_csv([o])
    assert site.cli("order-cancel", "rakuten", o.order_no, "--reason", "お客様のご都合") == 0
    last = site.view(o)["history"]
    assert last[-1]["to"] == "cancelled" and "お客様のご都合" in last[-1]["note"] and getpass.getuser() in last[-1]["note"]


def test_the_next_feed_file_publishes_the_freed_units(site):
    o = order(1, Item("item-a", "商品A", 3, 1000))
    site.orders_csv([o])
    assert site.published("item-a") == 10 - 3 - 1
    assert site.cli("order-cancel", "rakuten", o.order_no) == 0
    assert site.published("item-a") == 10 - 1


def test_cancelling_an_exported_order_voids_its_label_and_a_result_for_it_is_refused(site):
    o = order(1)
    site.orders_csv([o])
    assert [r[0] for r in site.label_rows()] == ["T00000001"]
    assert site.cli("order-cancel", "rakuten", o.order_no) == 0
    assert "T00000001" in site.capsys.readouterr().out
    assert site.label_rows() == []
    assert site.results([f"T00000001,0,0,{mod7('32345678901')},2026/06/13"]) == 1
    assert site.status(o) == "cancelled" and site.stock("item-a") == (10, 0)


def test_cancelling_one_order_of_a_shared_parcel_exports_the_other_alone(tmp_path, capsys):
    site = OpSite(tmp_path, capsys, merge=True)
    a, b = order(1), order(2, Item("item-b", "商品B", 1, 500))
    site.orders_csv([a, b])
    assert [r[0] for r in site.label_rows()] == ["T00000001"]            # one parcel for both (同梱)
    assert site.cli("order-cancel", "rakuten", a.order_no) == 0
    rows = site.label_rows()
    assert [r[0] for r in rows] == ["T00000002"] and "商品B" in ",".join(rows[0]) and "商品A" not in ",".join(rows[0])
    assert any("同梱の別注文の変更" in h["note"] for h in site.view(b)["history"])
    assert site.results([f"T00000002,0,0,{mod7('32345678902')},2026/06/13"]) == 0
    assert site.status(b) == "shipped" and site.status(a) == "cancelled"


def test_an_instructed_order_sends_the_warehouse_its_cancel_and_keeps_its_stock_until_then(site):
    site.with_warehouse()
    o = order(1, Item("item-c", "商品C", 1, 100))
    site.orders_csv([o])
    site.wms_files()
    assert site.cli("order-cancel", "rakuten", o.order_no) == 0
    assert site.status(o) == "cancelled" and site.stock("item-c")[1] == 1
    [cancel] = [f for f in site.wms_files() if "cancel" in f]
    assert "W00000001" in (site.spool.dir("outbox") / "logi" / "ready" / cancel).read_bytes().decode("cp932")
    assert site.wms_results(["W00000001,キャンセル済,,"]) == 0
    assert site.stock("item-c")[1] == 0


def test_an_order_the_warehouse_works_on_is_refused_and_nothing_changes(site):
    site.with_warehouse()
    o = order(1, Item("item-c", "商品C", 1, 100))
    site.orders_csv([o])
    site.wms_files()
    assert site.wms_results(["W00000001,作業中,,"]) == 0
    before = site.snapshot(o.order_no)
    assert "作業中" in site.refused("order-cancel", "rakuten", o.order_no)
    assert site.snapshot(o.order_no) == before


def test_a_pending_buyer_mail_is_not_sent_once_the_order_is_cancelled(tmp_path, capsys):
    sink = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        o = SampleOrder("402853-20260612-0000000001", [Item("item-a", "商品A", 1, 1000)],
                        buyer=Person("山田 太郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "taro@example.jp"))
        site.mail_order(o)
        assert [r["state"] for r in site.log()] == ["queued"]
        assert site.cli("order-cancel", "ec", o.order_no) == 0
        site.send()
        assert [r["state"] for r in site.log()] == ["cancelled"] and sink.messages == []
    finally:
        sink.stop()


def test_cancelling_a_line_takes_it_out_with_the_total_and_its_stock(site):
    o = two_lines()
    site.orders_csv([o])
    assert site.cli("order-cancel", "rakuten", o.order_no, "--line", "2", "--reason", "欠品") == 0
    v = site.view(o)
    assert [(x["channel_sku"], x["qty"]) for x in v["lines"]] == [("item-a", 2)] and v["status"] == "ready"
    assert v["total"] == 2 * 1000 + 500 and site.stock("item-b") == (10, 0) and site.stock("item-a") == (10, 2)
    assert "明細キャンセル 明細2 item-b×1 理由: 欠品" in v["history"][-1]["note"]
    assert site.published("item-b") == 10 - 1


def test_cancelling_the_only_line_cancels_the_order(site):
    o = order(1)
    site.orders_csv([o])
    assert site.cli("order-cancel", "rakuten", o.order_no, "--line", "1") == 0
    assert site.status(o) == "cancelled" and site.stock("item-a") == (10, 0)


def test_the_channels_later_csv_of_an_order_cancelled_here_leaves_it_cancelled(site):
    o = order(1)
    site.orders_csv([o])
    assert site.cli("order-cancel", "rakuten", o.order_no) == 0
    assert site.orders_csv([o, order(2, Item("item-b", "商品B", 1, 500))], "again.csv") == 0   # its next export
    assert site.status(o) == "cancelled" and site.stock("item-a") == (10, 0)


def test_cancelling_a_shipped_order_is_refused_and_nothing_changes(site):
    o = order(1)
    site.orders_csv([o])
    site.export()
    site.results([f"T00000001,0,0,{mod7('32345678901')},2026/06/13"])
    before = site.snapshot(o.order_no)
    assert "出荷確定済 (shipped)" in site.refused("order-cancel", "rakuten", o.order_no)
    assert site.snapshot(o.order_no) == before


def test_cancelling_a_cancelled_order_is_refused(site):
    o = order(1)
    site.orders_csv([o])
    site.cli("order-cancel", "rakuten", o.order_no)
    before = site.snapshot(o.order_no)
    assert "キャンセル (cancelled)" in site.refused("order-cancel", "rakuten", o.order_no)
    assert site.snapshot(o.order_no) == before


def test_a_line_out_of_range_is_refused_and_nothing_changes(site):
    o = two_lines()
    site.orders_csv([o])
    before = site.snapshot(o.order_no)
    assert "no line 3" in site.refused("order-cancel", "rakuten", o.order_no, "--line", "3")
    assert site.snapshot(o.order_no) == before


def test_an_unknown_order_is_refused(site):
    assert "no order 999 in shop rakuten" in site.refused("order-cancel", "rakuten", "999")
