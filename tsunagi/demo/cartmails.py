"""Sample order mails of the carts shipped beyond Rakuten, Yahoo and EC-CUBE, each in its cart's charset and encoding.

Each sample is built from what the cart's public material shows (see the header of its spec,
tsunagi/parsers/mail/<cart>.toml); what it does not show is written the way the spec assumes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tsunagi.demo.mails import Person, SampleOrder, build_mail


def _yen(n: int) -> str:
    return f"{n:,}"


@dataclass(frozen=True)
class Style:
    """How a cart writes its labelled order mail."""
    order_label: str = "注文番号"
    mark: str = "【】"                 # the brackets of its headings: "【】", "[]", "■" (one mark before)
    items: str = "labels"             # "labels": 商品コード/商品名/単価/数量 lines; "inline": 名前 (code) then price x qty
    sku_label: str = "商品コード"
    yen: str = "{}円"                  # how an amount is written
    date: str = "%Y/%m/%d %H:%M:%S"
    rule: str = "-" * 40


def _head(style: Style, label: str) -> str:
    return f"{style.mark[0]}{label}{style.mark[1]}" if len(style.mark) == 2 else f"{style.mark}{label}"


def _person(p: Person, with_mail: bool) -> list[str]:
    out = [f"お名前：{p.name} 様", f"郵便番号：〒{p.postal}", f"住所：{p.address}", f"電話番号：{p.phone}"]
    return out + ([f"メールアドレス：{p.email}"] if with_mail and p.email else [])


def _item_lines(o: SampleOrder, style: Style) -> list[str]:
    out: list[str] = []
    for i in o.items:
        if style.items == "inline":
            out += [f"{i.name} ({i.sku})", *i.options, f"{style.yen.format(_yen(i.price))} x {i.qty}", style.rule]
        else:
            out += [f"{style.sku_label}：{i.sku}", f"商品名：{i.name}", *i.options,
                    f"単価：{style.yen.format(_yen(i.price))}", f"数量：{i.qty}", style.rule]
    return out


def labelled_body(o: SampleOrder, style: Style, intro: str) -> str:
    """The shape most Japanese carts share: headed blocks of 'label：value' lines, items, totals."""
    y = style.yen.format
    subtotal = sum(i.qty * i.price for i in o.items)
    lines = [intro, "", style.rule, f"{_head(style, style.order_label)} {o.order_no}",
             f"{_head(style, '注文日時')} {o.ordered_at.strftime(style.date)}", style.rule,
             _head(style, "ご注文者"), *_person(o.buyer, True), "", _head(style, "お届け先"), *_person(o.ship_to, False),
             "", f"{_head(style, 'お支払い方法')} {o.payment}", f"{_head(style, '配送方法')} {o.delivery}",
             f"{_head(style, 'お届け希望日')} {o.requested_date:%Y/%m/%d}" if o.requested_date else
             f"{_head(style, 'お届け希望日')} 指定なし", "", _head(style, "ご注文商品"), style.rule]
    lines += _item_lines(o, style)
    lines += [f"小計：{y(_yen(subtotal))}", f"送料：{y(_yen(o.shipping))}", f"手数料：{y(_yen(o.cod_fee))}",
              f"合計：{y(_yen(o.total))}", style.rule]
    if o.note:
        lines += [_head(style, "備考"), o.note]
    return "\n".join(lines) + "\n"


def qoo10_body(o: SampleOrder) -> str:
    """One item per mail (Qoo10 sends a mail for each item of a cart); the code in half-width parentheses."""
    (i,) = o.items
    cart_no = o.order_no
    return "\n".join([
        "Qoo10をご利用いただきありがとうございます。", "以下の注文が入りました。", "",
        f"カート番号：{cart_no}", f"注文番号：{i.sku.upper()}{cart_no[-4:]}",
        f"注文日：{o.ordered_at:%Y/%m/%d %H:%M:%S}", "",
        f"商品名：{i.name}({i.sku})", *[f"オプション：{opt}" for opt in i.options],
        f"数量：{i.qty}", f"販売価格：{_yen(i.price)}円", f"送料：{_yen(o.shipping)}円",
        f"合計：{_yen(i.qty * i.price + o.shipping)}円", "",
        f"受取人：{o.ship_to.name}", f"お支払い方法：{o.payment}", ""]) + "\n"


def aupay_body(o: SampleOrder) -> str:
    """Each item carries its lot number (ロットNo.), not the shop's item code."""
    subtotal = sum(i.qty * i.price for i in o.items)
    lines = ["au PAY マーケットで以下のご注文がありました。", "", f"■注文番号：{o.order_no}",
             f"■注文日時：{o.ordered_at:%Y/%m/%d %H:%M:%S}", "", "■ご注文者", *_person(o.buyer, True), "",
             "■お届け先", *_person(o.ship_to, False), "", f"■お支払い方法：{o.payment}",
             f"■配送方法：{o.delivery}", "", "■ご注文商品"]
    for i in o.items:
        lines += [f"商品名：{i.name}", f"ロットNo.：{i.sku}", *i.options, f"単価：{_yen(i.price)}円",
                  f"数量：{i.qty}", ""]
    lines += [f"商品合計：{_yen(subtotal)}円", f"送料：{_yen(o.shipping)}円", f"手数料：{_yen(o.cod_fee)}円",
              f"合計金額：{_yen(o.total)}円"]
    return "\n".join(lines) + "\n"


