"""Sample order CSVs in each shipped layout's columns, encoding and date style, for the demo and tests."""
from __future__ import annotations

import csv
import io
from datetime import timedelta, timezone

from tsunagi.demo.mails import Person, SampleOrder
from tsunagi.common.japanese import split_prefecture
from tsunagi.parsers import csvlayout

# How each layout writes a time, and the encoding a real export of it comes in.
DATE_STYLE = {
    "amazon-unshipped": lambda d: d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    "shopify-orders": lambda d: d.astimezone(timezone(timedelta(hours=-4))).strftime("%Y-%m-%d %H:%M:%S -0400"),
    "yahoo-order": lambda d: f"{d:%Y/%m/%d} {d.hour}:{d:%M}",
    "nextengine-generic": lambda d: f"{d:%Y/%m/%d %H:%M:%S}",
}
ENCODING = {"shopify-orders": "utf-8-sig", "amazon-unshipped": "utf-8", "ec-cube": "cp932"}
# Columns a real export has beside the ones tsunagi reads (the Rakuten set of FORMATS.md §4.2 in part).
EXTRA = {"rakuten-rms": ["商品明細ID", "サブステータスID", "注文確認日時", "楽天会員フラグ", "消費税合計", "請求金額",
                         "注文者姓カナ", "注文者名カナ", "送付先姓カナ", "送付先名カナ", "のし", "商品ID",
                         "商品管理番号", "税込別", "ポイント倍率", "SKU管理番号", "システム連携用SKU番号"]}


def _person(p: Person) -> dict[str, str]:
    pref, rest = split_prefecture(p.address)
    return {"name": p.name, "postal_code": p.postal, "prefecture": pref, "address": rest, "phone": p.phone,
            "email": p.email, "kana": p.kana}


def _values(layout: str, o: SampleOrder, item, status: str) -> dict[str, str]:
    style = DATE_STYLE.get(layout, lambda d: f"{d:%Y-%m-%d %H:%M:%S}")
    v = {"order_no": o.order_no, "ordered_at": style(o.ordered_at), "total": str(o.total),
         "shipping_fee": str(o.shipping), "cod_fee": str(o.cod_fee), "discount": "0",
         "payment_method": o.payment, "delivery_method": o.delivery,
         "requested_date": f"{o.requested_date:%Y/%m/%d}" if o.requested_date else "",
         "requested_time": o.requested_time, "note": o.note, "status": status,
         "line.sku": item.sku, "line.name": item.name, "line.qty": str(item.qty),
         "line.unit_price": str(item.price), "line.amount": str(item.price * item.qty),
         "line.options": " ".join(item.options)}
    for who, person in (("buyer", o.buyer), ("ship_to", item.ship_to or o.ship_to)):
        v.update({f"{who}.{k}": x for k, x in _person(person).items()})
    return v


def _spread(spec: csvlayout.FieldSpec, value: str, has_prefecture: bool) -> dict[str, str]:
    """One field's value written over its columns, the way the cart splits it."""
    cols = spec.columns
    if len(cols) == 1:
        return {cols[0]: value}
    if spec.type == "postal" and len(cols) == 2:
        return dict(zip(cols, value.split("-", 1)))
    if spec.type == "phone" or (spec.sep and spec.sep in value and spec.type != "amount"):
        parts = value.split("-" if spec.type == "phone" else spec.sep, len(cols) - 1)
        return dict(zip(cols, parts + [""] * (len(cols) - len(parts))))
    if spec.name.endswith(".address") and not has_prefecture:
        pref_cols = [c for c in cols if "都道府県" in c]
        if pref_cols:   # 住所(都道府県) etc.: prefecture in its own column
            pref, rest = split_prefecture(value)
            return {pref_cols[0]: pref, **{c: (rest if c == cols[1] else "") for c in cols if c not in pref_cols}}
    return {c: (value if n == 0 else ("0" if spec.type == "amount" else "")) for n, c in enumerate(cols)}


def order_csv(layout_name: str, orders: list[SampleOrder], *, status: str = "", encoding: str | None = None) -> bytes:
    """The orders as the cart's CSV would have them, one row per item."""
    layout = csvlayout.load(layout_name)
    header: list[str] = []
    rows = []
    for o in orders:
        for item_no, item in enumerate(o.items):
            values = _values(layout_name, o, item, status)
            if layout_name == "makeshop":
                values["ordered_at"] = f"{o.ordered_at:%Y/%-m/%-d} {o.ordered_at:%H%M%S}"
            row: dict[str, str] = {}
            for name, spec in layout.fields.items():
                if spec.value is not None:
                    continue
                value = values.get(name, "")
                if name.startswith(("buyer.", "ship_to.")) and name.endswith(".address"):
                    who = name.split(".")[0]
                    if f"{who}.prefecture" not in layout.fields:
                        value = values[f"{who}.prefecture"] + value
                if layout_name == "shopify-orders" and item_no and not name.startswith("line.") \
                        and name != "order_no":
                    value = ""   # Shopify leaves order fields blank on an order's later rows
                row.update(_spread(spec, value, f"{name.split('.')[0]}.prefecture" in layout.fields))
            row.update({c: "" for c in EXTRA.get(layout_name, []) if c not in row})
            if not header:
                header = list(row)
            rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=layout.delimiter, lineterminator="\r\n",
                        quoting=csv.QUOTE_ALL if layout_name == "rakuten-rms" else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return out.getvalue().encode(encoding or ENCODING.get(layout_name, "cp932"))


def stock_csv(counts: list[tuple[str, str, str, int]], encoding: str = "cp932") -> bytes:
    lines = ["sku,location,lot,qty"] + [f"{s},{loc},{lot},{q}" for s, loc, lot, q in counts]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)
