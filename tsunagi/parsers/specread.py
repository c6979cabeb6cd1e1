"""Reading a mail with a cart's spec: its fields and addresses found (its items by specitems), checked and made
an order."""
from __future__ import annotations

import email.utils
import importlib

from tsunagi.common import japanese as jp
from tsunagi.oms.records import Address, OrderRecord
from tsunagi.parsers import linear, specitems
from tsunagi.parsers import speclabels as labels
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView
from tsunagi.parsers.mailspec import (
    AWAITING_REPORT,
    FIRST_TOKEN,
    KIND_STATUS,
    OWN_TEXT,
    SCALAR_FIELDS,
    LabelLine,
    MailSpec,
    Trace,
)
from tsunagi.parsers.specbody import Body, convert, group_number


def _span(pattern, m, name: str, text: bytes) -> tuple[int, int]:
    """Where the value is in the match: a label's value, or the pattern's group (by number: RE2's match
    takes no group names here)."""
    return labels.value_span(m, text) if isinstance(pattern, LabelLine) else m.span(group_number(m, name))


def _label_value(value: str, kind: str, name: str) -> str:
    """A label gives the rest of its line: the amount, or the code, is picked out of it."""
    if kind in ("amount", "int"):
        return labels.amount_text(value).replace("-", "") if name == "discount" else labels.amount_text(value)
    return labels.first_token(value) if name in FIRST_TOKEN else value


_MISSING, _NONE = object(), object()      # a field not in the mail; a field the spec's none_values name


def _scalars(spec: MailSpec, body: Body, trace: Trace | None) -> dict:
    out: dict = {}
    for name, f in spec.fields.items():
        if trace is None:      # a field read alike by several specs (a replay's two) is read once a mail
            sec = spec.sections[f["in"]] if f.get("in") else None
            key = ("field", name, f["re"].pattern, type(f["re"]), f.get("type"), tuple(spec.none_values),
                   sec and (sec.start.pattern, sec.end.pattern if sec.end else ""))
            value = body.remember(key, lambda: _field(spec, body, name, f, None))
        else:
            value = _field(spec, body, name, f, trace)
        if value is _MISSING:
            if f.get("required"):
                raise ParseError(f"{name} not found (spec {spec.cart}: field.{name})", field=name)
            continue
        if value is not _NONE:
            out[name] = value
    return out


def _field(spec: MailSpec, body: Body, name: str, f: dict, trace: Trace | None):
    """One field's value, _MISSING or _NONE."""
    text, base = body.section(spec, f.get("in"))
    m = body.search(f["re"], text, base)
    span = _span(f["re"], m, name, text) if m else (-1, -1)
    raw = text[span[0]:span[1]].decode() if m and span[0] >= 0 else ""
    if not raw.strip():
        if trace is not None:
            trace.missing.append(name)
        return _MISSING
    kind = f.get("type", SCALAR_FIELDS[name])
    if isinstance(f["re"], LabelLine):
        raw = _label_value(raw, kind, name)
    if jp.clean_text(raw) in spec.none_values:
        return _NONE
    if name in OWN_TEXT:
        raw = body.own(base, span)
    line = body.line_of(base + max(span[0], m.start()))
    value = convert(raw, kind, name, line)
    if trace is not None:
        trace.found[name] = (jp.clean_text(raw), line)
    return value


_POSTAL = linear.compile(r"〒?[ \t]*(\d{3}-?\d{4})")
_PHONE = linear.compile(r"\+?[\d][\d-]{8,14}\d")
_MAIL = linear.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _part(part: str, value: str) -> str:
    """The part out of a label's value: the postcode, the phone, the address after a postcode."""
    if part == "postal":
        m = _POSTAL.search(value)
        return m.group(1) if m else value
    if part == "address":
        m = _POSTAL.match(value.strip())
        return value.strip()[m.end():] if m else value
    finder = {"phone": _PHONE, "email": _MAIL}.get(part)
    m = finder.search(value) if finder else None
    return m.group(0) if m else value


def _address(spec: MailSpec, body: Body, role: str, trace: Trace | None) -> Address:
    a = spec.addresses.get(role)
    if not a:
        return Address()
    if trace is not None:
        return _read_address(spec, body, role, trace)
    text, base = body.section(spec, a.get("in"))
    key = ("address", role, base, len(text)) + tuple((p, r.pattern) for p, r in a["re"].items())
    return body.remember(key, lambda: _read_address(spec, body, role, None))


