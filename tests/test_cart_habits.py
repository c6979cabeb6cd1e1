"""Carts with habits of their own: au PAY マーケット's mail names lot numbers, read as SKUs through the shop's lot
table (a lot with no row holds the order naming it); Qoo10 mails each item of an order (the mails are its lines, in
any order, a duplicate adding nothing); a cart's cancel and change mails cancel or change the order. Real daemon,
real SMTP."""
from __future__ import annotations

import pytest

from tests.support.configs import edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.demo import cartmails
from tsunagi.demo.cartmails import cart_mail, order_no
from tsunagi.demo.mails import Item, SampleOrder, build_mail
from tsunagi.oms import queries

AUPAY_TO = "aupay-shop@orders.example.jp"


@pytest.fixture
def aupay(tmp_path):
    (tmp_path / "lots.csv").write_text("lot,sku\nL-1001,item-a\nL-1002,item-b\n", encoding="utf-8")
    config = write_config(tmp_path)
    edit_config(config, lambda c: c["shop"].append(
        {"id": "aupay", "cart": "aupay", "order_mail_to": [AUPAY_TO], "lot_table": "lots.csv"}))
    seed(config)
    running = Running(config)
    yield running
    running.stop()


def send_aupay(running: Running, n: int, *lots: str) -> dict:
    o = SampleOrder(order_no("aupay", n), [Item(lot, f"商品 {lot}", 1, 1000) for lot in lots])
    running.send(cart_mail("aupay", o, AUPAY_TO), rcpt=AUPAY_TO)
    found = wait_for(lambda: queries.find_order(running.store.read(), "aupay", o.order_no))
    running.wait_idle()
    return queries.order_view(running.store.read(), found)


def test_an_aupay_mails_lot_numbers_are_read_as_the_skus_of_the_shops_lot_table(aupay):
    got = send_aupay(aupay, 1, "L-1001", "L-1002")
    assert [x["channel_sku"] for x in got["lines"]] == ["item-a", "item-b"]
    assert got["status"] == "new" and [(r["sku"], r["qty"]) for r in got["reserved"]] == [("item-a", 1), ("item-b", 1)]


def test_an_aupay_lot_with_no_table_entry_holds_the_order_naming_the_lot(aupay):
    got = send_aupay(aupay, 2, "L-1001", "L-9999")
    assert (got["status"], got["hold_kind"]) == ("hold", "unknown_sku")
    assert "ロット番号 L-9999" in got["hold_reason"] and "lots.csv" in got["hold_reason"]
    assert got["reserved"] == []


def test_a_lot_added_to_the_table_places_the_held_order_within_seconds_with_no_other_mail(aupay):
    held = send_aupay(aupay, 3, "L-7777")
    assert held["status"] == "hold" and "数秒のうちに引当し直します" in held["hold_reason"]
    (aupay.config_path.parent / "lots.csv").write_text("lot,sku\nL-1001,item-a\nL-7777,item-c\n", encoding="utf-8")
    order_id = queries.find_order(aupay.store.read(), "aupay", held["order_no"])
    again = wait_for(lambda: (v := queries.order_view(aupay.store.read(), order_id))["status"] == "new" and v, 15)
    assert [x["channel_sku"] for x in again["lines"]] == ["item-c"] and again["reserved"][0]["sku"] == "item-c"


QOO10_TO = "qoo10-shop@orders.example.jp"


@pytest.fixture
def qoo10(tmp_path):
    config = write_config(tmp_path)
    edit_config(config, lambda c: c["shop"].append({"id": "qoo10", "cart": "qoo10", "order_mail_to": [QOO10_TO]}))
    seed(config)
    running = Running(config)
    yield running
    running.stop()


def qoo10_mail(cart_no: str, item: Item, msgid: str = "") -> bytes:
    return cart_mail("qoo10", SampleOrder(cart_no, [item], shipping=0), QOO10_TO, msgid=msgid)


def qoo10_order(running: Running, cart_no: str) -> dict:
    running.wait_idle()
    return queries.order_view(running.store.read(), queries.find_order(running.store.read(), "qoo10", cart_no))


A, B = Item("item-a", "商品A", 1, 1200), Item("item-b", "商品B", 2, 800)


def test_qoo10s_item_mails_of_one_cart_become_the_lines_of_one_order(qoo10):
    for item in (A, B):
        qoo10.send(qoo10_mail("700000001", item), rcpt=QOO10_TO)
        qoo10.wait_idle()
    got = qoo10_order(qoo10, "700000001")
    assert [(x["channel_sku"], x["qty"]) for x in got["lines"]] == [("item-a", 1), ("item-b", 2)]
    assert (got["status"], got["total"]) == ("new", 2800)
    assert sorted((r["sku"], r["qty"]) for r in got["reserved"]) == [("item-a", 1), ("item-b", 2)]
    assert qoo10.failed() == []


