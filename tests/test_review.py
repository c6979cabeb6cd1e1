"""Review holds: a shop's rules hold the orders a person must look at (a remark, a gift request, a large total,
a postcode of another prefecture) naming the rule; far delivery dates wait in 印刷日待ち until N days before."""
from __future__ import annotations

from datetime import timedelta

from tests.support.configs import shop
from tests.support.daemon import Running, wait_for
from tests.support.sites import ShipSite, order
from tsunagi.common.clock import today
from tsunagi.demo.mails import Item, Person
from tsunagi.oms.store import Store

ALL_ON = {"remark": True, "gift": True, "amount_over": 50000, "date_beyond_days": 7, "postcode_check": True}


def reviewing(tmp_path, capsys, **rules) -> ShipSite:
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda d: shop(d, "rakuten").update(review=rules or ALL_ON))
    return site


def held_for(site: ShipSite, o) -> str:
    v = site.view(o)
    assert v["status"] == "hold" and v["hold_kind"] == "review", v
    return v["hold_reason"]


def test_a_buyer_remark_holds_the_order_naming_the_rule_and_the_remark(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(1, note="午後に届けてください")
    site.orders_csv([o])
    assert "[remark]" in held_for(site, o) and "午後に届けてください" in held_for(site, o)
    assert site.export() == []


def test_a_wrapping_option_holds_the_order_as_a_gift(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(2, Item("item-a", "商品A", 1, 1000, ("ラッピング:希望する",)))
    site.orders_csv([o])
    assert "[gift]" in held_for(site, o) and "ラッピング" in held_for(site, o)


def test_an_option_declining_wrapping_is_no_gift(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(3, Item("item-a", "商品A", 1, 1000, ("ラッピング:希望しない",)))
    site.orders_csv([o])
    assert site.status(o) == "ready"


def test_a_total_over_the_amount_holds_the_order_naming_both(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(4, Item("item-a", "商品A", 1, 60000))
    site.orders_csv([o])
    assert "[amount_over] 合計 60,500円 > 50,000円" in held_for(site, o)


def test_a_postcode_of_another_prefecture_holds_the_order(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(5, ship_to=Person("山田 花子", "100-0001", "大阪府大阪市北区梅田1-1-1", "06-1234-5678", ""))
    site.orders_csv([o])
    assert "[postcode_check] 郵便番号 100-0001 は東京都" in held_for(site, o)


def test_a_postcode_of_another_prefecture_for_a_second_recipient_holds_the_order_naming_it(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    aunt = Person("佐藤 梅子", "100-0001", "北海道札幌市中央区北一条西1-1", "011-111-2222", "")
    o = order(7, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 1, 500, ship_to=aunt))
    site.orders_csv([o])
    assert "送付先2: 郵便番号 100-0001 は東京都 (北海道ではありません)" in held_for(site, o)


def test_a_postcode_of_its_own_prefecture_passes(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(6)                              # 530-0001 大阪府大阪市北区梅田
    site.orders_csv([o])
    assert site.status(o) == "ready"


def test_a_released_review_hold_is_not_held_again_by_the_same_rule(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(7, note="のしは不要です")
    site.orders_csv([o])
    assert site.status(o) == "hold"
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    assert site.cli("ship", "ready") == 0
    assert site.status(o) == "ready"
    assert len(site.export()) == 1


def test_a_release_of_a_review_hold_is_recorded_with_its_rules_and_who(tmp_path, capsys):
    site = reviewing(tmp_path, capsys)
    o = order(16, Item("item-a", "商品A", 1, 1000, ("のし:御祝",)), note="急ぎません")
    site.orders_csv([o])
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    history = Store(site.folder / "var" / "tsunagi.db").read().all(
        "SELECT h.note FROM order_history h JOIN orders o ON o.id = h.order_id WHERE o.order_no = ?", o.order_no)
    assert any(n.startswith("要確認を解除: remark, gift (操作: ") for (n,) in history), history


def test_a_shop_without_a_review_table_ships_remarks_and_large_totals_as_before(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(8, Item("item-a", "商品A", 1, 60000), note="よろしく")
    site.orders_csv([o])
    assert site.status(o) == "ready"


def test_a_far_delivery_date_waits_in_waiting_date_and_moves_to_ready_n_days_before(tmp_path, capsys, later):
    site = reviewing(tmp_path, capsys, date_beyond_days=7)
    o = order(9, requested_date=today() + timedelta(days=20))
    site.orders_csv([o])
    assert site.view(o)["status"] == "waiting_date"
    assert site.export() == []
    later(timedelta(days=12))
    assert site.cli("ship", "ready") == 0
    assert site.status(o) == "waiting_date"
    later(timedelta(days=1))
    assert site.cli("ship", "ready") == 0
    assert site.status(o) == "ready"


def test_a_near_delivery_date_goes_straight_to_ready(tmp_path, capsys):
    site = reviewing(tmp_path, capsys, date_beyond_days=7)
    o = order(10, requested_date=today() + timedelta(days=7))
    site.orders_csv([o])
    assert site.status(o) == "ready"


def test_a_review_hold_comes_before_payment_and_a_release_then_waits_for_the_money(tmp_path, capsys):
    site = reviewing(tmp_path, capsys, remark=True)
    o = order(11, payment="銀行振込", note="請求書を同封してください")
    site.orders_csv([o])
    assert site.status(o) == "hold"
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    assert site.cli("ship", "ready") == 0
    assert site.status(o) == "payment"


def test_a_paid_order_with_a_far_date_waits_in_waiting_date(tmp_path, capsys):
    site = reviewing(tmp_path, capsys, date_beyond_days=7)
    o = order(12, payment="銀行振込", requested_date=today() + timedelta(days=20))
    site.orders_csv([o])
    assert site.status(o) == "payment"
    assert site.cli("payment", "confirm", "rakuten", o.order_no) == 0
    assert site.status(o) == "waiting_date"


def test_the_daemon_moves_a_waiting_order_to_ready_when_its_day_comes(tmp_path, capsys, later):
    site = reviewing(tmp_path, capsys, date_beyond_days=7)
    o = order(13, requested_date=today() + timedelta(days=20))
    site.orders_csv([o])
    assert site.status(o) == "waiting_date"
    later(timedelta(days=13))
    running = Running(site.config_path)
    try:
        wait_for(lambda: site.status(o) == "ready")
    finally:
        running.stop()
    assert len(site.export()) == 1


def test_orders_lists_waiting_orders_by_their_label(tmp_path, capsys):
    site = reviewing(tmp_path, capsys, date_beyond_days=7)
    far, near = order(14, requested_date=today() + timedelta(days=20)), order(15)
    site.orders_csv([far, near])
    capsys.readouterr()
    assert site.cli("orders", "--status", "印刷日待ち") == 0
    out = capsys.readouterr().out
    assert far.order_no in out and near.order_no not in out and "印刷日待ち" in out
