"""The engine that applies a declarative cart mail spec (parsers/mail/<cart>.toml) to a MailView."""
from __future__ import annotations

import bisect
import email.utils
import importlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import read_toml, validate
from tsunagi.oms.records import Address, OrderLine, OrderRecord
from tsunagi.parsers import linear
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView
from tsunagi.parsers.specfile import SpecFile

SPEC_DIR = Path(__file__).parent / "mail"

SCALAR_FIELDS = {
    "order_no": "text", "ordered_at": "datetime", "payment_method": "text",
    "delivery_method": "text", "requested_date": "date", "requested_time": "text",
    "shipping_fee": "amount", "cod_fee": "amount", "discount": "amount", "subtotal": "amount",
    "total": "amount", "note": "text",
}
ADDRESS_PARTS = ("name", "postal", "address", "phone", "email")
# Free text read as the mail wrote it; every other scalar (codes, amounts, dates, and the names of payment
# and delivery methods and time slots that the shop's tables map) is read width-folded.
OWN_TEXT = {"note"}
ITEM_FIELDS = {"sku": "text", "name": "text", "unit_price": "amount", "qty": "int"}
ITEM_PATTERNS = ("start", "split", "head", "sku", "name", "unit_price", "qty", "price", "option")


@dataclass
class Section:
    start: object        # compiled by parsers.linear
    end: object | None


@dataclass
class MailSpec:
    """One cart's order mail, as data."""
    cart: str
    title: str
    subjects: list          # compiled by parsers.linear, as every pattern of a spec
    senders: list
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


class _Patterns:
    """Compiles a spec's patterns, collecting every bad one instead of stopping at the first."""

    def __init__(self):
        self.problems: list[str] = []

    def __call__(self, pattern: str, where: str):
        try:
            return linear.compile(pattern)
        except linear.SlowPattern as exc:
            self.problems.append(f"{where}: bad regular expression {pattern!r}: {exc}")
            return linear.compile("$^x")      # never matches; the spec is refused anyway


def load_spec(path: Path) -> MailSpec:
    """Read and check a spec file; every mistake is named with the file and the key, all at once."""
    try:
        data = read_toml(path)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {exc}") from None
    spec, problems = validate(SpecFile, data)
    if spec is None:
        raise SpecError("\n".join(f"{path}: {p}" for p in problems))
    compiled = _Patterns()
    out = _build(spec, path, compiled)
    problems = compiled.problems + _section_problems(spec)
    if problems:
        raise SpecError("\n".join(f"{path}: {p}" for p in problems))
    return out


def _build(spec: SpecFile, path: Path, compiled: _Patterns) -> MailSpec:
    sections = {name: Section(compiled(s.start, f"sections.{name}.start"),
                              compiled(s.end, f"sections.{name}.end") if s.end else None)
                for name, s in spec.sections.items()}
    fields = {name: {"re": compiled(f.find, f"field.{name}.find"), "in": f.in_, "required": f.required,
                     **({"type": f.type} if f.type else {})} for name, f in spec.field.items()}
    addresses = {name: {"in": a.in_, "re": {p: compiled(getattr(a, p), f"address.{name}.{p}")
                                            for p in ADDRESS_PARTS if getattr(a, p)}}
                 for name, a in spec.address.items()}
    items = {"in": spec.items.in_, "re": {k: compiled(getattr(spec.items, k), f"items.{k}") for k in ITEM_PATTERNS
                                          if getattr(spec.items, k)}}
    return MailSpec(
        cart=spec.cart or path.stem, title=spec.title or path.stem,
        subjects=[compiled(p, "match.subject") for p in spec.match.subject],
        senders=[compiled(p, "match.sender") for p in spec.match.sender],
        sections=sections, fields=fields, addresses=addresses, items=items,
        hook=spec.hook, path=str(path), none_values=spec.none_values)


def _section_problems(spec: SpecFile) -> list[str]:
    """Sections named by "in" that the spec does not define, and an item block with no way to start."""
    named = [(f"field.{n}.in", f.in_) for n, f in spec.field.items()] + \
            [(f"address.{n}.in", a.in_) for n, a in spec.address.items()] + [("items.in", spec.items.in_)]
    out = [f"{where}: no section named {name!r}" for where, name in named if name and name not in spec.sections]
    if not (spec.items.start or spec.items.split):
        out.append("items: give start (a line that begins an item) or split")
    return out


def available_carts(spec_dir: Path = SPEC_DIR) -> list[str]:
    return sorted(p.stem for p in spec_dir.glob("*.toml"))


class _Text:
    """The body as the spec sees it: full-width ASCII folded, with a way back to line numbers and to the
    mail's own characters (the folding maps one character to one, so offsets are the same in both)."""

    def __init__(self, text: str):
        self.raw = text
        self.text = jp.half_width(text)
        self._breaks: list[int] | None = None

    def own(self, base: int, m: re.Match, name: str) -> str:
        """The matched group as the mail wrote it: free text keeps its ，, Ａ and １ (only codes, numbers,
        postcodes and phones are folded)."""
        start, end = m.span(_group_number(m, name))      # by number: RE2's match takes no group names here
        return self.raw[base + start:base + end] if start >= 0 else ""

    def line_of(self, offset: int) -> int:
        if self._breaks is None:        # found once, so many look-ups stay linear in the text's length
            self._breaks = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._breaks, offset) + 1

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


def _group_number(m: re.Match, name: str) -> int:
    """The group a field's pattern captures it in: its named group, else the first group, else the match."""
    return m.re.groupindex[name] if name in m.re.groupindex else (1 if m.re.groups else 0)


def _group(m: re.Match, name: str) -> str:
    return m.group(_group_number(m, name)) or ""


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
        if name in OWN_TEXT:
            raw = body.own(base, m, name)
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
            got[part] = jp.clean_text(body.own(base, m, part) if part in ("name", "address") else _group(m, part))
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
                if "name" in pairs and pairs["name"] is not None:     # an item name is free text
                    pairs["name"] = body.own(offset, m, "name")
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
