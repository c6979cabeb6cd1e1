"""Reading a mail with a cart's spec: sections, fields, addresses and items found, checked and made an order."""
from __future__ import annotations

import bisect
import email.utils
import importlib
import re

from tsunagi.common import japanese as jp
from tsunagi.oms.records import Address, OrderLine, OrderRecord
from tsunagi.parsers import linear
from tsunagi.parsers import speclabels as labels
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView
from tsunagi.parsers.mailspec import (
    AWAITING_REPORT,
    FIRST_TOKEN,
    ITEM_FIELDS,
    KIND_STATUS,
    OWN_TEXT,
    SCALAR_FIELDS,
    LabelLine,
    MailSpec,
    Section,
    Trace,
)


class _Text:
    """The body as the spec sees it: full-width ASCII folded, as UTF-8 bytes (RE2 reads bytes three times
    faster than str), with a way back to line numbers and to the mail's own characters (the folding maps
    one character to one, so character offsets are the same in both)."""

    def __init__(self, text: str):
        self.raw = text
        self.text = jp.half_width(text)
        self.data = self.text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(self.text)
        self._last = (0, 0)
        self._breaks: list[int] | None = None
        self._sections: dict[tuple, tuple[bytes, int]] = {}
        self._found: dict[tuple, object] = {}     # (pattern, where) -> what it found: several specs, one search

    def chars(self, offset: int) -> int:
        """A byte offset as a character offset; counted on from the last one asked (items are read in
        order), so a mail of many items stays linear."""
        if self._ascii:
            return offset
        last_byte, last_char = self._last if offset >= self._last[0] else (0, 0)
        char = last_char + len(self.data[last_byte:offset].decode("utf-8", "surrogatepass"))
        self._last = (offset, char)
        return char

    def own(self, base: int, span: tuple[int, int]) -> str:
        """A value as the mail wrote it: free text keeps its ，, Ａ and １ (only codes, numbers, postcodes
        and phones are folded)."""
        start, end = span
        return self.raw[self.chars(base + start):self.chars(base + end)] if start >= 0 else ""

    def line_of(self, offset: int) -> int:
        if self._breaks is None:        # found once, so many look-ups stay linear in the text's length
            self._breaks = [m.start() for m in re.finditer(b"\n", self.data)]
        return bisect.bisect_left(self._breaks, offset) + 1

    def section(self, spec: MailSpec, name: str | None) -> tuple[bytes, int]:
        """(bytes, offset) of a section, or of the whole body when name is None; each found once a mail."""
        if not name:
            return self.data, 0
        sec = spec.sections[name]
        key = (sec.start.pattern, sec.end.pattern if sec.end else "")
        if key not in self._sections:
            self._sections[key] = self._find_section(sec)
        return self._sections[key]

    def search(self, regex, text: bytes, base: int):
        """regex.search(text), once a mail for each pattern and place (a replay parses with two specs)."""
        key = (regex.pattern, base, len(text))
        if key not in self._found:
            self._found[key] = regex.search(text)
        return self._found[key]

    def remember(self, key: tuple, make):
        """make()'s result, once a mail for each key."""
        if key not in self._found:
            self._found[key] = make()
        return self._found[key]

    def _find_section(self, sec: Section) -> tuple[bytes, int]:
        data = self.data
        m = sec.start.search(data)
        if not m:
            return b"", 0
        begin = data.rfind(b"\n", 0, m.start()) + 1
        end = len(data)
        if sec.end:
            after = data.find(b"\n", m.end())
            e = sec.end.search(data, after + 1) if after >= 0 else None
            if e:
                end = e.start()
        return data[begin:end], begin


def _convert(value: str, kind: str, name: str, line: int):
    value = jp.clean_text(value)
    try:
        if kind == "amount":
            return jp.parse_amount(value)
        if kind == "int":
            return jp.parse_int(value)
        if kind == "datetime":
            return jp.parse_datetime(value)
        if kind == "date":
            return jp.parse_date(value)
    except jp.ValueProblem as exc:
        raise ParseError(str(exc), field=name, line=line) from None
    return value


_SHAPES: dict[str, tuple[dict, int]] = {}


def _shape(regex) -> tuple[dict, int]:
    """(named groups, number of groups) of a pattern, asked of RE2 once (its wrapper builds them each time)."""
    shape = _SHAPES.get(regex.pattern)
    if shape is None:
        shape = _SHAPES[regex.pattern] = (dict(regex.groupindex), regex.groups)
    return shape


def _group_number(m: re.Match, name: str) -> int:
    """The group a field's pattern captures it in: its named group, else the first group, else the match."""
    names, groups = _shape(m.re)
    return names[name] if name in names else (1 if groups else 0)


def _span(pattern, m, name: str, text: bytes) -> tuple[int, int]:
    """Where the value is in the match: a label's value, or the pattern's group (by number: RE2's match
    takes no group names here)."""
    return labels.value_span(m, text) if isinstance(pattern, LabelLine) else m.span(_group_number(m, name))


def _label_value(value: str, kind: str, name: str) -> str:
    """A label gives the rest of its line: the amount, or the code, is picked out of it."""
    if kind in ("amount", "int"):
        return labels.amount_text(value).replace("-", "") if name == "discount" else labels.amount_text(value)
    return labels.first_token(value) if name in FIRST_TOKEN else value


_MISSING, _NONE = object(), object()      # a field not in the mail; a field the spec's none_values name


def _scalars(spec: MailSpec, body: _Text, trace: Trace | None) -> dict:
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


def _field(spec: MailSpec, body: _Text, name: str, f: dict, trace: Trace | None):
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
    value = _convert(raw, kind, name, line)
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


