"""出荷 over real HTTP: ready orders per carrier, a label export downloaded, the carrier's result uploaded,
the picking list and the 納品書 (適格請求書: registration number, amounts per tax rate) of an export."""
from __future__ import annotations

import html

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.console import Console
from tests.support.daemon import wait_for
from tests.support.forms import upload
from tests.support.sites import mod7
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import status

REGISTRATION = "T1234567890123"


def rakuten(n: int, *items: Item) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{n:010d}", list(items) or [Item("item-a", "商品A", 1, 1000)])


def arrive(console, o: SampleOrder) -> int:
    console.running.send(order_mail("rakuten", o, RAKUTEN_TO))
    return wait_for(lambda: console.running.store.read().value("SELECT id FROM orders WHERE order_no = ?",
                                                               o.order_no))


def status_of(console, order_id: int) -> str:
    return console.running.store.read().value("SELECT status FROM orders WHERE id = ?", order_id)


def exported(console, staff, *orders: SampleOrder) -> str:
    """The orders arrived and exported from the page; the label file's name."""
    for o in orders:
        arrive(console, o)
    after = staff.act("/shipping", "/shipping/carrier/export")
    assert "carrier: 送り状を書き出しました: carrier/" in after.text, after.text[:2000]
    return after.text.split('<tr data-file="')[1].split('"')[0]


@pytest.fixture
def invoicing(config_path):
    """The console's site with the Rakuten shop's registration number, and item-b a food (軽減税率)."""
    def change(c):
        next(s for s in c["shop"] if s["id"] == "rakuten")["invoice_number"] = REGISTRATION
    edit_config(config_path, change)
    (config_path.parent / "food.csv").write_text("sku,name,components,channel_sku,shop,tags\n"
                                                 "item-b,お茶,,,,軽減税率\n", encoding="utf-8")
    c = Console(config_path)
    assert c.running.cli("products", "import", str(config_path.parent / "food.csv")) == 0
    yield c
    c.stop()


def test_ready_orders_are_listed_under_their_carrier(console):
    order_id = arrive(console, rakuten(1))
    assert console.running.cli("ship", "ready") == 0
    page = console.client("guest").get("/shipping")
    carrier = page.text.split('id="carrier-carrier"')[1].split("</div>")[0]
    assert f'<a href="/orders/{order_id}">{rakuten(1).order_no}</a>' in carrier and "1 件" in carrier


def test_an_export_writes_the_label_file_and_it_downloads_as_written(console):
    staff = console.client("staff")
    name = exported(console, staff, rakuten(2))
    path = console.running.spool.dir("outbox") / "carrier" / "ready" / name
    answer = staff.get(f"/shipping/labels/{name}")
    assert answer.status == 200 and int(answer.headers["content-length"]) == path.stat().st_size
    assert rakuten(2).order_no in answer.text
    row = staff.get("/shipping").text.split(f'<tr data-order="{rakuten(2).order_no}">')[1].split("</tr>")[0]
    assert "書き出し済 (結果待ち)" in row              # still 印刷待ち until the carrier's result comes


def test_an_uploaded_result_file_ships_the_order(console):
    staff = console.client("staff")
    order_id = arrive(console, rakuten(3))
    exported(console, staff)
    result = f"T{order_id:08d},0,0,{mod7('12345678903')},2026/06/13\r\n".encode("cp932")
    after = upload(staff, "/shipping", "/shipping/results", {"carrier": "carrier"}, {"file": ("b2.csv", result)})
    assert "b2.csv: carrier の出荷結果として取り込みます" in after.text
    wait_for(lambda: status_of(console, order_id) in status.SHIPPED_OR_CLOSED, 30)    # closed once confirmed


def test_the_picking_list_totals_an_export_and_lists_each_order(console):
    staff = console.client("staff")
    name = exported(console, staff, rakuten(4, Item("item-a", "商品A", 2, 1000)),
                    rakuten(5, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 3, 500)))
    page = staff.get(f"/shipping/picking?file={name}")
    total = page.text.split('id="picking-total"')[1].split("</section>")[0]
    assert '<tr data-sku="item-a"><td>item-a</td><td>商品A</td><td class="num">3</td>' in total
    assert '<tr data-sku="item-b"><td>item-b</td><td>商品B</td><td class="num">3</td>' in total
    per_order = page.text.split('id="picking-orders"')[1]
    assert rakuten(4).order_no in per_order and rakuten(5).order_no in per_order


def test_a_delivery_note_carries_the_registration_number_and_amounts_per_tax_rate(invoicing):
    staff = invoicing.client("staff")
    o = rakuten(6, Item("item-a", "商品A", 2, 1100), Item("item-b", "お茶", 1, 1080))
    name = exported(invoicing, staff, o)
    page = staff.get(f"/shipping/notes?file={name}")
    note = page.text.split(f'data-order="{o.order_no}"')[1].split("</section>")[0]
    assert f"登録番号: {REGISTRATION}" in note
    # 10 %: 2 × 1,100 + 送料 500 = 2,700 (tax 245); 8 %: 1,080 (tax 80)
    assert '<tr data-rate="10"><td>10%</td><td class="num">2,700円</td><td class="num">245円</td></tr>' in note
    assert '<tr data-rate="8"><td>8% (軽減税率)</td><td class="num">1,080円</td><td class="num">80円</td></tr>' in note
    assert "合計金額 3,780円 (税込)" in note


def test_one_link_prints_every_delivery_note_of_an_export(console):
    staff = console.client("staff")
    name = exported(console, staff, rakuten(7), rakuten(8))
    page = staff.get("/shipping")
    link = html.unescape(page.text.split('id="print-1"')[0].rsplit('href="', 1)[1].split('"')[0])
    assert link == f"/shipping/notes?file={name}&print=1"
    notes = staff.get(link)
    assert notes.text.count('<section class="sheet note"') == 2 and '<script src="/static/print.js"' in notes.text


def test_a_viewer_can_neither_export_nor_upload_results(console):
    arrive(console, rakuten(9))
    guest = console.client("guest")
    token = guest.csrf("/shipping")
    assert guest.post("/shipping/carrier/export", {"csrf": token}).status == 403
    assert guest.post("/shipping/results", {"csrf": token, "carrier": "carrier"}).status == 403
    assert not list((console.running.spool.dir("outbox") / "carrier").glob("ready/*"))
