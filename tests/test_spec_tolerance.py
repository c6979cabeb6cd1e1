"""A spec written with labels reads the mail however the cart brackets, spaces, names and prices it."""
from __future__ import annotations

from datetime import date

import pytest
import tomli_w

from tsunagi.demo.mails import Item, Person, SampleOrder, build_mail, order_mail, yahoo_body
from tsunagi.parsers.mailspec import load_spec
from tsunagi.parsers.ordermail import parse_order_mail, spec_for

ORDER = SampleOrder("sample-store-10000123", [Item("item-a", "商品Ａ", 1, 1280, ("サイズ:M",)),
                                              Item("item-b", "商品B", 2, 2000)],
                    buyer=Person(email="taro@example.jp"), requested_date=date(2026, 6, 15), cod_fee=330)

# A spec of one's own in the label forms of docs/SPECS.md.
OWN = {"cart": "own", "match": {"subject": ["ご注文"]},
       "sections": {"buyer": {"start": {"label": "ご注文者"}, "end": "^\\s*$"},
                    "items": {"start": {"label": "ご注文商品"}, "end": {"label": "小計"}}},
       "field": {"order_no": {"label": "注文番号", "required": True}, "shipping_fee": {"label": "送料"},
                 "subtotal": {"label": "小計"}, "total": {"label": "合計金額", "required": True}},
       "address": {"buyer": {"in": "buyer", "name": {"label": "お名前"}, "postal": {"label": "郵便番号"},
                             "address": {"label": "住所"}, "phone": {"label": "電話番号"}}},
       "items": {"in": "items", "sku": {"label": "商品コード"}, "name": {"label": "商品名"},
                 "unit_price": {"label": "単価"}, "qty": {"label": "数量"}}}


def own_spec(tmp_path, **changes):
    data = {**OWN, **changes}
    path = tmp_path / "own.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_spec(path)


def own_mail(head: list[str], items: list[str], totals: list[str], charset="shift_jis", cte="base64") -> bytes:
    text = "\n".join(head + ["", "ご注文商品"] + items + totals) + "\n"
    return build_mail(text, "ご注文ありがとうございます", "shop@cart.example.jp", "orders@example.jp",
                      charset=charset, cte=cte)


HEAD = ["注文番号：A-1001", "", "■ご注文者", "お名前：山田 太郎 様", "郵便番号：〒100-0001",
        "住所：東京都千代田区千代田1-1", "電話番号：03-1234-5678", ""]
ITEMS = ["商品コード：item-a", "商品名：商品Ａ", "単価：1,280円", "数量：1",
         "商品コード：item-b", "商品名：商品B", "単価：2,000円", "数量：2"]
TOTALS = ["小計：5,280円", "送料：500円", "合計金額：5,780円"]


def parse(spec, raw):
    return parse_order_mail(raw, "shop1", [spec], "cart@example.jp")


@pytest.mark.parametrize("line", [
    "合計金額：5,780円", "合計金額: 5780円", "【合計金額】￥5,780", "[合計金額] ¥5,780", "［合計金額］５，７８０円",
    "■合計金額：５,７８０円", "◆合計金額　5,780円", "＜合計金額＞5,780", "合 計 金 額 ： 5,780 円（税込）",
    "お支払い金額：5,780円", "【ご請求金額】5,780円", "合計金額5,780円", "合計金額：\\5,780-",
])
def test_a_label_reads_in_any_bracket_colon_spacing_synonym_and_amount_form(tmp_path, line):
    charset = "shift_jis" if "¥" not in line else "utf-8"      # Shift_JIS writes its yen sign as \\
    rec = parse(own_spec(tmp_path), own_mail(HEAD, ITEMS, TOTALS[:2] + [line], charset=charset))
    assert rec.total == 5780


@pytest.mark.parametrize("label", ["お名前", "氏名", "ご氏名", "【お名前】", "[氏名]"])
def test_name_labels_are_synonyms(tmp_path, label):
    head = [h.replace("お名前：", f"{label}：" if "】" not in label and "]" not in label else label)
            for h in HEAD]
    rec = parse(own_spec(tmp_path), own_mail(head, ITEMS, TOTALS))
    assert rec.buyer.name == "山田 太郎" and rec.buyer.postal_code == "100-0001"
    assert rec.buyer.prefecture == "東京都" and rec.buyer.phone == "03-1234-5678"


def test_a_label_never_matches_a_longer_label(tmp_path):
    """合計 is not 合計金額, 商品合計 nor 合計点数: only a whole label at the start of a line counts."""
    spec = own_spec(tmp_path, field={**OWN["field"], "total": {"label": "合計", "required": True}})
    rec = parse(spec, own_mail(HEAD, ITEMS, ["合計点数：3点", "商品合計：5,280円"] + TOTALS))
    assert rec.total == 5780       # 合計 brings its synonym 合計金額; 合計点数 and 商品合計 are passed over