def shopify_body(o: SampleOrder) -> str:
    """The staff order notification (新規注文), as its text template writes it: quantity x title (sku)."""
    subtotal = sum(i.qty * i.price for i in o.items)
    lines = [f"{o.buyer.name}さんが新規注文をしました。", "", f"注文番号: {o.order_no}",
             f"注文日: {o.ordered_at:%Y/%m/%d %H:%M}", f"決済方法: {o.payment}", f"配送方法: {o.delivery}", "",
             "配送先住所:", f"お名前: {o.ship_to.name}", f"郵便番号: {o.ship_to.postal}", f"住所: {o.ship_to.address}",
             f"電話番号: {o.ship_to.phone}", "", "注文概要:"]
    for i in o.items:
        lines += [f"{i.qty}x {i.name} (sku: {i.sku}) ¥{_yen(i.price)}"]
    lines += ["", f"小計: ¥{_yen(subtotal)}", f"配送料: ¥{_yen(o.shipping)}",
              *([f"手数料: ¥{_yen(o.cod_fee)}"] if o.cod_fee else []), f"合計: ¥{_yen(o.total)} JPY"]
    return "\n".join(lines) + "\n"


def amazon_body(o: SampleOrder) -> str:
    """The seller's 'sold, ship now' mail: order id, SKU, quantity; no address and no total."""
    lines = ["出品者様", "", "以下の商品の注文が確定しました。商品を発送してください。", "",
             f"注文番号: {o.order_no}", f"注文日: {o.ordered_at:%Y/%m/%d}", ""]
    for i in o.items:
        lines += [f"商品名: {i.name}", f"SKU: {i.sku}", f"数量: {i.qty}", ""]
    lines += ["配送先住所は、セラーセントラルの注文管理または注文レポートでご確認ください。"]
    return "\n".join(lines) + "\n"


def nextengine_body(o: SampleOrder) -> str:
    """The NextEngine 汎用 order: one 'column name：value' line per field of its generic order CSV."""
    subtotal = sum(i.qty * i.price for i in o.items)
    b, s = o.buyer, o.ship_to
    lines = [f"店舗伝票番号：{o.order_no}", f"受注日：{o.ordered_at:%Y/%m/%d %H:%M:%S}",
             f"受注名：{b.name}", f"受注郵便番号：{b.postal}", f"受注住所1：{b.address}", f"受注電話番号：{b.phone}",
             f"受注メールアドレス：{b.email}", f"発送先名：{s.name}", f"発送郵便番号：{s.postal}",
             f"発送先住所1：{s.address}", f"発送電話番号：{s.phone}", f"支払方法：{o.payment}",
             f"発送方法：{o.delivery}", f"商品計：{subtotal}", f"発送代：{o.shipping}", f"手数料：{o.cod_fee}",
             f"総合計：{o.total}", "明細"]
    for i in o.items:
        lines += [f"商品コード：{i.sku}", f"商品名：{i.name}", f"商品単価：{i.price}", f"受注数：{i.qty}"]
    return "\n".join(lines) + "\n"


def _labelled(style: Style, intro: str) -> Callable[[SampleOrder], str]:
    return lambda o: labelled_body(o, style, intro)


@dataclass(frozen=True)
class Cart:
    render: Callable[[SampleOrder], str]
    subject: str
    sender: str
    charset: str
    cte: str
    order_no: str          # a format string for a sample order number
    html: str = ""


