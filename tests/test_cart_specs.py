"""Every shipped cart spec reads its cart's mail: each sample, in the cart's own charset and transfer encoding, sent
over SMTP to the real daemon, becomes the order it states; a mail of one cart sent to another cart's shop is
quarantined naming the cart it belongs to."""
from __future__ import annotations

import pytest

from tests.support.configs import COUNTS, edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.demo.cartmails import CARTS, cart_mail, order_no
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder
from tsunagi.oms import queries

# Qoo10 writes one item a mail, Amazon's mail waits for the order report: each has tests of its own.
ONE_MAIL_ORDERS = sorted(set(CARTS) - {"qoo10", "amazon"})
EXTRA = {"amazon": {"order_csv": {"layout": "amazon-unshipped"}}}


def address(cart: str) -> str:
    return f"{cart}-shop@orders.example.jp"


@pytest.fixture(scope="module")
def carts(tmp_path_factory):
    """One daemon with a shop for every cart (each named like its cart)."""
    folder = tmp_path_factory.mktemp("carts")
    config = write_config(folder)
    edit_config(config, lambda c: c["shop"].extend(
        {"id": cart, "cart": cart, "order_mail_to": [address(cart)], **EXTRA.get(cart, {})} for cart in CARTS))
    seed(config, counts=COUNTS.replace(",10\n", ",1000\n"))
    running = Running(config)
    yield running
    running.stop()


def sample(cart: str, n: int) -> SampleOrder:
    return SampleOrder(order_no(cart, n), [Item("item-a", "商品Ａ ①", 1, 1280, ("サイズ:M",)),
                                           Item("item-b", "商品B", 2, 2000)], cod_fee=330)


def order(running: Running, shop: str, number: str) -> dict:
    found = wait_for(lambda: queries.find_order(running.store.read(), shop, number))
    return queries.order_view(running.store.read(), found)


@pytest.mark.parametrize("cart", ONE_MAIL_ORDERS)
def test_a_carts_sample_mail_over_smtp_becomes_the_order_it_states(carts, cart):
    o = sample(cart, 1001)
    carts.send(cart_mail(cart, o, address(cart)), rcpt=address(cart))
    got = order(carts, cart, o.order_no)
    assert [(x["channel_sku"], x["qty"], x["unit_price"]) for x in got["lines"]] == \
        [("item-a", 1, 1280), ("item-b", 2, 2000)]
    assert (got["total"], got["shipping_fee"], got["status"]) == (6110, 500, "new")
    assert got["ship_to"]["name"] == "山田 花子"
    if cart != "shopify":       # the staff notification names the recipient only
        assert (got["buyer"]["name"], got["buyer"]["postal_code"], got["buyer"]["prefecture"]) == \
            ("山田 太郎", "100-0001", "東京都")


SHAPES = [("makeshop", dict(charset="shift_jis", cte="base64", forward="inline")),
          ("colorme", dict(charset="utf-8", cte="base64", forward="attached")),
          ("nextengine", dict(charset="cp932", cte="quoted-printable", html="alternative")),
          ("stores", dict(charset="utf-8", cte="8bit", html="only"))]


@pytest.mark.parametrize("cart, shape", SHAPES, ids=[cart for cart, _ in SHAPES])
def test_a_sample_reads_the_same_forwarded_or_in_another_charset_and_encoding(carts, cart, shape):
    o = sample(cart, 2001)
    carts.send(cart_mail(cart, o, address(cart), **shape), rcpt=address(cart))
    assert order(carts, cart, o.order_no)["total"] == 6110


@pytest.mark.parametrize("cart, other", [("qoo10", "makeshop"), ("base", "colorme"), ("aupay", "stores")])
def test_a_mail_of_one_cart_sent_to_another_carts_shop_is_quarantined_naming_its_cart(carts, cart, other):
    o = sample(cart, 3001) if cart != "qoo10" else SampleOrder(order_no(cart, 3001), [Item("item-a", "A", 1, 100)])
    carts.send(cart_mail(cart, o, address(other)), rcpt=address(other))
    reason = wait_for(lambda: next((r for r in carts.failed() if r.get("shop") == other), None))
    assert reason["kind"] == "wrong_cart" and f"cart {cart!r}" in reason["message"]
    assert queries.find_order(carts.store.read(), other, o.order_no) is None


def test_amazons_ship_now_mail_reserves_at_once_and_waits_for_the_order_report_to_complete_it(carts, tmp_path):
    o = SampleOrder(order_no("amazon", 4001), [Item("item-c", "商品C", 2, 1500)], shipping=0)
    carts.send(cart_mail("amazon", o, address("amazon")), rcpt=address("amazon"))
    got = order(carts, "amazon", o.order_no)
    assert (got["status"], got["channel_status"], got["ship_to"]["name"]) == ("new", "awaiting_report", "")
    assert [(r["sku"], r["qty"]) for r in got["reserved"]] == [("item-c", 2)]
    report = tmp_path / "unshipped.txt"
    report.write_bytes(order_csv("amazon-unshipped", [o]))
    assert carts.cli("import", str(report), "--shop", "amazon") == 0
    got = order(carts, "amazon", o.order_no)
    assert (got["status"], got["channel_status"]) == ("confirm", "")
    assert (got["ship_to"]["name"], got["ship_to"]["postal_code"]) == ("山田 花子", "530-0001")
    assert [(r["sku"], r["qty"]) for r in got["reserved"]] == [("item-c", 2)]     # reserved once


@pytest.mark.parametrize("cart", sorted(CARTS))
def test_spec_test_reads_each_carts_sample_and_exits_0(cart, tmp_path, capsys):
    from tsunagi.app import cli
    o = sample(cart, 5001)
    if cart == "qoo10":
        o = SampleOrder(order_no(cart, 5001), [Item("item-a", "商品A", 1, 1280)], shipping=0)
    path = tmp_path / f"{cart}.eml"
    path.write_bytes(cart_mail(cart, o, address(cart)))
    assert cli.main(["-c", str(write_config(tmp_path)), "spec", "test", cart, str(path)]) == 0
    assert o.order_no in capsys.readouterr().out