@pytest.mark.parametrize("rules", [False, True])
@pytest.mark.parametrize("shape", [dict(charset="shift_jis", cte="base64"),
                                   dict(charset="iso-2022-jp", cte="7bit"),
                                   dict(charset="utf-8", cte="quoted-printable")], ids=lambda s: s["charset"])
def test_item_blocks_read_with_or_without_rule_lines(tmp_path, rules, shape):
    items = []
    for n in range(0, len(ITEMS), 4):
        items += (["-" * 30] if rules else []) + ITEMS[n:n + 4]
    rec = parse(own_spec(tmp_path), own_mail(HEAD, items + (["-" * 30] if rules else []), TOTALS, **shape))
    assert [(l.channel_sku, l.name, l.unit_price, l.qty) for l in rec.lines] == [
        ("item-a", "商品Ａ", 1280, 1), ("item-b", "商品B", 2000, 2)]


@pytest.mark.parametrize("price_lines", [
    ["商品名：商品Ａ　1,280円 × 1", "商品名：商品B　￥2,000 x 2個"],           # on the name's line
    ["商品名：商品Ａ", "  1,280円 × 1", "商品名：商品B", "  ￥2,000 ＊ ２"],      # on the next line
], ids=["same-line", "next-line"])
def test_the_price_times_quantity_is_read_on_the_same_line_or_the_next(tmp_path, price_lines):
    spec = own_spec(tmp_path, items={"in": "items", "name": {"label": "商品名"}, "sku": {"label": "商品コード"},
                                     "unit_x_qty": True})
    named = [line for line in price_lines]
    items = ["商品コード：item-a"] + named[:len(named) // 2] + ["商品コード：item-b"] + named[len(named) // 2:]
    rec = parse(spec, own_mail(HEAD, items, TOTALS))
    assert [(l.channel_sku, l.unit_price, l.qty) for l in rec.lines] == [("item-a", 1280, 1), ("item-b", 2000, 2)]


def yahoo_without(text_change) -> bytes:
    body = text_change(yahoo_body(ORDER))
    return build_mail(body, "【Yahoo!ショッピング】注文確認", "Yahoo!ショッピング <store@shopping.yahoo.co.jp>",
                      "orders@example.jp", charset="iso-2022-jp", cte="7bit")


def test_a_yahoo_mail_without_a_rule_line_after_its_item_heading_parses():
    body = yahoo_body(ORDER)
    assert "商品情報\n" + "-" * 60 in body
    rec = parse(spec_for("yahoo"), yahoo_without(lambda b: b.replace("商品情報\n" + "-" * 60 + "\n", "商品情報\n")))
    assert [(l.channel_sku, l.qty, l.unit_price) for l in rec.lines] == [("item-a", 1, 1280), ("item-b", 2, 2000)]
    assert rec.lines[0].options == ("サイズ:M",) and rec.total == 6110


def test_a_yahoo_mail_with_other_brackets_and_synonyms_parses():
    def restyle(b: str) -> str:
        for old, new in (("■ご注文者", "【ご注文者情報】"), ("■お届け先", "【お届け先】"), ("氏名：", "お名前："),
                         ("合計金額：", "【お支払い金額】"), ("商品合計：", "小計："), ("手数料：", "代引手数料：")):
            b = b.replace(old, new)
        return b
    rec = parse(spec_for("yahoo"), yahoo_without(restyle))
    assert rec.buyer.name.replace(" ", "") == "山田太郎" and rec.ship_to.name.replace(" ", "") == "山田花子"
    assert (rec.cod_fee, rec.total) == (330, 6110) and rec.ship_to.postal_code == "530-0001"


def test_a_yahoo_mail_with_bracketed_labels_and_no_rules_between_blocks_parses():
    def restyle(b: str) -> str:
        for old, new in (("氏名：", "【氏名】"), ("郵便番号：", "【郵便番号】"), ("住所：", "【住所】"),
                         ("電話番号：", "【電話番号】"), ("=" * 60 + "\n■お届け先", "■お届け先")):
            b = b.replace(old, new)
        return b
    rec = parse(spec_for("yahoo"), yahoo_without(restyle))
    assert rec.buyer.name.replace(" ", "") == "山田太郎" and rec.buyer.phone == "03-1234-5678"
    assert rec.ship_to.name.replace(" ", "") == "山田花子" and rec.ship_to.address == "大阪市北区梅田1-1-1"


def test_shipped_carts_still_parse_their_own_samples():
    for cart, order_no in (("rakuten", "402853-20260612-0220534167"), ("ec-cube", "1001")):
        order = SampleOrder(order_no, ORDER.items, cod_fee=330)
        rec = parse(spec_for(cart), order_mail(cart, order, "orders@example.jp"))
        assert rec.total == 6110 and len(rec.lines) == 2
