"""Tracking numbers in carrier and warehouse results: a blank or malformed number ships nothing (the row is
refused naming its value), each carrier's numbers are checked against its own format, and a service that
issues no number (定形外) ships without one."""
from __future__ import annotations

import pytest

from tests.support.sites import ShipSite, mod7, order


def problems(site: ShipSite) -> list[str]:
    """The messages of the refused rows of the result files read so far (filed whole, or done in part)."""
    reasons = [*site.spool.dir("failed").glob("*.reason.json"), *site.spool.dir("done").rglob("*.reason.json")]
    return [p["message"] for path in sorted(reasons, key=lambda p: p.name)
            for p in site.spool.find(path.name[:-12])[1]["problems"]]


def shipped_with(site: ShipSite, row: str, header: str = "") -> str:
    """Ship order 1 by its carrier's result row (a fresh site each time); the order's status after."""
    site.orders_csv([order(1)])
    site.export()
    site.results(([header] if header else []) + [row])
    return site.status(order(1))


def test_a_blank_tracking_number_ships_nothing_and_its_row_is_refused(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    assert shipped_with(site, "T00000001,0,0,,2026/06/13") == "ready"
    assert problems(site) == ["行 1: お客様管理番号 T00000001: 伝票番号が空です "
                              "(追跡番号のない便なら [[carrier]] untracked_services に加えてください)"]


# (label layout, result header, a number of that carrier, one that is not) as FORMATS.md describes them
CARRIERS = {
    "yamato-b2": ("", "444413758703", "444413758704"),                      # 12 digits, 7DR
    "sagawa-ehiden2": ("お問合せ送り状No,出荷日時,お客様管理ナンバー", "512547514334", "5125475143"),
    "japanpost-yupurir": ("お客様管理番号,追跡番号,出荷日", "EJ123456785JP", "EJ123456784JP"),   # S10
}


def _row(layout: str, number: str) -> str:
    if layout == "sagawa-ehiden2":
        return f"{number},2026/06/13,T00000001"
    if layout == "yamato-b2":
        return f"T00000001,0,0,{number},2026/06/13"
    return f"T00000001,{number},2026/06/13"


@pytest.mark.parametrize("layout", list(CARRIERS))
def test_a_number_outside_the_carriers_own_format_is_refused_naming_it(layout, tmp_path, capsys):
    header, _, wrong = CARRIERS[layout]
    site = ShipSite(tmp_path, capsys, layout=layout)
    assert shipped_with(site, _row(layout, wrong), header) == "ready"
    [message] = problems(site)
    assert message.startswith(f"行 {1 if layout == 'yamato-b2' else 2}: 伝票番号 {wrong} が正しくありません (")


@pytest.mark.parametrize("layout", list(CARRIERS))
def test_a_number_of_the_carriers_own_format_ships_the_order(layout, tmp_path, capsys):
    header, right, _ = CARRIERS[layout]
    site = ShipSite(tmp_path, capsys, layout=layout)
    assert shipped_with(site, _row(layout, right), header) == "shipped"
    assert site.view(order(1))["shipments"][0]["tracking"] == right


def test_japan_post_takes_its_eleven_digit_registered_numbers_but_not_a_twelve_digit_one_failing_7dr(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout="japanpost-yupurir")
    assert shipped_with(site, "T00000001,405548424887,2026/06/13", "お客様管理番号,追跡番号,出荷日") == "ready"
    assert site.results(["お客様管理番号,追跡番号,出荷日", "T00000001,12345678901,2026/06/13"], "r2.csv") == 0
    assert site.status(order(1)) == "shipped"


def untracked_site(folder, capsys) -> ShipSite:
    """Japan Post with 定形外 for the channel's 定形外郵便, a service listed as issuing no number."""
    site = ShipSite(folder, capsys, layout="japanpost-yupurir")

    def change(config):
        config["shop"][0]["shipping"]["delivery"]["定形外郵便"] = "定形外"
        config["carrier"][0]["untracked_services"] = ["定形外"]
    site.edit(change)
    return site


def test_an_untracked_service_ships_without_a_number_and_a_tracked_one_still_needs_one(tmp_path, capsys):
    site = untracked_site(tmp_path, capsys)
    letter, parcel = order(1, delivery="定形外郵便"), order(2)
    site.orders_csv([letter, parcel])
    site.export()
    assert site.results(["お客様管理番号,追跡番号,出荷日", "T00000001,,2026/06/13", "T00000002,,2026/06/13"]) == 1
    assert (site.status(letter), site.status(parcel)) == ("shipped", "ready")
    assert problems(site) == ["行 3: お客様管理番号 T00000002: 伝票番号が空です "
                              "(追跡番号のない便なら [[carrier]] untracked_services に加えてください)"]


def test_an_untracked_service_the_carrier_does_not_offer_is_a_config_mistake(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda config: config["carrier"][0].update(untracked_services=["定形外"]))
    capsys.readouterr()
    assert site.cli("check") == 2
    err = capsys.readouterr().err
    assert "carrier[0].untracked_services[0]: '定形外': yamato-b2 offers no such service" in err


def test_a_warehouse_shipped_row_without_a_number_is_refused_too(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda config: config.update(wms=[{"name": "logi", "location": "外部倉庫", "tag": "wms"}]))
    (tmp_path / "products.csv").write_text("sku,name,components,channel_sku,shop,tags\nitem-a,商品A,,,,wms\n",
                                           encoding="utf-8")
    assert site.cli("products", "import", str(tmp_path / "products.csv")) == 0
    site.orders_csv([order(1)])
    site.cli("wms", "send", "logi")
    (tmp_path / "wms.csv").write_bytes("出荷指示番号,状態,追跡番号,出荷日\r\nW00000001,出荷済,,2026/06/13\r\n"
                                       "W00000001,出荷済,4444-1375-8704,2026/06/13\r\n".encode("cp932"))
    assert site.cli("import", str(tmp_path / "wms.csv"), "--carrier", "logi") == 1
    assert site.status(order(1)) == "ready"
    assert problems(site)[0].startswith("行 2: お客様管理番号 W00000001: 伝票番号が空です")
    assert problems(site)[1].startswith("行 3: 伝票番号 444413758704 が正しくありません (12桁 (チェックディジット 7DR)")
    (tmp_path / "wms2.csv").write_bytes(f"出荷指示番号,状態,追跡番号,出荷日\r\nW00000001,出荷済,{mod7('52345678901')},"
                                        "2026/06/13\r\n".encode("cp932"))
    assert site.cli("import", str(tmp_path / "wms2.csv"), "--carrier", "logi") == 0
    assert site.status(order(1)) == "shipped"
