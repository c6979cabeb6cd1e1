"""Several recipients in one order (楽天's 複数送付先): each line goes to one of the order's ship-to addresses,
each recipient is a parcel of its own (its own label row and tracking number), and the order ships when all do."""
from __future__ import annotations

import pytest

from tests.support.opsite import OpSite
from tests.support.sinks import Sink
from tests.support.sites import MailSite, mod7, order
from tests.support.configs import RAKUTEN_TO
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, order_mail

AUNT = Person("佐藤 梅子", "060-0001", "北海道札幌市中央区北一条西1-1", "011-111-2222", "")
FRIEND = Person("鈴木 一郎", "150-0001", "東京都渋谷区神宮前1-1-1", "03-3333-4444", "")


@pytest.fixture
def site(tmp_path, capsys):
    return OpSite(tmp_path, capsys)


def gifts(n: int = 1):
    """Item A to the order's own recipient, item B to the aunt, another item A to the friend."""
    return order(n, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500, ship_to=AUNT),
                 Item("item-a", "商品A", 1, 1000, ship_to=FRIEND))


def row_of(rows: list[list[str]], name: str) -> list[str]:
    [row] = [r for r in rows if name in ",".join(r)]
    return row


def test_rows_of_one_order_naming_several_recipients_make_one_order_with_a_label_row_for_each(site):
    o = gifts()
    site.orders_csv([o])
    view = site.view(o)
    assert view["ship_to"]["name"] == "山田 花子"
    assert [a["name"] for a in view["more_ship_to"]] == ["佐藤 梅子", "鈴木 一郎"]
    assert [line["recipient"] for line in view["lines"]] == [1, 2, 3] and view["status"] == "ready"
    rows = site.label_rows()
    assert len(rows) == 3 and len({r[0] for r in rows}) == 3         # a parcel, and a key, each
    aunt = ",".join(row_of(rows, "佐藤 梅子"))
    assert "商品B" in aunt and "商品A" not in aunt and "060-0001" in aunt and "札幌市中央区" in aunt
    assert "商品A" in ",".join(row_of(rows, "鈴木 一郎")) and "商品B" not in ",".join(row_of(rows, "山田 花子"))


def test_the_order_ships_when_every_recipients_parcel_has_and_each_keeps_its_own_tracking_number(site):
    o = gifts()
    site.orders_csv([o])
    keys = sorted(r[0] for r in site.label_rows())
    numbers = [mod7(f"{n}2345678901") for n in (1, 2, 3)]
    site.results([f"{keys[0]},0,0,{numbers[0]},2026/06/13", f"{keys[1]},0,0,{numbers[1]},2026/06/13"], "r1.csv")
    assert site.status(o) == "ready"                  # the friend's parcel has not left yet
    site.cli("ship", "confirm")
    assert site.confirmations() == []
    site.results([f"{keys[2]},0,0,{numbers[2]},2026/06/14"], "r2.csv")
    view = site.view(o)
    assert view["status"] == "shipped" and site.stock("item-a") == (8, 0) and site.stock("item-b") == (8, 0)
    assert [(s["recipient"], s["tracking"]) for s in view["shipments"]] == list(zip([1, 2, 3], numbers))
    site.cli("ship", "confirm")
    [confirm] = site.confirmations()
    assert numbers[0] in confirm.read_bytes().decode("cp932")


def test_an_operator_adds_a_recipient_and_the_written_label_is_voided_for_a_parcel_each(site):
    o = order(1, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 1, 500))
    site.orders_csv([o])
    [first] = site.label_rows()
    assert site.cli("order-ship-to", "rakuten", o.order_no, "add", "name=佐藤 梅子", "postal_code=0600001",
                    "address=北海道札幌市中央区北一条西1-1", "phone=011-111-2222", "--lines", "2") == 0
    view = site.view(o)
    assert view["more_ship_to"][0]["prefecture"] == "北海道" and view["more_ship_to"][0]["postal_code"] == "060-0001"
    assert [line["recipient"] for line in view["lines"]] == [1, 2]
    assert view["shipments"] == [] and "送付先2を追加" in view["history"][-1]["note"]
    assert any(first[0] in h["note"] and "無効化" in h["note"] for h in view["history"])
    rows = site.label_rows()
    assert len(rows) == 2 and first[0] not in {r[0] for r in rows}
    assert "商品B" in ",".join(row_of(rows, "佐藤 梅子")) and "商品B" not in ",".join(row_of(rows, "山田 花子"))


