"""Order mails of each cart parse the same whatever the charset, transfer encoding, HTML or forward."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail
from tsunagi.parsers.errors import NotAnOrder, ParseError
from tsunagi.common.clock import JST
from tsunagi.parsers.ordermail import parse_order_mail, spec_for

ORDER_NOS = {"rakuten": "402853-20260612-0220534167", "yahoo": "sample-store-10000123", "ec-cube": "1001"}
SHAPES = [
    dict(charset="utf-8", cte="base64"),
    dict(charset="utf-8", cte="quoted-printable"),
    dict(charset="iso-2022-jp", cte="7bit"),
    dict(charset="shift_jis", cte="base64"),
    dict(charset="cp932", cte="quoted-printable", html="alternative"),
    dict(charset="utf-8", cte="base64", html="only"),
    dict(charset="iso-2022-jp", cte="7bit", forward="attached"),
    dict(charset="utf-8", cte="quoted-printable", forward="inline"),
    dict(charset="shift_jis", cte="base64", forward="inline"),
]


def sample(cart: str) -> SampleOrder:
    return SampleOrder(ORDER_NOS[cart], [
        Item("item-a", "商品Ａ ①㈱髙", 1, 1280, ("サイズ:M",)), Item("item-b", "商品B", 2, 2000)],
        buyer=Person(email="taro@example.jp"), requested_date=date(2026, 6, 15) if cart != "ec-cube" else None,
        requested_time="午前中" if cart != "ec-cube" else "", cod_fee=330, payment="代金引換")


def parse(cart: str, raw: bytes, mail_from: str = "cart@example.jp"):
    return parse_order_mail(raw, "shop1", [spec_for(cart)], mail_from)


@pytest.mark.parametrize("cart", sorted(ORDER_NOS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_every_cart_parses_in_every_shape(cart, shape):
    rec = parse(cart, order_mail(cart, sample(cart), "shop@orders.example.jp", **shape))
    assert rec.order_no == ORDER_NOS[cart]
    assert [(l.channel_sku, l.qty, l.unit_price) for l in rec.lines] == [("item-a", 1, 1280), ("item-b", 2, 2000)]
    assert rec.lines[0].name.startswith("商品Ａ ①㈱髙")  # free text keeps its own characters, NEC/IBM kanji too
    assert (rec.shipping_fee, rec.cod_fee, rec.total) == (500, 330, 6110)
    assert rec.ship_to.postal_code == "530-0001" and rec.ship_to.prefecture == "大阪府"
    assert rec.ship_to.address == "大阪市北区梅田1-1-1" and rec.ship_to.phone == "06-1234-5678"
    assert rec.buyer.name.replace(" ", "") == "山田太郎"
    assert rec.payment_method == "代金引換"
    assert rec.ordered_at.tzinfo is not None and rec.ordered_at.utcoffset().total_seconds() == 9 * 3600


def test_rakuten_fields_in_full():
    rec = parse("rakuten", order_mail("rakuten", sample("rakuten"), "shop@x.jp"), "order@rakuten.co.jp")
    assert rec.ordered_at == datetime(2026, 6, 12, 8, 55, 46, tzinfo=JST)
    assert rec.requested_date == date(2026, 6, 15) and rec.requested_time == "午前中"
    assert rec.delivery_method == "宅配便"
    assert rec.lines[0].options == ("サイズ:M",)
    assert rec.buyer.postal_code == "100-0001" and rec.buyer.prefecture == "東京都"


@pytest.mark.parametrize("order_no", ["123456-20260905-01234567", "402853-20260612-0220534167"])
def test_rakuten_takes_8_and_10_digit_serials_and_lenticular_labels(order_no):
    o = sample("rakuten")
    o.order_no = order_no
    rec = parse("rakuten", order_mail("rakuten", o, "shop@x.jp", label="【】"))
    assert rec.order_no == order_no and len(rec.lines) == 2


def test_full_width_digits_and_yen_signs_are_normalised():
    o = sample("rakuten")
    raw = order_mail("rakuten", o, "shop@x.jp")
    text = raw.decode("ascii")
    import base64
    head, _, body = text.partition("\r\n\r\n")
    decoded = base64.b64decode(body).decode("utf-8")
    wide = decoded.replace("価格 2,000(円) x 2(個)", "価格 ２，０００（円） x ２（個）").replace(
        "合計 6,110(円)", "合計 ６，１１０（円）")
    assert wide != decoded
    raw2 = (head + "\r\n\r\n").encode() + base64.encodebytes(wide.encode("utf-8"))
    rec = parse("rakuten", raw2)
    assert rec.lines[1].unit_price == 2000 and rec.lines[1].qty == 2 and rec.total == 6110


def test_eccube_takes_the_order_date_from_the_date_header():
    rec = parse("ec-cube", order_mail("ec-cube", sample("ec-cube"), "shop@x.jp"))
    assert rec.ordered_at == datetime(2026, 6, 12, 8, 55, 50, tzinfo=JST)
    assert rec.buyer.email == "taro@example.jp"


def test_a_total_that_does_not_add_up_is_refused_with_the_figures():
    o = sample("yahoo")
    o.total_override = 9999
    with pytest.raises(ParseError) as err:
        parse("yahoo", order_mail("yahoo", o, "shop@x.jp"))
    assert err.value.field == "total" and "9999" in err.value.message and "6110" in err.value.message


def test_a_mail_of_another_cart_is_not_an_order_for_this_shop():
    with pytest.raises(NotAnOrder, match="no order spec"):
        parse("rakuten", order_mail("yahoo", sample("yahoo"), "shop@x.jp"))


def test_a_rakuten_subject_from_a_foreign_sender_is_not_an_order():
    raw = order_mail("rakuten", sample("rakuten"), "shop@x.jp").replace(b"order@rakuten.co.jp", b"phish@evil.example")
    with pytest.raises(NotAnOrder):
        parse("rakuten", raw)


@pytest.mark.parametrize("mail_from,headers,why", [
    ("", {}, "bounce"),
    ("MAILER-DAEMON@mx.example.jp", {}, "bounce"),
    ("cart@example.jp", {"Auto-Submitted": "auto-replied"}, "auto-reply"),
    ("cart@example.jp", {"X-Auto-Response-Suppress": "All"}, "auto-reply"),
    ("cart@example.jp", {"X-Autoreply": "yes"}, "auto-reply"),
])
def test_bounces_and_auto_replies_are_not_orders(mail_from, headers, why):
    raw = order_mail("rakuten", sample("rakuten"), "shop@x.jp", extra_headers=headers)
    with pytest.raises(NotAnOrder, match=why):
        parse("rakuten", raw, mail_from)


def test_a_vacation_notice_by_subject_is_not_an_order():
    from tsunagi.demo.mails import build_mail
    raw = build_mail("休暇中です", "自動応答: 不在のお知らせ", "a@b.jp", "shop@x.jp")
    with pytest.raises(NotAnOrder, match="auto-reply"):
        parse("rakuten", raw)


def test_control_characters_in_fields_never_survive():
    o = sample("rakuten")
    o.ship_to = Person("山田\x00花子\x1b", "530-0001", "大阪府大阪市北区\x07梅田1-1-1", "06-1234-5678", "")
    rec = parse("rakuten", order_mail("rakuten", o, "shop@x.jp"))
    assert all(ord(ch) >= 0x20 for ch in rec.ship_to.name + rec.ship_to.address)
