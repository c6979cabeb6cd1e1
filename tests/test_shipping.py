"""Shipping: label files byte for byte, mapping gaps, carrier text, results with tracking numbers, split
and merged parcels, confirmations to channels, closing, and re-confirmation of a changed number."""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from tests.support.configs import own_layout, shop
from tests.support.sites import SERVICE, ShipSite, mod7, order
from tsunagi.app import wiring
from tsunagi.app import config as config_mod
from tsunagi.demo.mails import Item, Person, SampleOrder
from tsunagi.oms.store import Store

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, data: bytes) -> None:
    """Byte for byte. TSUNAGI_WRITE_GOLDEN=1 rewrites the copy after a deliberate layout change
    (then read the diff before committing it)."""
    if os.environ.get("TSUNAGI_WRITE_GOLDEN"):
        (GOLDEN / name).write_bytes(data)
    assert data == (GOLDEN / name).read_bytes()


LONG = Person("佐藤 髙志", "060-0001", "北海道札幌市中央区北一条西二丁目1番地 ファーストタワー23階 ①号室", "011-123-4567", "")


def golden_orders(layout: str) -> list[SampleOrder]:
    if layout == "japanpost-clickpost":
        return [order(1, Item("item-a", "つなぎ マグカップ 白", 2, 1650)), order(2, ship_to=LONG)]
    return [order(1, Item("item-a", "つなぎ マグカップ 白", 2, 1650), Item("item-b", "コースター", 1, 880),
                  requested_date=date(2026, 6, 15), requested_time="午前中"),
            order(2, Item("item-b", "コースター", 1, 880), payment="代金引換", cod_fee=330),
            order(3, ship_to=LONG, requested_time="14:00～16:00")]


@pytest.mark.parametrize("layout", sorted(SERVICE))
def test_label_files_match_their_golden_copies_byte_for_byte(layout, tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, layout)
    site.orders_csv(golden_orders(layout))
    files = site.export()
    assert len(files) == 1
    data = files[0].read_bytes()
    assert_golden(f"{layout}.csv", data)
    body = data.decode("cp932").split("\r\n", 1)[1]
    assert "高志" in body and "髙" not in body and "①" not in body and "(1)号室" in body.replace(",", "")


