"""Sample order mails as each cart writes them, in any charset, transfer encoding and forward shape."""
from __future__ import annotations

import base64
import email.header
import email.utils
import quopri
from dataclasses import dataclass, field
from datetime import date, datetime

from tsunagi.common.clock import JST
from tsunagi.common.jcodec import encode_iso2022jp as _encode_jis


@dataclass
class Person:
    name: str = "山田 太郎"
    postal: str = "100-0001"
    address: str = "東京都千代田区千代田1-1 サンプルマンション101"
    phone: str = "03-1234-5678"
    email: str = "taro@example.jp"
    kana: str = "ヤマダ タロウ"


@dataclass
class Item:
    sku: str
    name: str
    qty: int
    price: int
    options: tuple[str, ...] = ()
    ship_to: Person | None = None       # another recipient than the order's (楽天's 複数送付先)


@dataclass
class SampleOrder:
    order_no: str
    items: list[Item]
    ordered_at: datetime = field(default_factory=lambda: datetime(2026, 6, 12, 8, 55, 46, tzinfo=JST))
    buyer: Person = field(default_factory=Person)
    ship_to: Person = field(default_factory=lambda: Person(
        "山田 花子", "530-0001", "大阪府大阪市北区梅田1-1-1", "06-1234-5678", ""))
    payment: str = "クレジットカード"
    delivery: str = "宅配便"
    requested_date: date | None = None
    requested_time: str = ""
    shipping: int = 500
    cod_fee: int = 0
    total_override: int | None = None   # a wrong total, for bad-input tests
    note: str = ""                      # the buyer's remark (備考)

    @property
    def total(self) -> int:
        if self.total_override is not None:
            return self.total_override
        return sum(i.qty * i.price for i in self.items) + self.shipping + self.cod_fee


def _yen(n: int) -> str:
    return f"{n:,}"


def rakuten_body(o: SampleOrder, label: str = "[]") -> str:
    L, R = label[0], label[1]
    lines = [
        "このメールはお客様の注文に関する大切なメールです。", "",
        f"{L}受注番号{R} {o.order_no}",
        f"{L}日時{R}     {o.ordered_at:%Y-%m-%d %H:%M:%S}",
        f"{L}注文者{R}   {o.buyer.name} 様",
        f"           〒{o.buyer.postal} {o.buyer.address}",
        f"           (TEL) {o.buyer.phone}",
        f"{L}支払方法{R} {o.payment}",
        f"{L}配送方法{R} {o.delivery}",
    ]
    if o.requested_date or o.requested_time:
        lines += [f"{L}配送日時指定{R}"]
        lines += [f"  {o.requested_date:%Y-%m-%d}"] if o.requested_date else []
        lines += [f"  {o.requested_time}"] if o.requested_time else []
    lines += [f"{L}備考{R}", f"{L}ショップ名{R} サンプル楽天市場店", "=" * 30,
              f"{L}送付先{R}   {o.ship_to.name} 様",
              f"           〒{o.ship_to.postal} {o.ship_to.address}",
              f"           (TEL) {o.ship_to.phone}", f"{L}商品{R}"]
    for i in o.items:
        lines.append(f"{i.name} ({i.sku})")
        lines += list(i.options)
        lines.append(f"価格 {_yen(i.price)}(円) x {i.qty}(個) = {_yen(i.price * i.qty)}(円) ※10%税込")
        lines.append("-" * 10)
    lines.append(f"送料 {_yen(o.shipping)}(円)")
    if o.cod_fee:
        lines.append(f"代引料 {_yen(o.cod_fee)}(円)")
    lines += [f"合計 {_yen(o.total)}(円)", "*" * 40, "楽天市場 https://www.rakuten.co.jp/"]
    return "\n".join(lines) + "\n"


