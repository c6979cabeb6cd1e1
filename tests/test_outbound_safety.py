"""No value shifts a column of an outbound file: every shipped layout, written by the real commands, is read
back with the csv module; what a format cannot carry holds its order naming the field. Text that starts
like a formula is neutralised in files people open and holds its order in files carrier software reads.
Free text keeps its own characters; half-width katakana in names and addresses becomes full-width."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.support.configs import RAKUTEN_TO, own_layout, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.sites import SERVICE, ShipSite, mod7, order
from tsunagi.demo.mails import Item, Person, order_mail
from tsunagi.oms.store import Store
from tsunagi.outbound.layouts import available_layouts, load_layout

QUOTING = ("yamato-b2", "sagawa-ehiden3")                                   # labels that take quoted values
UNQUOTED = ("sagawa-ehiden2", "japanpost-yupurir", "japanpost-clickpost")  # labels that take none
NAME = 'Smith, John "JJ"'
ADDRESS = "大阪府北区梅田1-1,A棟"            # fits every carrier's first address line
ITEM = 'マグ, "白"'


def read_back(path: Path, kind: str, name: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a written file, read with the csv module in the layout's encoding; each row checked
    to have as many columns as the header (or as the layout, when it writes no header)."""
    layout = load_layout(kind, name)
    text = path.read_bytes().decode(layout.encoding)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter))[len(layout.preamble):]
    header, body = (rows[0], rows[1:]) if layout.header else ([c.header for c in layout.columns], rows)
    assert len(header) == len(layout.columns)
    assert body and all(len(row) == len(header) for row in body), [len(r) for r in body]
    return header, body


def column(header: list[str], row: list[str], name: str) -> str:
    return row[header.index(name)]


def label_columns(layout: str) -> tuple[str, str, str]:
    """The headers of the recipient's name, first address line and first item name in this layout."""
    cols = {c.field: c.header for c in reversed(load_layout("label", layout).columns) if c.field}
    return cols["name"], cols["address1"], cols["item1"]


def hostile_order(n: int = 1, name: str = NAME, address: str = ADDRESS, **kw):
    return order(n, Item("item-x", ITEM, 1, 1000), ship_to=Person(name, "530-0001", address, "06-1234-5678", ""), **kw)