def test_b2_codes_dates_cod_amount_and_byte_limits(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.orders_csv(golden_orders("yamato-b2"))
    rows = [r.split(",") for r in site.export()[0].read_bytes().decode("cp932").split("\r\n")[1:] if r]
    assert all(len(r) == 95 for r in rows)
    first, cod, long = rows
    assert first[:8] == ["T00000001", "0", "0", "", "2026/06/13", "2026/06/15", "0812", ""]
    assert cod[1] == "2" and cod[33:35] == ["1710", "155"]    # コレクト: total with postage and fee, and its tax
    assert long[6] == "1416"
    assert len(long[11].encode("cp932")) <= 64 and long[12]           # the rest of the address spills over
    assert first[39] == "012345678901" and first[41] == "01" and first[32] == "402853-20260612-0000000001"


def test_an_unmapped_delivery_name_puts_the_order_on_hold_until_it_is_mapped(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(5, delivery="ポスト投函")
    site.orders_csv([o])
    v = site.view(o)
    assert v["status"] == "hold" and "配送方法「ポスト投函」の紐づけがありません" in v["hold_reason"]
    assert site.export() == []
    site.edit(lambda config: shop(config, "rakuten")["shipping"]["delivery"].update({"ポスト投函": "ネコポス"}))
    assert site.cli("ship", "ready") == 0
    assert site.status(o) == "ready"
    assert site.export()[0].read_bytes().decode("cp932").split("\r\n")[1].split(",")[1] == "7"   # ネコポス


def traces(site: ShipSite, o: SampleOrder) -> tuple[int, int, int]:
    """What moving an order writes: its history rows, ledger rows and outbox rows."""
    tx = Store(site.folder / "var" / "tsunagi.db").read()
    order_id = tx.value("SELECT id FROM orders WHERE order_no = ?", o.order_no)
    return (tx.value("SELECT COUNT(*) FROM order_history WHERE order_id = ?", order_id),
            tx.value("SELECT COUNT(*) FROM ledger"), tx.value("SELECT COUNT(*) FROM outbox"))


def test_an_order_held_for_an_unmapped_name_writes_nothing_while_the_mapping_does_not_change(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(5, delivery="ポスト投函")
    site.orders_csv([o])
    assert site.status(o) == "hold"
    before = traces(site, o)
    store = Store(tmp_path / "var" / "tsunagi.db")
    for _ in range(3):
        wiring.ready_orders(config_mod.load(site.config_path), store)
    assert traces(site, o) == before and site.status(o) == "hold"
    site.edit(lambda data: shop(data, "rakuten")["shipping"]["delivery"].update({"ポスト投函": "ネコポス"}))
    wiring.ready_orders(config_mod.load(site.config_path), store)
    assert site.status(o) == "ready"


def test_a_hold_for_another_missing_name_is_reworded_once(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(5, delivery="ポスト投函", payment="ツケ払い")
    site.orders_csv([o])
    site.edit(lambda data: shop(data, "rakuten")["shipping"]["delivery"].update({"ポスト投函": "ネコポス"}))
    assert site.cli("ship", "ready") == 0
    assert "支払方法「ツケ払い」" in site.view(o)["hold_reason"]
    reworded = traces(site, o)
    assert site.cli("ship", "ready") == 0
    assert traces(site, o) == reworded


def test_an_unmapped_time_slot_or_payment_is_named_too(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = order(6, requested_time="20:00～21:00"), order(7, payment="ツケ払い")
    site.orders_csv([a, b])
    assert "配達時間帯「20:00～21:00」" in site.view(a)["hold_reason"]
    assert "支払方法「ツケ払い」" in site.view(b)["hold_reason"]


def test_a_name_no_carrier_can_print_holds_the_order_and_a_correction_releases_it(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(8, ship_to=Person("𪚲田 花子", "530-0001", "大阪府大阪市北区梅田1-1-1", "06-1234-5678", ""))
    site.orders_csv([o], encoding="utf-8")
    assert site.export() == []
    v = site.view(o)
    assert v["status"] == "hold" and "お届け先名の「𪚲」" in v["hold_reason"] and "order-set" in v["hold_reason"]
    assert site.cli("order-set", "rakuten", o.order_no, "ship_to.name=柳田 花子") == 0
    assert site.cli("ship", "ready") == 0
    assert "柳田 花子" in site.export()[0].read_bytes().decode("cp932")


def test_an_order_held_for_text_no_carrier_prints_stays_held_untouched_until_corrected(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(8, ship_to=Person("𪚲田 花子", "530-0001", "大阪府大阪市北区梅田1-1-1", "06-1234-5678", ""))
    site.orders_csv([o], encoding="utf-8")
    assert site.export() == []
    before = traces(site, o)
    assert site.export() == [] and site.cli("ship", "ready") == 0
    assert traces(site, o) == before and site.status(o) == "hold"


def test_an_address_longer_than_the_carriers_fields_is_held_not_cut(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, "sagawa-ehiden2")
    o = order(9, ship_to=Person("山田 花子", "530-0001", "大阪府大阪市北区梅田一丁目一番一号 大阪駅前第一ビル二十三階 株式会社つなぎ物流センター 出荷場宛て", "06-1234-5678", ""))
    site.orders_csv([o])
    assert site.export() == []
    assert "お届け先住所が長すぎます" in site.view(o)["hold_reason"]


def test_round_trip_labels_tracking_shipped_confirmation_closed(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = order(1, Item("item-a", "A", 2, 1000)), order(2, Item("item-b", "B", 1, 500))
    site.orders_csv([a, b])
    site.export()
    t1, t2 = mod7("12345678901"), mod7("22345678901")
    assert site.results([f"T00000001,0,0,{t1[:4]}-{t1[4:8]}-{t1[8:]},2026/06/13", f"T00000002,0,0,{t2},2026/06/14"]) == 0
    assert site.status(a) == site.status(b) == "shipped"
    assert site.view(a)["shipments"][0]["tracking"] == t1
    stock = Store(tmp_path / "var" / "tsunagi.db").read().all("SELECT sku, on_hand, reserved FROM stock WHERE sku IN ('item-a','item-b') ORDER BY sku")
    assert stock == [("item-a", 8, 0), ("item-b", 9, 0)]              # shipping took the units out
    assert site.cli("ship", "confirm") == 0
    [confirm] = site.confirmations()
    assert_golden("rakuten-shipping.csv", confirm.read_bytes())
    assert site.status(a) == site.status(b) == "shipped"        # until the channel has the file
    site.deliver()
    assert site.status(a) == site.status(b) == "closed"


def test_a_wrong_tracking_number_or_unknown_key_is_reported_for_its_row(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.orders_csv([order(1)])
    site.export()
    assert site.results(["T00000001,0,0,123456789012,2026/06/13", "T99999999,0,0," + mod7("12345678901") + ",2026/06/13"]) == 1
    report = next(iter(site.spool.find(p.name[:-12])[1] for p in site.spool.dir("failed").glob("*.reason.json")))
    messages = [p["message"] for p in report["problems"]]
    assert any("行 1: 伝票番号 123456789012 が正しくありません" in m for m in messages)
    assert any("行 2: お客様管理番号 T99999999 の出荷データがありません" in m for m in messages)


def test_an_order_split_over_two_locations_ships_when_both_parcels_have(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 3, 100))       # 1 in 本店倉庫, 2 in 外部倉庫
    site.orders_csv([o])
    rows = site.export()[0].read_bytes().decode("cp932").split("\r\n")[1:3]
    assert [r.split(",")[0] for r in rows] == ["T00000001-1", "T00000001-2"]
    site.results([f"T00000001-1,0,0,{mod7('12345678901')},2026/06/13"], "r1.csv")
    assert site.status(o) == "ready"
    site.results([f"T00000001-2,0,0,{mod7('12345678902')},2026/06/13"], "r2.csv")
    assert site.status(o) == "shipped"
    assert [s["tracking"] for s in site.view(o)["shipments"]] == [mod7("12345678901"), mod7("12345678902")]


def test_orders_to_the_same_recipient_share_one_parcel_when_merging(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, merge=True)
    a, b, c = order(1), order(2, Item("item-b", "B", 1, 500)), order(3, payment="代金引換")
    site.orders_csv([a, b, c])
    rows = [r for r in site.export()[0].read_bytes().decode("cp932").split("\r\n")[1:] if r]
    assert [r.split(",")[0] for r in rows] == ["T00000001", "T00000003"]      # COD parcels are never merged
    site.results([f"T00000001,0,0,{mod7('32345678901')},2026/06/13"])
    assert site.status(a) == site.status(b) == "shipped" and site.status(c) == "ready"


def test_a_changed_tracking_number_sends_a_new_confirmation(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1)
    site.orders_csv([o])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"], "r1.csv")
    site.cli("ship", "confirm")
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"], "r1-again.csv")   # same: nothing new
    site.cli("ship", "confirm")
    assert len(site.confirmations()) == 1
    site.results([f"T00000001,0,0,{mod7('42345678901')},2026/06/13"], "r2.csv")
    site.cli("ship", "confirm")
    files = site.confirmations()
    assert len(files) == 2 and mod7("42345678901") in files[1].read_bytes().decode("cp932")
    site.deliver()
    assert site.status(o) == "closed"


def test_amazon_confirmation_has_its_three_header_rows_and_tabs(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, confirm="amazon-ship-confirm")
    site.orders_csv([order(1)])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    lines = site.confirmations()[0].read_bytes().decode("cp932").split("\r\n")
    assert lines[0].startswith("TemplateType=OrderFulfillment\tVersion=2011.1102\t")
    assert lines[2].split("\t") == ["order-id", "order-item-id", "quantity", "ship-date", "carrier-code",
                                    "carrier-name", "tracking-number", "ship-method", "cod-collection-method"]
    assert lines[3].split("\t") == ["402853-20260612-0000000001", "", "", "2026-06-13", "Yamato Transport",
                                    "ヤマト運輸", mod7("12345678901"), "宅急便", ""]


def test_with_a_push_endpoint_the_order_closes_only_when_the_confirmation_is_sent(tmp_path, capsys, sshd):
    site = ShipSite(tmp_path, capsys)
    remote = tmp_path / "remote-in"
    remote.mkdir()
    endpoint = {"name": "rms", "host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "key_file": str(sshd.user_key),
                "known_hosts": str(sshd.known_hosts(tmp_path / "known_hosts")),
                "push": {"remote_dir": str(remote), "source": "rakuten", "pattern": "*shipconfirm*"}}
    site.edit(lambda config: config.update(sftp=[endpoint]))
    o = order(1)
    site.orders_csv([o])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    assert site.status(o) == "shipped"
    assert site.cli("sftp", "run", "rms") == 0
    assert len(os.listdir(remote)) == 1 and site.status(o) == "closed"


def test_ship_mismatch_lists_shipped_orders_whose_channel_total_changed(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1, Item("item-a", "A", 2, 1000))
    site.orders_csv([o])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"])
    refunded = order(1, Item("item-a", "A", 2, 1000), total_override=1800)
    site.orders_csv([refunded], "later.csv")
    capsys.readouterr()
    assert site.cli("ship", "mismatch", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"shop": "rakuten", "order_no": o.order_no, "status": "shipped", "total": 2500, "channel_total": 1800}]


def test_a_channel_without_a_shipped_layout_gets_its_confirmation_from_a_layout_of_the_shops_own(tmp_path, capsys):
    own_layout(tmp_path, "confirm", "my-cart-ship", {
        "title": "自社カート 発送済み", "encoding": "utf-8", "newline": "\n", "quote": "never", "date_format": "%Y%m%d",
        "columns": [["受注番号", "order_no"], ["伝票番号", "tracking_all"], ["運送会社", "carrier_name"], ["発送日", "ship_date"]],
        "carrier": {"宅急便": {"name": "ヤマト運輸"}}})
    site = ShipSite(tmp_path, capsys, confirm="my-cart-ship", csv_settings={"layout_dir": "layouts"})
    site.orders_csv([order(1)])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    assert site.confirmations()[0].read_text(encoding="utf-8") == (
        f"受注番号,伝票番号,運送会社,発送日\n402853-20260612-0000000001,{mod7('12345678901')},ヤマト運輸,20260613\n")


def _recover(site: ShipSite) -> dict:
    from tsunagi.outbound import csvfile
    with Store(site.folder / "var" / "tsunagi.db").transaction() as tx:
        return csvfile.recover_pending(tx, site.spool.dir("outbox"))


def test_a_crash_after_the_commit_publishes_the_label_file_at_start_up_once(tmp_path, capsys, monkeypatch):
    from tsunagi.outbound import csvfile
    site = ShipSite(tmp_path, capsys)
    site.orders_csv([order(1), order(2)])

    def crash(paths):
        raise SystemExit("killed after the commit, before the file reached ready/")
    monkeypatch.setattr(csvfile, "publish", crash)
    with pytest.raises(SystemExit):
        site.cli("ship", "export", "carrier")
    monkeypatch.undo()
    assert site.export() == []                         # the orders are in a recorded shipment already
    assert _recover(site) == {"published": 1, "removed": 0}
    files = sorted((site.spool.dir("outbox") / "carrier" / "ready").glob("*"))
    assert len(files) == 1 and files[0].read_bytes().decode("cp932").count("\r\nT0000000") == 2
    assert site.export() == files


def test_a_crash_before_the_commit_leaves_no_label_file_and_the_orders_are_exported_again(tmp_path, capsys, monkeypatch):
    from tsunagi.oms import shipping
    site = ShipSite(tmp_path, capsys)
    site.orders_csv([order(1)])

    def crash(tx, ids, name):
        raise SystemExit("killed before the commit")
    monkeypatch.setattr(shipping, "set_file", crash)
    with pytest.raises(SystemExit):
        site.cli("ship", "export", "carrier")
    monkeypatch.undo()
    assert len(list((site.spool.dir("outbox") / "carrier" / "tmp").glob("*"))) == 1
    assert _recover(site) == {"published": 0, "removed": 1}
    files = site.export()
    assert len(files) == 1 and "T00000001" in files[0].read_bytes().decode("cp932")