def test_qoo10s_item_mails_out_of_order_make_the_same_order(qoo10):
    for item in (B, A):
        qoo10.send(qoo10_mail("700000002", item), rcpt=QOO10_TO)
        qoo10.wait_idle()
    got = qoo10_order(qoo10, "700000002")
    assert sorted((x["channel_sku"], x["qty"]) for x in got["lines"]) == [("item-a", 1), ("item-b", 2)]
    assert (got["status"], got["total"]) == ("new", 2800)


def test_a_qoo10_item_mail_sent_twice_adds_nothing(qoo10):
    for item, msgid in ((A, "<1@qoo10>"), (B, "<2@qoo10>"), (A, "<3@qoo10>")):     # the third: A again, re-sent
        qoo10.send(qoo10_mail("700000003", item, msgid), rcpt=QOO10_TO)
        qoo10.wait_idle()
    got = qoo10_order(qoo10, "700000003")
    assert [(x["channel_sku"], x["qty"]) for x in got["lines"]] == [("item-a", 1), ("item-b", 2)]
    assert (got["status"], got["total"], got["hold_kind"]) == ("new", 2800, "")
    assert sorted((r["sku"], r["qty"]) for r in got["reserved"]) == [("item-a", 1), ("item-b", 2)]


def test_a_qoo10_cancel_mail_cancels_the_order_of_its_cart_and_gives_its_stock_back(qoo10):
    qoo10.send(qoo10_mail("700000004", A), rcpt=QOO10_TO)
    assert qoo10_order(qoo10, "700000004")["status"] == "new"
    body = "ご注文がキャンセルされました。\nカート番号：700000004\n商品名：商品A(item-a)\n数量：1\n"
    qoo10.send(build_mail(body, "[Qoo10] 注文キャンセルのお知らせ", "Qoo10 <order@qoo10.jp>", QOO10_TO,
                          charset="utf-8", cte="base64"), rcpt=QOO10_TO)
    got = qoo10_order(qoo10, "700000004")
    assert (got["status"], got["reserved"]) == ("cancelled", [])


def test_a_carts_order_changed_mail_makes_its_new_content_the_order(tmp_path):
    from tsunagi.parsers.mailspec import SPEC_DIR
    (tmp_path / "specs").mkdir()
    change = (SPEC_DIR / "stores.toml").read_text(encoding="utf-8").replace('cart = "stores"', 'cart = "stores.change"\nkind = "change"')
    change = change.replace("subject = ['STORES', '注文が入りました']", "subject = ['注文内容が変更されました']")
    (tmp_path / "specs" / "stores.change.toml").write_text(change, encoding="utf-8")
    config = write_config(tmp_path)
    edit_config(config, lambda c: (c.update(mail_spec_dir="specs"), c["shop"].append(
        {"id": "stores", "cart": "stores", "order_mail_to": ["stores-shop@orders.example.jp"]})))
    seed(config)
    running = Running(config)
    try:
        to = "stores-shop@orders.example.jp"
        o = SampleOrder(order_no("stores", 77), [Item("item-a", "商品A", 1, 1000)])
        running.send(cart_mail("stores", o, to), rcpt=to)
        running.wait_idle()
        o.items = [Item("item-a", "商品A", 3, 1000)]
        text = cartmails.CARTS["stores"].render(o)
        running.send(build_mail(text, "【STORES】注文内容が変更されました", "STORES <hello@stores.jp>", to), rcpt=to)
        running.wait_idle()
        got = queries.order_view(running.store.read(), queries.find_order(running.store.read(), "stores", o.order_no))
        assert [(x["channel_sku"], x["qty"]) for x in got["lines"]] == [("item-a", 3)]
        assert (got["status"], got["total"]) == ("new", 3500)
        assert [(r["sku"], r["qty"]) for r in got["reserved"]] == [("item-a", 3)]
    finally:
        running.stop()


def test_a_lot_table_without_its_columns_is_refused_by_the_config_in_one_line(tmp_path, capsys):
    from tsunagi.app import cli
    (tmp_path / "lots.csv").write_text("ロット,商品\nL-1,item-a\n", encoding="utf-8")
    config = write_config(tmp_path)
    edit_config(config, lambda c: c["shop"].append(
        {"id": "aupay", "cart": "aupay", "order_mail_to": [AUPAY_TO], "lot_table": "lots.csv"}))
    assert cli.main(["-c", str(config), "check"]) == 2
    err = capsys.readouterr().err
    assert "lot_table" in err and "lot,sku" in err and "Traceback" not in err