def _read_address(spec: MailSpec, body: Body, role: str, trace: Trace | None) -> Address:
    a = spec.addresses[role]
    text, base = body.section(spec, a.get("in"))
    got = {}
    for part, pattern in a["re"].items():
        m = body.search(pattern, text, base)
        if not m:
            if trace is not None:
                trace.missing.append(f"{role}.{part}")
            continue
        span = _span(pattern, m, part, text)
        value = body.own(base, span) if part in ("name", "address") else \
            text[span[0]:span[1]].decode() if span[0] >= 0 else ""
        if isinstance(pattern, LabelLine):
            if part == "address" and "postal" not in got and _POSTAL.match(jp.half_width(value).strip()):
                got["postal"] = _part("postal", jp.half_width(value))     # 住所：〒530-0001 大阪府…
            value = _part(part, jp.half_width(value) if part not in ("name", "address") else value)
        got[part] = jp.clean_text(value)
        if trace is not None:
            trace.found[f"{role}.{part}"] = (got[part], body.line_of(base + max(span[0], m.start())))
    postal = ""
    if got.get("postal"):
        try:
            postal = jp.postal_code(got["postal"])
        except jp.ValueProblem as exc:
            raise ParseError(str(exc), field=f"{role}.postal_code", line=body.line_of(base)) from None
    pref, rest = jp.split_prefecture(got.get("address", ""))
    return Address(name=jp.full_width_kana(_without_honorific(got.get("name", ""))), postal_code=postal,
                   prefecture=pref, address=jp.full_width_kana(rest), phone=jp.phone(got.get("phone", "")),
                   email=got.get("email", "").lower())


def _without_honorific(name: str) -> str:
    """'山田 太郎 様' -> '山田 太郎'."""
    name = name.rstrip()
    return name[:-1].rstrip() if name.endswith("様") else name


def _ordered_at(values: dict, view: MailView):
    """The spec's order date, else the original mail's Date, else the forwarding mail's."""
    if "ordered_at" in values:
        return values["ordered_at"]
    for candidate in (view.date, view.headers.get("date", "")):
        try:
            return email.utils.parsedate_to_datetime(candidate).astimezone(jp.JST)
        except (TypeError, ValueError):
            pass
        try:
            return jp.parse_datetime(candidate)
        except jp.ValueProblem:
            pass
    raise ParseError("ordered_at not found and the mail has no usable Date header", field="ordered_at")


def _body(view: MailView) -> Body:
    """The mail's text as specs read it, made once a mail: specs parsing the same mail (a replay's two)
    share what each pattern found."""
    body = view.__dict__.get("_spec_body")
    if body is None or body.raw is not view.text:
        body = view.__dict__["_spec_body"] = Body(view.text)
    return body


def parse_with_spec(spec: MailSpec, view: MailView, shop: str, trace: Trace | None = None) -> OrderRecord:
    """The order the mail states, or ParseError naming the field and line; trace, if given, collects what
    was found where."""
    body = _body(view)
    if trace is not None:
        trace.spec = spec.cart
    values = _scalars(spec, body, trace)
    if "order_no" not in values:
        raise ParseError(f"order number not found (spec {spec.cart})", field="order_no")
    lines = specitems.lines(spec, body, trace)
    if not lines and spec.kind != "cancel":
        raise ParseError("no order lines found", field="lines")
    for n, line in enumerate(lines, 1):
        if line.qty <= 0:
            raise ParseError(f"item {n} ({line.channel_sku}): quantity {line.qty} is not positive",
                             field="lines.qty")
    record = OrderRecord(
        shop=shop, order_no=values["order_no"], ordered_at=_ordered_at(values, view),
        lines=tuple(lines), total=values.get("total", 0),
        buyer=_address(spec, body, "buyer", trace), ship_to=_address(spec, body, "ship_to", trace),
        payment_method=values.get("payment_method", ""), delivery_method=values.get("delivery_method", ""),
        requested_date=values.get("requested_date"), requested_time=values.get("requested_time", ""),
        shipping_fee=values.get("shipping_fee", 0), cod_fee=values.get("cod_fee", 0),
        discount=values.get("discount", 0), note=values.get("note", ""), source="mail",
        channel_status=AWAITING_REPORT if spec.waits_for else KIND_STATUS.get(spec.kind, ""))
    if spec.hook:
        record = _run_hook(spec.hook, record, view)
    if not spec.waits_for and spec.kind != "cancel":
        check_totals(record, values.get("subtotal"), "total" in values)
    return record


def check_totals(record: OrderRecord, subtotal: int | None, has_total: bool) -> None:
    """Lines, fees and discounts must add up to what the mail says was charged."""
    if subtotal is not None and subtotal != record.lines_total:
        raise ParseError(f"the lines add up to {record.lines_total} yen but the subtotal says {subtotal}",
                         field="subtotal")
    if not has_total:
        raise ParseError("total not found", field="total")
    expected = record.lines_total + record.shipping_fee + record.cod_fee - record.discount
    if expected != record.total:
        raise ParseError(
            f"the lines ({record.lines_total}) + shipping ({record.shipping_fee}) + COD fee "
            f"({record.cod_fee}) - discount ({record.discount}) = {expected} yen, "
            f"but the mail's total is {record.total}", field="total")


def _run_hook(ref: str, record: OrderRecord, view: MailView) -> OrderRecord:
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)(record, view)