CARTS: dict[str, Cart] = {
    "makeshop": Cart(_labelled(Style(mark="[]"), "ショップに注文が入りました。"),
                     "【注文番号:{no}】ご注文内容のお知らせ", "ショップ <order@makeshop-shop.example.jp>",
                     "iso-2022-jp", "7bit", "P{:018d}"),
    "futureshop": Cart(_labelled(Style(order_label="受注コード", mark="■"), "futureshopより受注のお知らせです。"),
                       "[futureshop] 受注のお知らせ", "ショップ <info@future-shop.example.jp>",
                       "iso-2022-jp", "7bit", "{:d}-0001"),
    "colorme": Cart(_labelled(Style(order_label="売上ID", items="inline"), "ご注文を承りました。"),
                    "[カラーミーショップ] ご注文の確認", "ショップ <shop@shop-pro.example.jp>",
                    "iso-2022-jp", "7bit", "{:d}"),
    "aupay": Cart(aupay_body, "【au PAY マーケット】注文確認メール", "au PAY マーケット <order@wowma.jp>",
                  "iso-2022-jp", "7bit", "{:d}"),
    "qoo10": Cart(qoo10_body, "[Qoo10] 注文情報のお知らせ", "Qoo10 <order@qoo10.jp>", "utf-8", "base64", "{:d}"),
    "shoplist": Cart(_labelled(Style(order_label="受注番号"), "SHOPLISTでご注文がありました。"),
                     "【SHOPLIST】受注のお知らせ", "SHOPLIST <info@shop-list.com>", "utf-8", "base64", "SL{:d}"),
    "superdelivery": Cart(_labelled(Style(order_label="受注番号", mark="■"), "SUPER DELIVERYで受注がありました。"),
                          "【SUPER DELIVERY】受注のお知らせ", "SUPER DELIVERY <info@superdelivery.com>",
                          "iso-2022-jp", "7bit", "{:d}"),
    "netsea": Cart(_labelled(Style(order_label="注文番号", items="inline"), "NETSEAで商品が注文されました。"),
                   "【NETSEA】商品が注文されました", "NETSEA <info@netsea.jp>", "utf-8", "base64", "{:d}"),
    "bcart": Cart(_labelled(Style(order_label="受注ID", mark="[]"), "Bカートに新しい受注がありました。"),
                  "【Bカート】新規受注のお知らせ", "Bカート <noreply@bcart.jp>", "utf-8", "quoted-printable", "{:d}"),
    "shopserve": Cart(_labelled(Style(order_label="受付番号"), "ご注文を受け付けました。"),
                      "【ショップサーブ】ご注文受付のお知らせ", "ショップ <shop@shopserve.example.jp>",
                      "iso-2022-jp", "7bit", "{:d}"),
    "ochanoko": Cart(_labelled(Style(order_label="受注番号", mark="■"), "おちゃのこネットのショップに注文が入りました。"),
                     "[おちゃのこネット] 注文確認", "ショップ <shop@ocnk.example.jp>", "iso-2022-jp", "7bit", "{:d}"),
    "base": Cart(_labelled(Style(mark="[]", items="inline", yen="¥{}"), "商品が購入されました。"),
                 "【BASE】商品が購入されました", "BASE <noreply@thebase.in>", "utf-8", "base64", "{:X}"),
    "stores": Cart(_labelled(Style(order_label="注文番号", items="inline", yen="¥{}"), "新しい注文が入りました。"),
                   "【STORES】注文が入りました", "STORES <hello@stores.jp>", "utf-8", "quoted-printable", "{:d}"),
    "shopify": Cart(shopify_body, "[サンプルストア] 注文 {no} が 山田 太郎 さんから届きました",
                    "サンプルストア <store+1234@shopify.example.jp>", "utf-8", "quoted-printable", "#{:d}"),
    "amazon": Cart(amazon_body, "購入されました: 今すぐ発送してください", "Amazon <seller-notification@amazon.co.jp>",
                   "utf-8", "quoted-printable", "250-{:07d}-5518068"),
    "nextengine": Cart(nextengine_body, "【受注】汎用受注メール", "受注 <order@nextengine.example.jp>",
                       "iso-2022-jp", "7bit", "NE{:d}"),
}


def order_no(cart: str, n: int) -> str:
    return CARTS[cart].order_no.format(n)


def cart_mail(cart: str, order: SampleOrder, to: str, **options) -> bytes:
    """The cart's mail for this order, in the cart's own charset and transfer encoding (options override)."""
    c = CARTS[cart]
    shape = dict(charset=c.charset, cte=c.cte, html=c.html) | options
    return build_mail(c.render(order), c.subject.replace("{no}", order.order_no), c.sender, to, **shape)
