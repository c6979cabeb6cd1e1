"""Every shipped order layout reads its cart's file, in the encoding and date style the cart writes."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, SampleOrder
from tsunagi.parsers import csvlayout
from tsunagi.parsers.csvfile import parse_file
from tsunagi.parsers.errors import ParseError
from tsunagi.common.clock import JST

LAYOUTS = ["rakuten-rms", "yahoo-order", "amazon-unshipped", "shopify-orders", "makeshop", "futureshop",
           "ec-cube", "nextengine-generic"]


def parse(data: bytes, layout: str, tmp_path):
    dec, chunks = parse_file(io.BytesIO(data), csvlayout.load(layout), "shop", tmp_path / "scratch")
    chunks = list(chunks)
    return dec, [o for c in chunks for o in c.orders], [p for c in chunks for p in c.problems]


def sample_orders():
    return [SampleOrder("402853-20260612-0220534167", [Item("item-a", "商品Ａ①", 2, 1280), Item("item-b", "髙品B", 1, 500)],
                        ordered_at=datetime(2026, 6, 12, 8, 5, 46, tzinfo=JST), requested_date=date(2026, 6, 15)),
            SampleOrder("402853-20260612-0220534168", [Item("item-c", "商品C", 3, 100)])]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_reads_orders_lines_and_addresses_from_its_carts_file(layout, tmp_path):
    data = order_csv(layout, sample_orders())
    dec, orders, problems = parse(data, layout, tmp_path)
    assert problems == []
    assert [rec.order_no for rec, _ in orders] == ["402853-20260612-0220534167", "402853-20260612-0220534168"]
    first, rows = orders[0]
    assert rows == [2, 3]
    assert first.ordered_at == datetime(2026, 6, 12, 8, 5, 46 if layout != "yahoo-order" else 0, tzinfo=JST)
    assert [(x.channel_sku, x.qty) for x in first.lines] == [("item-a", 2), ("item-b", 1)]
    assert first.lines[0].name == "商品Ａ①" and first.lines[1].name == "髙品B"
    assert first.ship_to.postal_code == "530-0001" and first.ship_to.prefecture == "大阪府"
    assert first.ship_to.address == "大阪市北区梅田1-1-1" and first.ship_to.name == "山田 花子"
    assert first.source == "csv" and first.channel_status == ""
    if layout != "amazon-unshipped":     # the unshipped report carries no prices
        assert first.total == 3560 and first.lines[0].unit_price == 1280


def test_amazon_times_in_gmt_become_jst_and_the_file_is_tab_separated(tmp_path):
    data = order_csv("amazon-unshipped", sample_orders())
    assert b"\t" in data.split(b"\n")[0] and b"2026-06-11T23:05:46+00:00" in data
    _, orders, _ = parse(data, "amazon-unshipped", tmp_path)
    assert orders[0][0].ordered_at.isoformat() == "2026-06-12T08:05:46+09:00"


def test_shopify_order_fields_come_from_the_first_row_of_an_order(tmp_path):
    data = order_csv("shopify-orders", sample_orders())
    second_row = data.decode("utf-8-sig").split("\r\n")[2]
    assert second_row.startswith("402853-20260612-0220534167,,")
    _, orders, _ = parse(data, "shopify-orders", tmp_path)
    assert orders[0][0].buyer.email == "taro@example.jp" and orders[0][0].total == 3560


def test_encoding_auto_reads_utf8_with_bom_cp932_and_euc_jp(tmp_path):
    for encoding in ("utf-8-sig", "utf-8", "cp932", "euc_jp"):
        orders = [SampleOrder("A-1", [Item("item-a", "和菓子詰め合わせ", 1, 100)], buyer=Person(name="佐藤 花子"))]
        data = order_csv("nextengine-generic", orders, encoding=encoding)
        dec, parsed, problems = parse(data, "nextengine-generic", tmp_path)
        assert problems == [] and parsed[0][0].lines[0].name == "和菓子詰め合わせ", encoding
        assert dec.encoding == {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}.get(encoding, encoding)


def test_values_are_normalised_full_width_digits_split_phones_commas_and_yen(tmp_path):
    text = ("店舗伝票番号,受注日,受注名,受注郵便番号,受注電話番号,受注住所1,商品コード,商品名,商品価格,受注数量,合計金額,日付指定\r\n"
            "ＮＥ－１,2024/4/1 9:23,佐藤 一郎,１２３４５６７,９０１２３４５６７８,東京都新宿区1-1,ｉｔｅｍ－ａ,商品,\"1,280円\",２,\"2,560円\",指定なし\r\n"
            "NE-2,2024/04/02 10:00:00,鈴木,600001,+81 90-1111-2222,北海道札幌市,item-b,商品,500,1,500,2024/4/5\r\n")
    _, orders, problems = parse(text.encode("cp932"), "nextengine-generic", tmp_path)
    assert problems == []
    a, b = orders[0][0], orders[1][0]
    assert a.order_no == "NE-1" and a.lines[0].channel_sku == "item-a" and a.lines[0].qty == 2
    assert a.lines[0].unit_price == 1280 and a.total == 2560 and a.requested_date is None
    assert a.ordered_at == datetime(2024, 4, 1, 9, 23, tzinfo=JST)
    assert a.buyer.postal_code == "123-4567" and a.buyer.phone == "09012345678"
    assert a.buyer.prefecture == "東京都" and a.buyer.address == "新宿区1-1"
    assert b.buyer.postal_code == "060-0001"      # Excel dropped the leading zero
    assert b.buyer.phone == "090-1111-2222" and b.requested_date == date(2024, 4, 5)


def test_rows_with_errors_are_refused_whole_order_with_row_numbers(tmp_path):
    text = ("店舗伝票番号,受注日,商品コード,商品名,商品価格,受注数量\r\n"
            "A,2024/13/45 10:00,item-a,x,100,1\r\n"
            "B,2024/04/01,item-a,x,100,-2\r\n"
            "B,2024/04/01,item-b,x,100,1\r\n"
            "C,2024/04/01,item-a,x,100,1\r\n"
            ",2024/04/01,item-a,x,100,1\r\n")
    _, orders, problems = parse(text.encode("cp932"), "nextengine-generic", tmp_path)
    assert [o.order_no for o, _ in orders] == ["C"]
    by_row = {p.row: p.message for p in problems}
    assert "注文日時" in by_row[2] and "2024/13/45" in by_row[2]
    assert "0以下" in by_row[3]
    assert "他の行に誤り" in by_row[4]
    assert "注文番号が空" in by_row[6]


@pytest.mark.parametrize("text,column", [
    ("受注日,商品コード,受注数量\r\n2024/4/1,a,1\r\n", "店舗伝票番号"),
    ("店舗伝票番号,受注日,商品コード\r\nA,2024/4/1,a\r\n", "受注数量"),
])
def test_a_missing_required_column_is_named(text, column, tmp_path):
    with pytest.raises(ParseError) as err:
        parse(text.encode("cp932"), "nextengine-generic", tmp_path)
    assert err.value.kind == "missing_column" and err.value.field == column and column in err.value.message


def test_a_file_in_the_wrong_encoding_is_refused_with_the_byte_offset(tmp_path):
    layout = csvlayout.parse_layout({**_generic(), "encoding": "utf-8"}, "strict", "test")
    data = "店舗伝票番号,受注日,商品コード,受注数量\r\nA,2024/4/1,あ,1\r\n".encode("cp932")
    with pytest.raises(ParseError) as err:
        parse_file(io.BytesIO(data), layout, "s", tmp_path / "x")
    assert err.value.kind == "encoding" and "byte 0" in err.value.message


def test_an_unclosed_quote_is_refused_before_anything_is_read(tmp_path):
    data = '店舗伝票番号,受注日,商品コード,受注数量\r\nA,2024/4/1,"item-a,1\r\nB,2024/4/1,b,1\r\n'.encode("cp932")
    with pytest.raises(ParseError, match="never closed"):
        parse(data, "nextengine-generic", tmp_path)


def test_an_order_cut_by_a_chunk_boundary_is_read_whole(tmp_path, monkeypatch):
    from tsunagi.parsers import csvread
    monkeypatch.setattr(csvread, "BLOCK", 300)
    monkeypatch.setattr(csvread, "SAMPLE", 300)
    orders = [SampleOrder(f"O-{i}", [Item(f"item-{j}", "名前\n改行あり", 1, 10) for j in range(3)]) for i in range(40)]
    _, parsed, problems = parse(order_csv("rakuten-rms", orders), "rakuten-rms", tmp_path)
    assert problems == [] and len(parsed) == 40
    assert all(len(rec.lines) == 3 for rec, _ in parsed)
    assert parsed[-1][1] == [119, 120, 121]


def test_a_per_order_layout_reads_numbered_item_columns(tmp_path):
    layout = csvlayout.parse_layout({
        "encoding": "auto", "rows": "per_order", "max_items": 3,
        "fields": {"order_no": "伝票番号", "ordered_at": "注文日",
                   "line": {"sku": "商品コード{n}", "qty": "数量{n}", "unit_price": "単価{n}"}}}, "custom", "test")
    text = ("伝票番号,注文日,商品コード1,数量1,単価1,商品コード2,数量2,単価2,商品コード3,数量3,単価3\r\n"
            "X1,2024/4/1,a,1,100,b,2,200,,,\r\nX2,2024/4/1,c,1,50,,,,,,\r\n")
    dec, chunks = parse_file(io.BytesIO(text.encode("utf-8")), layout, "s", tmp_path / "x")
    orders = [o for c in chunks for o in c.orders]
    assert [(x.channel_sku, x.qty) for x in orders[0][0].lines] == [("a", 1), ("b", 2)]
    assert orders[0][0].total == 500 and [x.channel_sku for x in orders[1][0].lines] == ["c"]


def test_a_layout_mistake_names_the_file_and_key():
    with pytest.raises(csvlayout.LayoutError, match=r"fields\.line\.colour: unknown field"):
        csvlayout.parse_layout({**_generic(), "fields": {**_generic()["fields"], "line": {
            "sku": "a", "qty": "b", "colour": "c"}}}, "bad", "my.toml")
    with pytest.raises(csvlayout.LayoutError, match=r"my.toml: fields.line.qty: required"):
        csvlayout.parse_layout({"fields": {"order_no": "a", "ordered_at": "b", "line": {"sku": "c"}}}, "bad", "my.toml")
    with pytest.raises(csvlayout.LayoutError, match="encoding"):
        csvlayout.parse_layout({**_generic(), "encoding": "latin-1"}, "bad", "my.toml")


def _generic() -> dict:
    return {"fields": {"order_no": "店舗伝票番号", "ordered_at": "受注日", "line": {"sku": "商品コード", "qty": "受注数量"}}}
