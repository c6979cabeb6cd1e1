"""The engine that applies a declarative cart mail spec (parsers/mail/<cart>.toml) to a MailView."""
from __future__ import annotations

import email.utils
import importlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms.records import Address, OrderLine, OrderRecord
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView

SPEC_DIR = Path(__file__).parent / "mail"

SCALAR_FIELDS = {
    "order_no": "text", "ordered_at": "datetime", "payment_method": "text",
    "delivery_method": "text", "requested_date": "date", "requested_time": "text",
    "shipping_fee": "amount", "cod_fee": "amount", "discount": "amount", "subtotal": "amount",
    "total": "amount", "note": "text",
}
ADDRESS_PARTS = ("name", "postal", "address", "phone", "email")
ITEM_FIELDS = {"sku": "text", "name": "text", "unit_price": "amount", "qty": "int"}


@dataclass
class Section:
    start: re.Pattern
    end: re.Pattern | None


@dataclass
class MailSpec:
    """One cart's order mail, as data."""
    cart: str
    title: str
    subjects: list[re.Pattern]
    senders: list[re.Pattern]
    sections: dict[str, Section]
    fields: dict[str, dict]
    addresses: dict[str, dict]
    items: dict
    hook: str = ""
    path: str = ""
    none_values: list[str] = field(default_factory=list)

    def matches(self, view: MailView) -> bool:
        subject = jp.half_width(view.subject)
        subject_ok = any(p.search(subject) for p in self.subjects)
        sender_ok = not self.senders or any(p.search(view.sender) for p in self.senders)
        return subject_ok and sender_ok


class SpecError(TsunagiError, ValueError):
    """A mail spec file that cannot be used; the message names the file and the key."""