def yahoo_body(o: SampleOrder) -> str:
    rule = "=" * 60

    def person(title: str, p: Person, with_mail: bool) -> list[str]:
        out = [title, f"氏名：{p.name} 様", f"郵便番号：〒{p.postal}", f"住所：{p.address}",
               f"電話番号：{p.phone}"]
        return out + ([f"メールアドレス：{p.email}"] if with_mail and p.email else [])

    lines = ["Yahoo!ショッピング ストアからのお知らせ", rule, f"注文ID：{o.order_no}",
             f"注文日時：{o.ordered_at:%Y年%m月%d日 %H時%M分}", rule]
    lines += person("■ご注文者", o.buyer, True) + [rule] + person("■お届け先", o.ship_to, False) + [rule]
    lines += [f"■お支払い方法：{o.payment}", f"■配送方法：{o.delivery}",
              f"■お届け希望日：{o.requested_date:%Y年%m月%d日}" if o.requested_date else "■お届け希望日：指定なし",
              f"■お届け希望時間：{o.requested_time or '指定なし'}", rule, "商品情報", "-" * 60]
    for n, i in enumerate(o.items, 1):
        lines += [f"（{n}）{i.name}", f"{o.order_no.rsplit('-', 1)[0]}/{i.sku}",
                  f"{_yen(i.price)}円×{i.qty}＝{_yen(i.price * i.qty)}円"]
        lines += [opt.replace(":", "：") for opt in i.options]
    lines += ["-" * 60, f"商品合計：{_yen(sum(i.qty * i.price for i in o.items))}円",
              f"送料：{_yen(o.shipping)}円", f"手数料：{_yen(o.cod_fee)}円", "値引き：0円",
              f"合計金額：{_yen(o.total)}円", rule]
    return "\n".join(lines) + "\n"


def eccube_body(o: SampleOrder) -> str:
    stars = "*" * 48
    subtotal = sum(i.qty * i.price for i in o.items)
    lines = [f"{o.buyer.name} 様", "", "この度はご注文いただき誠にありがとうございます。", "",
             stars, "　ご請求金額", stars, "", f"ご注文番号：{o.order_no}",
             f"お支払い合計：￥{_yen(o.total)}", f"お支払い方法：{o.payment}", "メッセージ：", "", "",
             stars, "　ご注文商品明細", stars, ""]
    for i in o.items:
        lines += [f"商品コード: {i.sku}", f"商品名: {i.name}  {' '.join(i.options)}  ",
                  f"単価： ￥{_yen(i.price)}", f"数量： {i.qty}", ""]
    lines += ["", "-" * 49, f"小　計 ￥{_yen(subtotal)}(うち消費税 ￥{_yen(subtotal * 10 // 110)})", "",
              f"手数料 ￥{_yen(o.cod_fee)}", f"送　料 ￥{_yen(o.shipping)}", "=" * 44,
              f"合　計 ￥{_yen(o.total)}", "", stars, "　ご注文者情報", stars,
              f"お名前　：{o.buyer.name.replace(' ', '')}　様", f"郵便番号：〒{o.buyer.postal}",
              f"住所　　：{o.buyer.address}", f"電話番号：{o.buyer.phone}", "FAX番号 ：--", "",
              f"メールアドレス：{o.buyer.email}", "", stars, "　配送情報", stars, "", "◎お届け先", "",
              f"お名前　：{o.ship_to.name.replace(' ', '')}　様", f"郵便番号：〒{o.ship_to.postal}",
              f"住所　　：{o.ship_to.address}", f"電話番号：{o.ship_to.phone}", "FAX番号 ：--", "",
              f"お届け日：{o.requested_date:%Y/%m/%d}" if o.requested_date else "お届け日：指定なし",
              f"お届け時間：{o.requested_time or '指定なし'}", ""]
    for i in o.items:
        lines += [f"商品コード: {i.sku}", f"商品名: {i.name}", f"数量：{i.qty}", ""]
    lines += ["", "サンプル EC-CUBE ショップ"]
    return "\n".join(lines) + "\n"


CARTS = {
    "rakuten": (rakuten_body, "【楽天市場】注文内容ご確認（自動配信メール）", "楽天市場 <order@rakuten.co.jp>"),
    "yahoo": (yahoo_body, "【Yahoo!ショッピング】注文確認", "Yahoo!ショッピング <store-notice@shopping.yahoo.co.jp>"),
    "ec-cube": (eccube_body, "[サンプルショップ] ご注文ありがとうございます", "サンプルショップ <shop@ec-cube.example.jp>"),
}


def encode_iso2022jp(text: str) -> bytes:
    """ISO-2022-JP as Japanese mailers write it; a sample may carry a character CP932 lacks (shown as ?)."""
    return _encode_jis(text, errors="replace")


