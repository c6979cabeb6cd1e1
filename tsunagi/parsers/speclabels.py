"""A spec's labels: one label written once matches every way a cart writes it (brackets, colons, spacing, synonyms)."""
from __future__ import annotations

import re

from tsunagi.parsers import linear

# Labels that carts use for the same thing; a spec's label brings its whole group (and a spec may add groups).
# Matching is on whole labels at the start of a line: 合計 never matches 商品合計 nor 合計金額.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("注文番号", "ご注文番号", "受注番号", "注文ID", "ご注文ID", "オーダー番号", "注文No", "注文No."),
    ("注文日時", "ご注文日時", "注文日", "ご注文日", "受注日時", "受注日"),
    ("お名前", "氏名", "ご氏名", "名前", "お客様名"),
    ("郵便番号", "〒"),
    ("住所", "ご住所"),
    ("電話番号", "お電話番号", "電話", "TEL", "Tel"),
    ("メールアドレス", "Eメール", "E-mail", "E-Mail", "Email", "メール"),
    ("合計金額", "お支払い金額", "お支払金額", "ご請求金額", "請求金額", "お支払い合計", "総合計", "合計"),
    ("商品合計", "小計", "商品小計", "商品代金合計"),
    ("送料", "配送料", "送料合計"),
    ("手数料", "代引手数料", "代引料", "代金引換手数料", "決済手数料"),
    ("値引き", "値引", "割引", "割引額"),
    ("お支払い方法", "お支払方法", "支払方法", "支払い方法", "決済方法"),
    ("配送方法", "お届け方法", "配送区分", "発送方法"),
    ("お届け希望日", "お届け日", "配送希望日", "お届け指定日", "配達希望日"),
    ("お届け希望時間", "お届け時間", "配送希望時間", "お届け時間帯", "配達希望時間帯"),
    ("商品コード", "商品番号", "品番", "SKU"),
    ("商品名", "品名"),
    ("単価", "価格", "販売価格"),
    ("数量", "個数"),
    ("備考", "ご要望", "通信欄", "メッセージ"),
)

# Marks that open and close a label, as the body reads after width folding (［］＜＞：（） are ASCII by then).
_OPEN = r"(?:[\[【<(■◆●◇□◎★☆・*]+[ \t]*)?"
_CLOSE = r"[\]】>)]"
# After the label: a closing mark, a colon, spaces, the end of the line, or a value glued to it ("合計6,110円",
# "〒100-0001": taken only when it starts like a number). The match stops there: the value is the rest of the
# line, found without a group (RE2 extracts groups slowly over a long line).
_AFTER = rf"(?:[ \t]*{_CLOSE}[ \t]*:?[ \t]*|[ \t]*:[ \t]*|[ \t]+|[¥\\\-\d]|[ \t]*$)"
MAX_VALUE = 2000         # bytes of a line a label's value may take: a megabyte line is no field
_GLUED = ("¥".encode(), b"\\", b"-", *(str(d).encode() for d in range(10)))
_AMOUNT = re.compile(r"-?[ \t]*[¥\\]?[ \t]*\d[\d,]*")
_FIRST_TOKEN = re.compile(r"\S+")


def expand(labels: list[str], groups: tuple[tuple[str, ...], ...] = SYNONYMS) -> list[str]:
    """The labels with every synonym of their groups, longest first (so 注文No. wins over 注文No)."""
    out: list[str] = []
    for label in labels:
        group = next((g for g in groups if label in g), (label,))
        out += [g for g in group if g not in out]
    return sorted(out, key=len, reverse=True)


def _label_pattern(label: str) -> str:
    # spaces inside a label are the cart's layout (合　計, お 名 前): any spacing between its characters
    chars = [re.escape(c) for c in label if not c.isspace()]
    return r"[ \t]*".join(chars)


def line_pattern(labels: list[str], groups: tuple[tuple[str, ...], ...] = SYNONYMS) -> str:
    """A line that begins with one of the labels in any of its forms (its value: value_span)."""
    names = "|".join(_label_pattern(name) for name in expand(labels, groups))
    return rf"^[ \t]*{_OPEN}(?:{names}){_AFTER}"


def compile_label(labels: list[str], groups: tuple[tuple[str, ...], ...] = SYNONYMS):
    return linear.compile(line_pattern(labels, groups))


def value_span(m, text: bytes) -> tuple[int, int]:
    """Where a label line's value is in text (UTF-8): the rest of the line after the label, trailing spaces
    left out, a glued number included."""
    start = m.end()
    for glued in _GLUED:
        if text.endswith(glued, m.start(), start):
            start -= len(glued)
            break
    end = text.find(b"\n", start, start + MAX_VALUE + 1)
    if end < 0:                      # the line's end, or MAX_VALUE bytes on (at a character's start)
        end = min(len(text), start + MAX_VALUE)
        while end < len(text) and end > start and text[end] & 0xC0 == 0x80:
            end -= 1
    while end > start and text[end - 1] in b" \t\r":
        end -= 1
    return start, end


def amount_text(text: str) -> str:
    """The first amount in a label's value: '￥6,110 (税込)' and '6,110円' both give '6,110'."""
    m = _AMOUNT.search(text)
    return m.group(0) if m else text


def first_token(text: str) -> str:
    m = _FIRST_TOKEN.search(text)
    return m.group(0) if m else ""


# "1,280円 × 2", "¥1,280 x 2個", "価格 1,280(円) x 2(個)": a unit price times a quantity, wherever it sits.
UNIT_X_QTY = (r"(?P<unit_price>[¥\\]?[ \t]*\d[\d,]*)[ \t]*(?:\(円\)|円)?[ \t]*(?:\(税込\)|\(税抜\)|税込)?[ \t]*"
              r"[x×*][ \t]*(?P<qty>\d+)")