def _compile(pattern: str, where: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise SpecError(f"{where}: bad regular expression {pattern!r}: {exc}") from None


def load_spec(path: Path) -> MailSpec:
    """Read and check a spec file; a mistake names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {exc}") from None
    where = str(path)
    match = data.get("match", {})
    if not match.get("subject"):
        raise SpecError(f"{where}: [match] subject: at least one pattern is needed")
    sections = {
        name: Section(_compile(s["start"], f"{where}: sections.{name}.start"),
                      _compile(s["end"], f"{where}: sections.{name}.end") if s.get("end") else None)
        for name, s in data.get("sections", {}).items()
    }
    fields = data.get("field", {})
    for name, f in fields.items():
        if name not in SCALAR_FIELDS:
            raise SpecError(f"{where}: field.{name}: unknown field (known: {', '.join(SCALAR_FIELDS)})")
        f["re"] = _compile(f["find"], f"{where}: field.{name}.find")
        _check_in(f, sections, f"{where}: field.{name}")
    addresses = data.get("address", {})
    for name, a in addresses.items():
        if name not in ("buyer", "ship_to"):
            raise SpecError(f"{where}: address.{name}: must be buyer or ship_to")
        a["re"] = {p: _compile(a[p], f"{where}: address.{name}.{p}") for p in ADDRESS_PARTS if p in a}
        _check_in(a, sections, f"{where}: address.{name}")
    items = data.get("items", {})
    if not items:
        raise SpecError(f"{where}: [items] is needed")
    _check_in(items, sections, f"{where}: items")
    items["re"] = {k: _compile(items[k], f"{where}: items.{k}")
                   for k in ("start", "split", "head", "sku", "name", "unit_price", "qty", "price", "option")
                   if k in items}
    if "start" not in items["re"] and "split" not in items["re"]:
        raise SpecError(f"{where}: items: give start (a line that begins an item) or split")
    return MailSpec(
        cart=data.get("cart", path.stem), title=data.get("title", path.stem),
        subjects=[_compile(p, f"{where}: match.subject") for p in match["subject"]],
        senders=[_compile(p, f"{where}: match.sender") for p in match.get("sender", [])],
        sections=sections, fields=fields, addresses=addresses, items=items,
        hook=data.get("hook", ""), path=where, none_values=data.get("none_values", ["指定なし", "なし"]),
    )


def _check_in(table: dict, sections: dict, where: str) -> None:
    if "in" in table and table["in"] not in sections:
        raise SpecError(f"{where}.in: no section named {table['in']!r}")


def available_carts(spec_dir: Path = SPEC_DIR) -> list[str]:
    return sorted(p.stem for p in spec_dir.glob("*.toml"))


class _Text:
    """The body as the spec sees it: full-width ASCII folded, with a way back to line numbers."""

    def __init__(self, text: str):
        self.text = jp.half_width(text)

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def section(self, spec: MailSpec, name: str | None) -> tuple[str, int]:
        """(text, offset) of a section, or of the whole body when name is None."""
        if not name:
            return self.text, 0
        sec = spec.sections[name]
        m = sec.start.search(self.text)
        if not m:
            return "", 0
        begin = self.text.rfind("\n", 0, m.start()) + 1
        end = len(self.text)
        if sec.end:
            after = self.text.find("\n", m.end())
            e = sec.end.search(self.text, after + 1) if after >= 0 else None
            if e:
                end = e.start()
        return self.text[begin:end], begin


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


def _group(m: re.Match, name: str) -> str:
    if name in m.re.groupindex:
        return m.group(name) or ""
    return (m.group(1) if m.re.groups else m.group(0)) or ""


def _scalars(spec: MailSpec, body: _Text) -> dict:
    out: dict = {}
    for name, f in spec.fields.items():
        text, base = body.section(spec, f.get("in"))
        m = f["re"].search(text)
        raw = _group(m, name) if m else ""
        if not raw.strip():
            if f.get("required"):
                raise ParseError(f"{name} not found (spec {spec.cart}: field.{name})", field=name)
            continue
        if jp.clean_text(raw) in spec.none_values:
            continue
        out[name] = _convert(raw, f.get("type", SCALAR_FIELDS[name]), name,
                             body.line_of(base + m.start()))
    return out


def _address(spec: MailSpec, body: _Text, role: str) -> Address:
    a = spec.addresses.get(role)
    if not a:
        return Address()
    text, base = body.section(spec, a.get("in"))
    got = {}
    for part, pattern in a["re"].items():
        m = pattern.search(text)
        if m:
            got[part] = jp.clean_text(_group(m, part))
    postal = ""
    if got.get("postal"):
        try:
            postal = jp.postal_code(got["postal"])
        except jp.ValueProblem as exc:
            raise ParseError(str(exc), field=f"{role}.postal_code", line=body.line_of(base)) from None
    pref, rest = jp.split_prefecture(got.get("address", ""))
    return Address(name=re.sub(r"\s*様$", "", got.get("name", "")), postal_code=postal,
                   prefecture=pref, address=rest, phone=jp.phone(got.get("phone", "")),
                   email=got.get("email", "").lower())


def _item_blocks(spec: MailSpec, body: _Text) -> list[tuple[str, int]]:
    items = spec.items
    text, base = body.section(spec, items.get("in"))
    if "start" in items["re"]:
        starts = [m.start() for m in items["re"]["start"].finditer(text)]
        bounds = list(zip(starts, starts[1:] + [len(text)]))
    else:
        cuts = [(m.start(), m.end()) for m in items["re"]["split"].finditer(text)]
        edges = [0] + [c for pair in cuts for c in pair] + [len(text)]
        bounds = list(zip(edges[0::2], edges[1::2]))
    return [(text[s:e], base + s) for s, e in bounds]


def _lines(spec: MailSpec, body: _Text) -> list[OrderLine]:
    regexes = spec.items["re"]
    lines: list[OrderLine] = []
    for block, offset in _item_blocks(spec, body):
        got: dict[str, str] = {}
        for key in ("head", "price", "sku", "name", "unit_price", "qty"):
            if key in regexes and (m := regexes[key].search(block)):
                pat = regexes[key]
                pairs = ({g: m.group(g) for g in pat.groupindex} if pat.groupindex
                         else {key: m.group(1) if pat.groups else m.group(0)})
                for gname, val in pairs.items():
                    if gname in ITEM_FIELDS and gname not in got and val is not None:
                        got[gname] = val
        if not any(k in got for k in ("unit_price", "qty")):
            continue  # a block of totals or notes, not an item
        where = body.line_of(offset)
        for key in ITEM_FIELDS:
            if not got.get(key, "").strip():
                raise ParseError(f"item {len(lines) + 1}: {key} not found", field=f"lines.{key}", line=where)
        options = tuple(jp.clean_text(m.group(1) if m.re.groups else m.group(0))
                        for m in regexes["option"].finditer(block)) if "option" in regexes else ()
        lines.append(OrderLine(
            channel_sku=jp.clean_text(got["sku"]), name=jp.clean_text(got["name"]),
            qty=_convert(got["qty"], "int", "lines.qty", where),
            unit_price=_convert(got["unit_price"], "amount", "lines.unit_price", where),
            options=tuple(o for o in options if o)))
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


def parse_with_spec(spec: MailSpec, view: MailView, shop: str) -> OrderRecord:
    body = _Text(view.text)
    values = _scalars(spec, body)
    if "order_no" not in values:
        raise ParseError(f"order number not found (spec {spec.cart})", field="order_no")
    lines = _lines(spec, body)
    if not lines:
        raise ParseError("no order lines found", field="lines")
    for n, line in enumerate(lines, 1):
        if line.qty <= 0:
            raise ParseError(f"item {n} ({line.channel_sku}): quantity {line.qty} is not positive",
                             field="lines.qty")
    record = OrderRecord(
        shop=shop, order_no=values["order_no"], ordered_at=_ordered_at(values, view),
        lines=tuple(lines), total=values.get("total", 0),
        buyer=_address(spec, body, "buyer"), ship_to=_address(spec, body, "ship_to"),
        payment_method=values.get("payment_method", ""), delivery_method=values.get("delivery_method", ""),
        requested_date=values.get("requested_date"), requested_time=values.get("requested_time", ""),
        shipping_fee=values.get("shipping_fee", 0), cod_fee=values.get("cod_fee", 0),
        discount=values.get("discount", 0), note=values.get("note", ""), source="mail")
    if spec.hook:
        record = _run_hook(spec.hook, record, view)
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
