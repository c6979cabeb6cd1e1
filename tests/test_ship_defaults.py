"""Defaults that need no setting: the carts' common time-slot and delivery names reach the carrier's codes
with no mapping configured; a shop's own mapping wins; a window the carrier lacks holds the order."""
from __future__ import annotations

import pytest

from tests.support.configs import shop
from tests.support.sites import ShipSite, carrier, order


def b2_rows(site: ShipSite) -> list[list[str]]:
    files = site.export()
    return [r.split(",") for r in files[0].read_bytes().decode("cp932").split("\r\n")[1:] if r] if files else []


def without(site: ShipSite, table: str) -> None:
    """The Rakuten shop's shipping.<table> mapping emptied: only the defaults remain."""
    site.edit(lambda data: shop(data, "rakuten")["shipping"].update({table: {}}))


@pytest.mark.parametrize("spelling, code", [
    ("午前中", "0812"), ("午前中(8時～12時)", "0812"), ("08:00～12:00", "0812"),
    ("14-16時", "1416"), ("14:00-16:00", "1416"), ("１４時～１６時", "1416"), ("14時〜16時", "1416"),
    ("16時～18時", "1618"), ("16:00~18:00", "1618"), ("18時～20時", "1820"), ("18時ー20時", "1820"),
    ("19-21", "1921"), ("19時～21時", "1921"), ("１９：００－２１：００", "1921"), ("19時から21時まで", "1921"),
    ("指定なし", ""),
])
def test_a_common_time_slot_spelling_gets_the_b2_code_with_no_time_mapping(spelling, code, tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    without(site, "time")
    site.orders_csv([order(1, requested_time=spelling)])
    assert b2_rows(site)[0][6] == code


def test_the_shops_time_mapping_wins_over_the_default(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda data: shop(data, "rakuten")["shipping"].update({"time": {"14時～16時": "16-18"}}))
    site.orders_csv([order(1, requested_time="14時～16時")])
    assert b2_rows(site)[0][6] == "1618"


@pytest.mark.parametrize("spelling, window", [("12時～14時", "12-14"), ("20時～21時", "20-21")])
def test_a_window_the_carrier_does_not_offer_holds_the_order_naming_it(spelling, window, tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)                 # ヤマト: no 12-14 and no 20-21 since 2017
    without(site, "time")
    o = order(1, requested_time=spelling)
    site.orders_csv([o])
    v = site.view(o)
    assert v["status"] == "hold" and f"配達時間帯「{spelling}」({window}) を指定できません" in v["hold_reason"]
    assert site.export() == []


def test_the_same_window_reaches_a_carrier_that_offers_it(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout="sagawa-ehiden2")
    without(site, "time")
    site.orders_csv([order(1, requested_time="12時～14時")])
    header, row = site.export()[0].read_bytes().decode("cp932").split("\r\n")[:2]
    assert row.split(",")[header.split(",").index("配達指定時間帯")] == "12"


def test_a_time_name_that_is_no_window_holds_as_unmapped(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    without(site, "time")
    o = order(1, requested_time="夕方ごろ")
    site.orders_csv([o])
    assert "配達時間帯「夕方ごろ」の紐づけがありません" in site.view(o)["hold_reason"]


@pytest.mark.parametrize("name, kind", [("宅配便", "0"), ("ネコポス", "7"), ("メール便", "7"),
                                        ("宅急便コンパクト", "8"), ("小型宅配便（ヤマト運輸）", "7")])
def test_a_common_delivery_name_maps_to_the_one_service_offered_with_no_delivery_mapping(name, kind, tmp_path,
                                                                                        capsys):
    site = ShipSite(tmp_path, capsys)
    without(site, "delivery")
    site.orders_csv([order(1, delivery=name)])
    assert b2_rows(site)[0][1] == kind                # 送り状種類


def test_the_shops_delivery_mapping_wins_over_the_default(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda data: shop(data, "rakuten")["shipping"].update({"delivery": {"メール便": "宅急便コンパクト"}}))
    site.orders_csv([order(1, delivery="メール便")])
    assert b2_rows(site)[0][1] == "8"


def test_a_generic_delivery_name_two_carriers_could_take_stays_unmapped(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    without(site, "delivery")
    site.edit(lambda data: data["carrier"].append(carrier("sagawa-ehiden2", False) | {"name": "sagawa"}))
    o = order(1)                                      # 宅配便: 宅急便 or 飛脚宅配便
    site.orders_csv([o])
    v = site.view(o)
    assert v["status"] == "hold" and "配送方法「宅配便」の紐づけがありません" in v["hold_reason"]
