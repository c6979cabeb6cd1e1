"""`tsunagi spec test`: what a spec finds in mail files, line by line, and whether they would become orders."""
from __future__ import annotations

from tests.support.configs import RAKUTEN_TO
from tsunagi.app import cli
from tsunagi.demo.mails import Item, SampleOrder, order_mail

ITEMS = [Item("item-a", "商品Ａ", 1, 1280, ("サイズ:M",)), Item("item-b", "商品B", 2, 2000)]
YAHOO = SampleOrder("sample-store-10000123", ITEMS, cod_fee=330)
RAKUTEN = SampleOrder("402853-20260612-0220534167", ITEMS)


def mail_file(tmp_path, name: str, cart: str, order: SampleOrder, **shape):
    path = tmp_path / name
    path.write_bytes(order_mail(cart, order, "orders@example.jp", **shape))
    return str(path)


def test_spec_test_shows_each_field_with_its_line_and_the_order(tmp_path, capsys):
    yahoo = mail_file(tmp_path, "y.eml", "yahoo", YAHOO, charset="iso-2022-jp", cte="7bit")
    assert cli.main(["spec", "test", "yahoo", yahoo]) == 0
    out = capsys.readouterr().out
    assert "order_no         line    3  sample-store-10000123" in out
    assert "total            line   38  6,110" in out and "missing: note" in out
    assert "order sample-store-10000123" in out and "item-b × 2 @ 2,000" in out
    assert "1 of 1 mails read with spec yahoo" in out


def test_spec_test_exits_1_naming_what_fails(tmp_path, capsys):
    good = mail_file(tmp_path, "good.eml", "rakuten", RAKUTEN, charset="utf-8", cte="base64")
    bad_order = SampleOrder(RAKUTEN.order_no, ITEMS, total_override=7)
    bad = mail_file(tmp_path, "bad.eml", "rakuten", bad_order, charset="utf-8", cte="base64")
    assert cli.main(["spec", "test", "rakuten", good, bad]) == 1
    out = capsys.readouterr().out
    assert "FAILS [parse_error]" in out and "the mail's total is 7" in out
    assert "1 of 2 mails read with spec rakuten" in out


def test_spec_test_says_a_mail_is_another_carts(tmp_path, capsys):
    rakuten = mail_file(tmp_path, "r.eml", "rakuten", RAKUTEN)
    assert cli.main(["spec", "test", "yahoo", rakuten]) == 1
    assert "order mail of cart 'rakuten', not of this shop's (yahoo)" in capsys.readouterr().out


def test_spec_test_refuses_an_unknown_cart_in_one_line(tmp_path, capsys):
    assert cli.main(["spec", "test", "no-such-cart", mail_file(tmp_path, "r.eml", "rakuten", RAKUTEN)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no mail spec for cart 'no-such-cart'") and len(err.strip().splitlines()) == 1


def test_a_mail_of_another_cart_sent_to_a_shop_is_quarantined_naming_the_cart(running):
    running.send(order_mail("yahoo", YAHOO, RAKUTEN_TO), rcpt=RAKUTEN_TO)
    running.wait_idle()
    (reason,) = running.failed()
    assert reason["kind"] == "wrong_cart" and reason["shop"] == "rakuten"
    assert "cart 'yahoo'" in reason["message"]


def test_a_shop_reads_its_mail_with_a_spec_of_its_own(tmp_path):
    from tests.support.configs import YAHOO_TO, edit_config, seed, write_config
    from tests.support.daemon import Running
    from tsunagi.oms import queries
    from tsunagi.parsers.mailspec import SPEC_DIR
    (tmp_path / "specs").mkdir()
    own = (SPEC_DIR / "yahoo.toml").read_text(encoding="utf-8").replace('cart = "yahoo"', 'cart = "yahoo-mine"')
    (tmp_path / "specs" / "yahoo-mine.toml").write_text(own, encoding="utf-8")
    config = write_config(tmp_path)
    edit_config(config, lambda c: (c.update(mail_spec_dir="specs"), c["shop"][1].update(cart="yahoo-mine")))
    seed(config)
    running = Running(config)
    try:
        running.send(order_mail("yahoo", YAHOO, YAHOO_TO), rcpt=YAHOO_TO)
        running.wait_idle()
        assert queries.find_order(running.store.read(), "yahoo", YAHOO.order_no)
    finally:
        running.stop()


def test_a_cart_no_spec_folder_has_is_refused_by_the_config(tmp_path, capsys):
    from tests.support.configs import edit_config, write_config
    config = write_config(tmp_path)
    edit_config(config, lambda c: c["shop"][1].update(cart="yahoo-mine"))
    assert cli.main(["-c", str(config), "check"]) == 2
    assert "shop[1].cart: no mail spec 'yahoo-mine'" in capsys.readouterr().err