def test_lines_are_assigned_and_a_recipient_corrected_or_removed_by_the_operator(site):
    o = gifts()
    site.orders_csv([o])
    assert site.cli("order-ship-to", "rakuten", o.order_no, "assign", "3=2") == 0
    assert [line["recipient"] for line in site.view(o)["lines"]] == [1, 2, 2]
    assert site.cli("order-ship-to", "rakuten", o.order_no, "set", "2", "name=佐藤 松子") == 0
    assert site.view(o)["more_ship_to"][0]["name"] == "佐藤 松子"
    assert site.cli("order-ship-to", "rakuten", o.order_no, "remove", "2") == 0
    view = site.view(o)
    assert [a["name"] for a in view["more_ship_to"]] == ["鈴木 一郎"] and [line["recipient"] for line in view["lines"]] == [1, 1, 1]
    assert len(site.label_rows()) == 1                   # recipient 3 has no line left: one parcel
    site.capsys.readouterr()
    assert site.cli("order-ship-to", "rakuten", o.order_no) == 0
    shown = site.capsys.readouterr().out
    assert "送付先1: 山田 花子" in shown and "送付先2: 鈴木 一郎" in shown
    assert site.cli("order", "rakuten", o.order_no) == 0
    shown = site.capsys.readouterr().out
    assert "送付先2: 鈴木 一郎" in shown and "→ 送付先1" in shown


def test_bad_recipient_changes_are_refused_in_one_line_and_change_nothing(site):
    o = gifts()
    site.orders_csv([o])
    before = site.snapshot(o.order_no)
    assert "no recipient 4" in site.refused("order-ship-to", "rakuten", o.order_no, "assign", "1=4")
    assert "no line 9" in site.refused("order-ship-to", "rakuten", o.order_no, "assign", "9=2")
    assert "needs address" in site.refused("order-ship-to", "rakuten", o.order_no, "add", "name=誰か")
    assert "unknown field" in site.refused("order-ship-to", "rakuten", o.order_no, "add", "nmae=誰か")
    assert "order-set" in site.refused("order-ship-to", "rakuten", o.order_no, "remove", "1")
    assert "already" in site.refused("order-ship-to", "rakuten", o.order_no, "assign", "2=2")
    assert site.snapshot(o.order_no) == before
    keys = sorted(r[0] for r in site.label_rows())
    site.results([f"{k},0,0,{mod7(f'{n}2345678901')},2026/06/13" for n, k in enumerate(keys, 1)])
    assert "shipped" in site.refused("order-ship-to", "rakuten", o.order_no, "assign", "1=2")


def test_a_split_part_ships_to_the_recipient_of_its_lines(site):
    o = gifts()
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    part = site.view_by_no(o.order_no + "-bk-1")
    assert [line["recipient"] for line in part["lines"]] == [2]
    rows = site.label_rows()
    assert len(rows) == 3
    assert "商品B" in ",".join(row_of(rows, "佐藤 梅子")) and "北海道" in ",".join(row_of(rows, "佐藤 梅子"))


def test_the_buyers_shipment_mail_lists_each_recipients_parcel_with_its_tracking_number(tmp_path, capsys):
    sink = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        o = order(1, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500, ship_to=AUNT))
        o.buyer = Person("山田 太郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "taro@example.jp")
        site.ship(o)
        site.send()
        [msg] = [m for m in sink.handler.parsed() if "発送しました" in m["Subject"]]
        text = msg.get_body(preferencelist=("plain",)).get_content()
    finally:
        sink.stop()
    first, second = text.index("【お届け先1】山田 花子"), text.index("【お届け先2】佐藤 梅子")
    assert first < text.index(mod7("12345678901")) < text.index("商品A") < second
    assert second < text.index(mod7("22345678901")) < text.index("商品B × 2") and "北海道札幌市" in text


def test_the_order_csv_after_the_mail_gives_the_lines_their_recipients(site):
    o = gifts()
    mail = site.folder / "order.eml"
    mail.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))        # the mail names one 送付先 for every line
    assert site.cli("ingest", str(mail), "--shop", "rakuten") == 0
    assert [line.get("recipient", 1) for line in site.view(o)["lines"]] == [1, 1, 1] and site.status(o) == "new"
    site.orders_csv([o])
    view = site.view(o)
    assert [line["recipient"] for line in view["lines"]] == [1, 2, 3] and view["status"] == "ready"
    assert any("送付先 3件" in h["note"] for h in view["history"])
    assert len(site.label_rows()) == 3