def _address(spec: MailSpec, body: _Text, role: str, trace: Trace | None) -> Address:
    a = spec.addresses.get(role)
    if not a:
        return Address()
    if trace is not None:
        return _read_address(spec, body, role, trace)
    text, base = body.section(spec, a.get("in"))
    key = ("address", role, base, len(text)) + tuple((p, r.pattern) for p, r in a["re"].items())
    return body.remember(key, lambda: _read_address(spec, body, role, None))


def _read_address(spec: MailSpec, body: _Text, role: str, trace: Trace | None) -> Address:
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


def _starts(spec: MailSpec, text: bytes):
    """The pattern each item begins with: the spec's start, else the first in the text of its sku or
    name labels (a cart writes 商品コード or 商品名 first)."""
    regexes = spec.items["re"]
    if "start" in regexes:
        return regexes["start"]
    firsts = [(m.start(), regexes[k]) for k in ("sku", "name")
              if isinstance(regexes.get(k), LabelLine) and (m := regexes[k].search(text))]
    return min(firsts, key=lambda pair: pair[0])[1] if firsts else None


def _item_blocks(spec: MailSpec, body: _Text) -> list[tuple[bytes, int]]:
    """Each item's text: from one start to the next (a rule line, if the spec names one, ends it early:
    with or without rules between items is the same), or between rule lines when no start is given."""
    items = spec.items
    text, base = body.section(spec, items.get("in"))
    key = ("blocks", base, len(text)) + tuple((k, r.pattern) for k, r in sorted(items["re"].items()))
    return body.remember(key, lambda: _cut_blocks(spec, text, base))


def _cut_blocks(spec: MailSpec, text: bytes, base: int) -> list[tuple[bytes, int]]:
    split = spec.items["re"].get("split")
    start = _starts(spec, text)
    if start is not None:
        starts = [m.start() for m in start.finditer(text)]
        bounds = list(zip(starts, starts[1:] + [len(text)]))
        if split:
            # searched only up to the next start: many items and no rule stay linear
            bounds = [(s, m.start() if (m := split.search(text, s + 1, e)) else e) for s, e in bounds]
    elif split:
        cuts = [(m.start(), m.end()) for m in split.finditer(text)]
        edges = [0] + [c for pair in cuts for c in pair] + [len(text)]
        bounds = list(zip(edges[0::2], edges[1::2]))
    else:
        bounds = []
    return [(text[s:e], base + s) for s, e in bounds]


def _item_values(regexes: dict, block: bytes, body: _Text, offset: int) -> dict[str, str]:
    """sku, name, unit_price and qty of one block as written: the first pattern that gives each wins."""
    got: dict[str, str] = {}
    for key in ("head", "price", "unit_x_qty", "sku", "name", "unit_price", "qty"):
        pat = regexes.get(key)
        if pat is None or not (m := body.search(pat, block, offset)):
            continue
        if isinstance(pat, LabelLine):
            span = labels.value_span(m, block)
            value = body.own(offset, span) if key == "name" else block[span[0]:span[1]].decode()
            pairs = {key: labels.amount_text(value) if key in ("unit_price", "qty") else value}
        else:
            names, groups = _shape(pat)
            pairs = ({g: _text(m.group(n)) for g, n in names.items()} if names
                     else {key: _text(m.group(1) if groups else m.group(0))})
            if pairs.get("name") is not None:     # an item name is free text
                pairs["name"] = body.own(offset, m.span(_group_number(m, "name")))
        for gname, val in pairs.items():
            if gname in ITEM_FIELDS and gname not in got and val is not None:
                got[gname] = val
    return got


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", "surrogatepass") if value is not None else None


def _lines(spec: MailSpec, body: _Text, trace: Trace | None) -> list[OrderLine]:
    if trace is not None:
        return _read_lines(spec, body, trace)
    text, base = body.section(spec, spec.items.get("in"))
    key = ("lines", base, len(text)) + \
        tuple((k, r.pattern) for k, r in sorted(spec.items["re"].items()))
    return body.remember(key, lambda: _read_lines(spec, body, None))


def _read_lines(spec: MailSpec, body: _Text, trace: Trace | None) -> list[OrderLine]:
    regexes = spec.items["re"]
    lines: list[OrderLine] = []
    for block, offset in _item_blocks(spec, body):
        got = _item_values(regexes, block, body, offset)
        if not any(k in got for k in ("unit_price", "qty")):
            continue  # a block of totals or notes, not an item
        where = body.line_of(offset)
        if spec.waits_for or spec.kind == "cancel":     # a price the mail does not give (the CSV brings it)
            got.setdefault("unit_price", "0")
        for key in ITEM_FIELDS:
            if not got.get(key, "").strip():
                raise ParseError(f"item {len(lines) + 1}: {key} not found", field=f"lines.{key}", line=where)
        options = tuple(jp.clean_text(_text(m.group(1) if _shape(m.re)[1] else m.group(0)))
                        for m in regexes["option"].finditer(block)) if "option" in regexes else ()
        lines.append(OrderLine(
            channel_sku=jp.clean_text(got["sku"]), name=jp.clean_text(got["name"]),
            qty=_convert(got["qty"], "int", "lines.qty", where),
            unit_price=_convert(got["unit_price"], "amount", "lines.unit_price", where),
            options=tuple(o for o in options if o)))
        if trace is not None:
            trace.items.append((lines[-1].channel_sku, where))
    return lines


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


def _body(view: MailView) -> _Text:
    """The mail's text as specs read it, made once a mail: specs parsing the same mail (a replay's two)
    share what each pattern found."""
    body = view.__dict__.get("_spec_body")
    if body is None or body.raw is not view.text:
        body = view.__dict__["_spec_body"] = _Text(view.text)
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
    lines = _lines(spec, body, trace)
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