def product(site: ShipSite, sku: str, name: str, stock: int = 10) -> None:
    """A product of that name (labels print the catalog's name), imported and counted as the operator does."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["sku", "name"], [sku, name]])
    (site.folder / "more-products.csv").write_text(out.getvalue(), encoding="utf-8")
    (site.folder / "more-counts.csv").write_text(f"sku,location,lot,qty\n{sku},本店倉庫,1,{stock}\n", encoding="utf-8")
    assert site.cli("products", "import", str(site.folder / "more-products.csv")) == 0
    assert site.cli("stock", "import", str(site.folder / "more-counts.csv")) == 0


def hostile_site(tmp_path, capsys, layout: str, **kw) -> ShipSite:
    site = ShipSite(tmp_path, capsys, layout, **kw)
    product(site, "item-x", ITEM)
    return site


def edited_order(tmp_path, capsys, layout: str = "yamato-b2", **fields: str):
    """A site with one ready order whose fields an operator set (order-set), as every value can arrive."""
    site = ShipSite(tmp_path, capsys, layout)
    o = order(1)
    site.orders_csv([o])
    for key, value in fields.items():
        assert site.cli("order-set", "rakuten", o.order_no, f"ship_to.{key}={value}") == 0
    return site, o


def test_every_shipped_layout_is_covered_here():
    assert set(available_layouts("label")) == set(QUOTING + UNQUOTED) == set(SERVICE)
    assert set(available_layouts("confirm")) == set(CONFIRMS)
    assert set(available_layouts("stock")) == set(STOCKS)
    assert set(available_layouts("wms")) == {"wms-instruction", "wms-cancel"}


# --- carrier labels ------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", QUOTING)
def test_a_label_quotes_commas_and_quotes_and_every_value_round_trips(layout, tmp_path, capsys):
    site = hostile_site(tmp_path, capsys, layout)
    site.orders_csv([hostile_order(1), order(2)])
    files = site.export()
    header, rows = read_back(files[0], "label", layout)
    name_col, address_col, item_col = label_columns(layout)
    assert [column(header, r, name_col) for r in rows] == [NAME, "山田 花子"]
    assert column(header, rows[0], address_col) == ADDRESS
    assert column(header, rows[0], item_col) == ITEM


def test_a_comma_in_a_b2_address_leaves_the_cod_amount_in_its_column(tmp_path, capsys):
    site = hostile_site(tmp_path, capsys, "yamato-b2")
    site.orders_csv([hostile_order(1, payment="代金引換", cod_fee=330)])
    header, (row,) = read_back(site.export()[0], "label", "yamato-b2")
    assert len(row) == 95
    assert column(header, row, "ｺﾚｸﾄ代金引換額（税込)") == "1830" and column(header, row, "記事") == "402853-20260612-0000000001"


@pytest.mark.parametrize("layout", UNQUOTED)
def test_a_label_format_without_quoting_holds_the_order_naming_each_field(layout, tmp_path, capsys):
    site = hostile_site(tmp_path, capsys, layout)
    held, fine = hostile_order(1), order(2)
    site.orders_csv([held, fine])
    header, rows = read_back(site.export()[0], "label", layout)
    assert len(rows) == 1 and column(header, rows[0], label_columns(layout)[0]) == "山田 花子"
    view = site.view(held)
    assert view["status"] == "hold" and view["hold_kind"] == "label_chars"
    assert all(f"{field}に区切り文字" in view["hold_reason"] for field in ("お届け先名", "お届け先住所", "品名"))


@pytest.mark.parametrize("layout", QUOTING + UNQUOTED)
@pytest.mark.parametrize("value", ["山田\r\n花子", "山田\n花子", "山田\r花子"])
def test_a_line_break_in_a_name_holds_the_label_naming_the_field(layout, value, tmp_path, capsys):
    site, o = edited_order(tmp_path, capsys, layout, name=value)
    assert site.export() == []
    view = site.view(o)
    assert view["status"] == "hold" and "お届け先名に" in view["hold_reason"]


@pytest.mark.parametrize("layout", QUOTING + UNQUOTED)
def test_a_tab_in_an_address_of_a_comma_separated_label_round_trips(layout, tmp_path, capsys):
    site, o = edited_order(tmp_path, capsys, layout, address="北区梅田1-1\tA棟")
    header, (row,) = read_back(site.export()[0], "label", layout)
    assert column(header, row, label_columns(layout)[1]) == "大阪府北区梅田1-1\tA棟"


@pytest.mark.parametrize("layout", QUOTING + UNQUOTED)
@pytest.mark.parametrize("value", ['=HYPERLINK("http://x.example/","開く")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
                                   "-1+1", "\t=1+1", "\r=1+1"])
def test_text_starting_like_a_formula_holds_a_label_naming_the_field(layout, value, tmp_path, capsys):
    site, o = edited_order(tmp_path, capsys, layout, name=value)
    assert site.export() == []
    view = site.view(o)
    assert view["status"] == "hold" and "お届け先名が数式のように" in view["hold_reason"]


def test_an_item_name_starting_like_a_formula_holds_the_label_naming_it(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    product(site, "item-x", "=1+2")
    o = order(1, Item("item-x", "=1+2", 1, 1000))
    site.orders_csv([o])
    assert site.export() == []
    assert "品名が数式のように「=」で始まります" in site.view(o)["hold_reason"]


def test_a_phone_or_postcode_starting_with_a_hyphen_is_no_formula(tmp_path, capsys):
    site, o = edited_order(tmp_path, capsys, phone="-06-1234-5678")
    header, (row,) = read_back(site.export()[0], "label", "yamato-b2")
    assert column(header, row, "お届け先電話番号") == "-06-1234-5678"


def test_a_corrected_name_releases_a_label_held_for_a_formula(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1)
    site.orders_csv([o])
    site.cli("order-set", "rakuten", o.order_no, "ship_to.name==HYPERLINK(1)")
    assert site.export() == []
    assert site.cli("order-set", "rakuten", o.order_no, "ship_to.name=山田 花子") == 0
    assert site.cli("ship", "ready") == 0
    header, (row,) = read_back(site.export()[0], "label", "yamato-b2")
    assert column(header, row, "お届け先名") == "山田 花子"


# --- shipment confirmations ------------------------------------------------------------------------------

ODD_NO = '402853-20260612-"0000000001",A'     # an order number with a comma and a quote
CONFIRMS = {"shopify-fulfillment": "Order Name", "amazon-ship-confirm": "order-id",
            "rakuten-shipping": "注文番号", "yahoo-shipping": "OrderId"}
CARRIED = ("shopify-fulfillment",)


def shipped(site: ShipSite, orders) -> None:
    site.orders_csv(orders)
    site.export()
    rows = [f"T{n:08d},0,0,{mod7(f'1234567890{n}')},2026/06/13" for n in range(1, len(orders) + 1)]
    assert site.results(rows) == 0
    site.cli("ship", "confirm")
    site.deliver()


@pytest.mark.parametrize("layout", sorted(CONFIRMS))
def test_a_confirmation_carries_an_odd_order_number_or_leaves_it_out_unclosed(layout, tmp_path, capsys):
    site = ShipSite(tmp_path, capsys, confirm=layout)
    odd, plain = order(1), order(2)
    odd.order_no = ODD_NO
    shipped(site, [odd, plain])
    (path,) = site.confirmations()
    header, rows = read_back(path, "confirm", layout)
    numbers = [column(header, r, CONFIRMS[layout]) for r in rows]
    if layout in CARRIED:
        assert numbers == [ODD_NO, plain.order_no] and site.status(odd) == "closed"
    else:
        assert numbers == [plain.order_no] and site.status(odd) == "shipped"
        assert any(ODD_NO in subject and f"{CONFIRMS[layout]}に区切り文字" in detail for subject, detail in alerts(tmp_path))
    assert site.status(plain) == "closed"


def alerts(folder: Path) -> list[tuple[str, str]]:
    """The operator alerts waiting for the next digest."""
    return Store(folder / "var" / "tsunagi.db").read().all("SELECT subject, detail FROM alerts")


# --- stock feeds ---------------------------------------------------------------------------------------

STOCKS = {"rakuten-normal-item": "商品管理番号（商品URL）", "yahoo-quantity": "code", "shopify-inventory": "Handle",
          "amazon-price-quantity": "sku"}


def feed_site(tmp_path: Path, layout: str, channel_sku: str, name: str) -> list[Path]:
    """A Rakuten shop whose stock feed is in this layout, and one product with this channel SKU and name."""
    data = {"shop": [{"id": "rakuten", "cart": "rakuten", "order_mail_to": [RAKUTEN_TO],
                      "stock_feed": {"layout": layout, "location": "Tokyo, 本店"}}]}
    path = write_config(tmp_path, **data)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([["sku", "name", "components", "channel_sku", "shop"], ["item-a", name, "", channel_sku, "rakuten"],
                      ["item-b", "商品B", "", "", ""]])
    seed(path, products=out.getvalue(), counts="sku,location,lot,qty\nitem-a,本店倉庫,1,7\nitem-b,本店倉庫,1,5\n")
    daemon = Running(path)          # the daemon writes the first feed as it starts
    try:
        return wait_for(lambda: sorted((daemon.spool.dir("outbox") / "rakuten" / "ready").glob("*")))
    finally:
        daemon.stop()


@pytest.mark.parametrize("layout", sorted(STOCKS))
def test_a_stock_feed_quotes_a_channel_sku_with_a_comma_or_leaves_it_out(layout, tmp_path):
    files = feed_site(tmp_path, layout, 'mug,"L"', 'マグ, "白"')
    header, rows = read_back(files[-1], "stock", layout)
    by_code = {column(header, r, STOCKS[layout]): r for r in rows}
    if layout == "amazon-price-quantity":       # tab-separated, unquoted: a quote cannot be carried
        assert sorted(by_code) == ["item-b"]
        assert [s for s, _ in alerts(tmp_path)] == ['rakuten の在庫ファイルに mug,"L" を書けません']
    else:
        assert sorted(by_code) == ["item-b", 'mug,"L"']
    if layout == "shopify-inventory":
        mug = by_code['mug,"L"']
        assert column(header, mug, "Title") == 'マグ, "白"' and column(header, mug, "Location") == "Tokyo, 本店"


def test_a_stock_feed_read_by_software_blanks_a_product_name_starting_like_a_formula(tmp_path):
    files = feed_site(tmp_path, "shopify-inventory", "mug", "=HYPERLINK(1)")
    header, rows = read_back(files[-1], "stock", "shopify-inventory")
    assert sorted((column(header, r, "SKU"), column(header, r, "Title")) for r in rows) == [("item-b", "商品B"), ("mug", "")]


# --- warehouse files (opened by people) -----------------------------------------------------------------

WMS_PRODUCTS = "sku,name,components,channel_sku,shop,tags\nitem-a,商品A,,,,\nitem-c,\"@SUM(1), 箱\",,,,wms\n"
WMS = {"name": "logi", "location": "外部倉庫", "statuses": ["ready"], "tag": "wms", "packaging_tags": []}


def wms_site(tmp_path, capsys) -> ShipSite:
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda config: config.update(wms=[dict(WMS)]))
    (tmp_path / "wms-products.csv").write_text(WMS_PRODUCTS, encoding="utf-8")
    assert site.cli("products", "import", str(tmp_path / "wms-products.csv")) == 0
    return site


def wms_files(site: ShipSite, part: str) -> list[Path]:
    site.cli("wms", "send", "logi")
    return sorted((site.spool.dir("outbox") / "logi" / "ready").glob(f"*{part}*"))


def test_a_warehouse_instruction_carries_quotes_and_line_breaks_and_neutralises_formulas(tmp_path, capsys):
    site = wms_site(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 1, 100))
    site.orders_csv([o])
    assert site.cli("order-set", "rakuten", o.order_no, 'ship_to.name==HYPERLINK("x")') == 0
    assert site.cli("order-set", "rakuten", o.order_no, 'ship_to.address=北区梅田1-1,\r\n"A棟"') == 0
    (path,) = wms_files(site, "instructions")
    header, (row,) = read_back(path, "wms", "wms-instruction")
    assert column(header, row, "お届け先名") == "'=HYPERLINK(\"x\")"
    assert column(header, row, "お届け先住所") == '大阪府北区梅田1-1,\r\n"A棟"'
    assert column(header, row, "商品名") == "'@SUM(1), 箱"
    assert column(header, row, "お届け先電話番号") == "06-1234-5678"
    assert site.status(o) == "ready"


def test_a_warehouse_cancel_carries_an_order_number_with_a_comma_and_a_quote(tmp_path, capsys):
    site = wms_site(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 1, 100))
    o.order_no = ODD_NO
    site.orders_csv([o])
    wms_files(site, "instructions")
    site.orders_csv([o], "cancel.csv", status="キャンセル確定")
    (path,) = wms_files(site, "cancel")
    header, rows = read_back(path, "wms", "wms-cancel")
    assert rows == [["W00000001", ODD_NO, "キャンセル"]]


def test_a_shops_own_unquoted_warehouse_layout_holds_the_order_naming_the_field(tmp_path, capsys):
    own_layout(tmp_path, "wms", "my-wms", {
        "title": "自社倉庫 出荷指示", "encoding": "cp932", "newline": "\r\n", "quote": "never", "opened_by": "software",
        "multiline": False, "columns": [["出荷指示番号", "key"], ["注文番号", "order_no"], ["お届け先名", "name"],
                                        ["お届け先住所", "address"], ["商品コード", "sku"], ["数量", "qty"]]})
    site = ShipSite(tmp_path, capsys, csv_settings={"layout_dir": "layouts"})
    site.edit(lambda config: config.update(wms=[dict(WMS, layout="my-wms")]))
    (tmp_path / "wms-products.csv").write_text("sku,name,components,channel_sku,shop,tags\nitem-c,箱,,,,wms\n",
                                                encoding="utf-8")
    assert site.cli("products", "import", str(tmp_path / "wms-products.csv")) == 0
    held = order(1, Item("item-c", "C", 1, 100), ship_to=Person(NAME, "530-0001", ADDRESS, "06-1234-5678", ""))
    fine = order(2, Item("item-c", "C", 1, 100))
    site.orders_csv([held, fine])
    (path,) = wms_files(site, "instructions")
    rows = [r.split(",") for r in path.read_bytes().decode("cp932").split("\r\n")[1:] if r]
    assert [(r[0], r[1], r[2], len(r)) for r in rows] == [("W00000002", fine.order_no, "山田 花子", 6)]
    view = site.view(held)
    assert view["status"] == "hold" and view["hold_kind"] == "label_chars"
    assert "お届け先名に区切り文字" in view["hold_reason"] and "お届け先住所に区切り文字" in view["hold_reason"]


# --- text as its sources wrote it --------------------------------------------------------------------------

def stored_order(db: Path, order_no: str) -> dict:
    return json.loads(Store(db).read().value("SELECT data FROM orders WHERE order_no = ?", order_no))


def test_a_mailed_address_keeps_its_full_width_comma_and_half_width_katakana_becomes_full_width(running):
    o = order(1, Item("item-a", "マグＡ，白", 1, 1000),
              ship_to=Person("ﾔﾏﾀﾞ ﾊﾅｺ", "５３０－０００１", "大阪府大阪市北区梅田１－１，ｶﾞｰﾃﾞﾝﾊﾟﾚｽ１０１",
                             "０６－１２３４－５６７８", ""))
    running.send(order_mail("rakuten", o, RAKUTEN_TO))
    running.wait_idle()
    data = stored_order(running.cfg.db_path, o.order_no)
    assert data["ship_to"]["name"] == "ヤマダ ハナコ"
    assert data["ship_to"]["address"] == "大阪市北区梅田１－１，ガーデンパレス１０１"
    assert (data["ship_to"]["postal_code"], data["ship_to"]["phone"]) == ("530-0001", "06-1234-5678")
    lines = Store(running.cfg.db_path).read().all("SELECT name FROM order_lines")
    assert [n for (n,) in lines] == ["マグＡ，白"]


def test_half_width_katakana_in_a_csv_name_and_address_becomes_full_width(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(1, Item("item-a", "ｺｰﾋｰ", 1, 1000),
              ship_to=Person("ﾊﾟｸ ｼﾞｭﾝ", "530-0001", "大阪府大阪市北区梅田1-1 ｶﾞｰﾃﾞﾝ101", "06-1234-5678", ""))
    site.orders_csv([o])
    data = stored_order(tmp_path / "var" / "tsunagi.db", o.order_no)
    assert (data["ship_to"]["name"], data["ship_to"]["address"]) == ("パク ジュン", "大阪市北区梅田1-1 ガーデン101")
    lines = Store(tmp_path / "var" / "tsunagi.db").read().all("SELECT name FROM order_lines")
    assert [n for (n,) in lines] == ["ｺｰﾋｰ"]      # an item name is no name or address: as written
