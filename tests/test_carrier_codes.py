"""The carrier-code table: an order shipped by a carrier service is confirmed to its channel with the
channel's carrier name, code and ship method, from the table where the confirmation layout has none."""
from __future__ import annotations

from tests.support.sites import ShipSite, mod7, order

POST_RESULT = "お客様管理番号,追跡番号,出荷日"


def confirmed_row(site: ShipSite, o, results: list[str], delimiter: str) -> list[str]:
    site.orders_csv([o])
    assert site.export()
    assert site.results(results) == 0
    site.cli("ship", "confirm")
    lines = site.confirmations()[0].read_bytes().decode("cp932").split("\r\n")
    return next(line for line in lines if line.startswith(o.order_no)).split(delimiter)


def test_amazon_confirmation_of_a_sagawa_parcel_carries_sagawas_code_name_and_method(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout="sagawa-ehiden2", confirm="amazon-ship-confirm")
    row = confirmed_row(site, order(1), ["お問合せ送り状No,出荷日時,お客様管理ナンバー",
                                         "512547514334,2026/06/13,T00000001"], "\t")
    assert row[4:9] == ["Sagawa Express", "佐川急便", "512547514334", "飛脚宅配便", ""]


def test_amazon_confirmation_of_a_service_the_layout_does_not_list_takes_the_tables_carrier(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout="japanpost-yupurir", confirm="amazon-ship-confirm")
    row = confirmed_row(site, order(1, delivery="ゆうメール"),     # (ゆうメール maps by default to the service)
                        [POST_RESULT, "T00000001,EJ123456785JP,2026/06/13"], "\t")
    assert row[4:8] == ["Japan Post", "日本郵便", "EJ123456785JP", "ゆうメール"]


def test_rakuten_confirmation_gets_its_carrier_code_from_the_tables_carrier_name(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout="japanpost-yupurir")
    row = confirmed_row(site, order(1, delivery="ゆうメール"), [POST_RESULT, "T00000001,EJ123456785JP,2026/06/13"],
                        ",")
    assert row[3:5] == ["EJ123456785JP", "1003"]


def test_a_yamato_parcel_on_amazon_still_reads_yamato_transport(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, confirm="amazon-ship-confirm")
    row = confirmed_row(site, order(1, delivery="ネコポス"), [f"T00000001,0,0,{mod7('12345678901')},2026/06/13"],
                        "\t")
    assert row[4:9] == ["Yamato Transport", "ヤマト運輸", mod7("12345678901"), "ネコポス", ""]