@pytest.mark.parametrize("layout", ["sagawa-ehiden2", "japanpost-yupurir"])
def test_each_recipient_is_its_own_row_in_the_sagawa_and_japan_post_layouts_too(tmp_path, capsys, layout):
    site = OpSite(tmp_path, capsys, layout=layout)
    o = gifts()
    site.orders_csv([o])
    rows = site.label_rows()
    assert len(rows) == 3
    keys = {r[0] if layout == "japanpost-yupurir" else next(v for v in r if v.startswith("T0")) for r in rows}
    assert len(keys) == 3
    assert "北海道" in ",".join(row_of(rows, "佐藤 梅子")) and "渋谷区" in ",".join(row_of(rows, "鈴木 一郎"))


def test_a_warehouse_order_to_several_recipients_is_held_until_split_by_recipient(site):
    site.with_warehouse()
    o = order(1, Item("item-c", "商品C", 1, 1000), Item("item-c", "商品C", 2, 1000, ship_to=AUNT))
    site.orders_csv([o])
    assert site.wms_files() == []
    view = site.view(o)
    assert view["status"] == "hold" and view["hold_kind"] == "recipients" and "送付先が2件" in view["hold_reason"]
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    assert site.status(o) == "ready" and site.view_by_no(o.order_no + "-bk-1")["status"] == "ready"
    [instructions] = site.wms_files()
    text = (site.spool.dir("outbox") / "logi" / "ready" / instructions).read_bytes().decode("cp932")
    assert "佐藤 梅子" in text and "山田 花子" in text


def test_an_order_to_several_recipients_is_not_absorbed_by_a_merge(site):
    a, b = order(1), gifts(2)
    site.orders_csv([a, b])
    before = site.snapshot(a.order_no), site.snapshot(b.order_no)
    assert "several recipients" in site.refused("order-merge", "rakuten", a.order_no, b.order_no)
    assert (site.snapshot(a.order_no), site.snapshot(b.order_no)) == before


def test_adopting_the_channels_other_version_keeps_whom_each_of_its_lines_goes_to(site):
    site.orders_csv([gifts()])
    more = order(1, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 3, 500, ship_to=AUNT),
                 Item("item-a", "商品A", 1, 1000, ship_to=FRIEND))
    site.orders_csv([more], "changed.csv")
    assert site.status(more) == "hold"
    assert site.cli("order-adopt", "rakuten", more.order_no) == 0
    view = site.view(more)
    assert [(line["qty"], line["recipient"]) for line in view["lines"]] == [(1, 1), (3, 2), (1, 3)]
    assert [a["name"] for a in view["more_ship_to"]] == ["佐藤 梅子", "鈴木 一郎"]


def test_the_buyers_purchase_mail_lists_each_recipient_with_their_lines(tmp_path, capsys):
    sink = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        o = gifts()
        (tmp_path / "orders.csv").write_bytes(order_csv("rakuten-rms", [o]))
        assert site.cli("import", str(tmp_path / "orders.csv"), "--shop", "rakuten") == 0
        site.send()
        [msg] = [m for m in sink.handler.parsed() if "ご注文" in m["Subject"]]
        text = msg.get_body(preferencelist=("plain",)).get_content()
    finally:
        sink.stop()
    assert "■ お届け先（3件）" in text
    aunt = text.index("【お届け先2】佐藤 梅子")
    assert text.index("【お届け先1】山田 花子") < aunt < text.index("商品B × 2") < text.index("【お届け先3】鈴木 一郎")


def test_a_cash_on_delivery_order_to_several_recipients_asks_a_person_then_collects_on_the_first_parcel(site):
    o = order(30, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 1, 500, ship_to=AUNT), payment="代金引換")
    site.orders_csv([o])
    view = site.view(o)
    assert (view["status"], view["hold_kind"]) == ("hold", "review")
    assert "代金引換で送付先が 2 件" in view["hold_reason"] and "送付先1 (山田 花子)" in view["hold_reason"]
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    rows = site.label_rows()
    amount = str(view["total"])           # 代金引換額, with its tax beside it, on the first parcel only
    assert row_of(rows, "山田 花子")[33:35] == [amount, str(view["total"] * 10 // 110)]
    assert row_of(rows, "佐藤 梅子")[33:35] == ["", ""]