def _encode_body(text: str, charset: str, cte: str) -> tuple[bytes, str]:
    text = text.replace("\n", "\r\n")
    codec = "cp932" if charset.lower() in ("shift_jis", "sjis", "windows-31j") else charset
    data = encode_iso2022jp(text) if charset.lower() == "iso-2022-jp" else text.encode(codec)
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n"), "base64"
    if cte == "quoted-printable":
        lines = [quopri.encodestring(line).replace(b"\n", b"\r\n") for line in data.split(b"\r\n")]
        return b"\r\n".join(lines), "quoted-printable"
    return data, "7bit" if all(b < 0x80 for b in data) else "8bit"


def _header(value: str, charset: str) -> str:
    if value.isascii():
        return value
    cs = "utf-8" if charset.lower() == "iso-2022-jp" and not _jis_safe(value) else charset
    if cs.lower() == "iso-2022-jp":
        return "=?ISO-2022-JP?B?" + base64.b64encode(encode_iso2022jp(value)).decode() + "?="
    return email.header.Header(value, cs).encode()


def _jis_safe(value: str) -> bool:
    try:
        value.encode("iso2022_jp")
        return True
    except UnicodeEncodeError:
        return False


def _from(display: str, charset: str) -> str:
    name, addr = email.utils.parseaddr(display)
    return f"{_header(name, charset)} <{addr}>" if name else addr


def text_part(text: str, subtype: str, charset: str, cte: str) -> bytes:
    body, cte_name = _encode_body(text, charset, cte)
    return (f"Content-Type: text/{subtype}; charset=\"{charset}\"\r\n"
            f"Content-Transfer-Encoding: {cte_name}\r\n\r\n").encode() + body


def _multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()
    for p in parts:
        out += f"--{boundary}\r\n".encode() + p + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _html(text: str) -> str:
    from html import escape
    return "<html><body>" + "<br>\n".join(escape(line) for line in text.split("\n")) + "</body></html>"


def build_mail(text: str, subject: str, sender: str, to: str, *, charset: str = "utf-8",
               cte: str = "base64", html: str = "", forward: str = "",
               extra_headers: dict[str, str] | None = None, msgid: str = "") -> bytes:
    """A whole RFC 5322 message. html: '' text only, 'only' HTML only, 'alternative' both.
    forward: '' direct, 'inline' quoted in a new mail, 'attached' as message/rfc822."""
    if html == "only":
        content = text_part(_html(text), "html", charset, cte)
    elif html == "alternative":
        content = _multipart("alternative", [text_part(text, "plain", charset, cte),
                                             text_part(_html(text), "html", charset, cte)], "alt-b0undary")
    else:
        content = text_part(text, "plain", charset, cte)
    heads = {"From": _from(sender, charset), "To": to, "Subject": _header(subject, charset),
             "Date": email.utils.format_datetime(datetime(2026, 6, 12, 8, 55, 50, tzinfo=JST)),
             "Message-ID": msgid or email.utils.make_msgid(domain="cart.example"), "MIME-Version": "1.0"}
    heads.update(extra_headers or {})
    original = "".join(f"{k}: {v}\r\n" for k, v in heads.items()).encode() + content
    if forward == "attached":
        note = text_part("転送します。", "plain", "utf-8", "base64")
        wrapped = _multipart("mixed", [note, b"Content-Type: message/rfc822\r\n\r\n" + original], "fwd-b0undary")
        return _forward_headers(subject, to) + wrapped
    if forward == "inline":
        quoted = ("---------- Forwarded message ---------\n"
                  f"From: {sender}\nDate: 2026年6月12日(金) 8:55\nSubject: {subject}\nTo: <{to}>\n\n\n" + text)
        return _forward_headers(subject, to) + text_part(quoted, "plain", "utf-8", "quoted-printable")
    return original


def _forward_headers(subject: str, to: str) -> bytes:
    return ("From: shop-staff@shop.example.jp\r\n"
            f"To: {to}\r\nSubject: {_header('Fwd: ' + subject, 'utf-8')}\r\n"
            "Date: Fri, 12 Jun 2026 09:00:00 +0900\r\n"
            f"Message-ID: {email.utils.make_msgid(domain='shop.example.jp')}\r\nMIME-Version: 1.0\r\n").encode()


def order_mail(cart: str, order: SampleOrder, to: str, **options) -> bytes:
    """A cart's order mail for this order, ready to send."""
    render, subject, sender = CARTS[cart]
    text = render(order, options.pop("label")) if "label" in options else render(order)
    return build_mail(text, subject, sender, to, **options)
