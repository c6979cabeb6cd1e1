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
from tsunagi.parsers import speclabels as labels
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView
from tsunagi.parsers.specfile import Label, SpecFile

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
# OrderRecord.channel_status of an order a partial mail made (spec waits_for): the order CSV completes it.
AWAITING_REPORT = "awaiting_report"
# OrderRecord.channel_status of each kind of mail but a whole order ("cancelled" is the domain's own word)
KIND_STATUS = {"item": "item_mail", "change": "changed", "cancel": "cancelled"}
# Values read from the start of a label's value: a code ends at the first space.
FIRST_TOKEN = {"order_no"}


@dataclass
class Section:
    start: object        # compiled by parsers.linear
    end: object | None


class LabelLine:
    """A compiled label: a line that begins with it; its value is the rest of the line (speclabels.value)."""

    def __init__(self, compiled):
        self.re = compiled
        self.search, self.finditer, self.pattern = compiled.search, compiled.finditer, compiled.pattern


@dataclass
class Trace:
    """What a parse found and where: for `tsunagi spec test` and `spec learn` (the parse itself needs none)."""
    spec: str = ""                                                    # the cart whose spec read it
    found: dict[str, tuple[str, int]] = field(default_factory=dict)   # name -> (value as read, line)
    missing: list[str] = field(default_factory=list)
    items: list[tuple[str, int]] = field(default_factory=list)        # (sku, line)


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
    waits_for: str = ""     # "order_csv": the mail is not the whole order (no prices, no total)
    kind: str = "order"     # or "item", "change", "cancel" (KIND_STATUS)

    def matches(self, view: MailView) -> bool:
        subject = jp.half_width(view.subject)
        subject_ok = any(p.search(subject) for p in self.subjects)
        sender_ok = not self.senders or any(p.search(view.sender) for p in self.senders)
        return subject_ok and sender_ok


class SpecError(TsunagiError, ValueError):
    """A mail spec file that cannot be used; the message names the file and the key."""


class _Patterns:
    """Compiles a spec's patterns and labels, collecting every bad one instead of stopping at the first."""

    def __init__(self, groups: tuple[tuple[str, ...], ...] = labels.SYNONYMS):
        self.problems: list[str] = []
        self.groups = groups

    def __call__(self, pattern, where: str):
        if isinstance(pattern, Label):
            return LabelLine(labels.compile_label(pattern.label, self.groups))
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
    compiled = _Patterns(labels.SYNONYMS + tuple(tuple(g) for g in spec.synonyms))
    out = _build(spec, path, compiled)
    problems = compiled.problems + _section_problems(spec)
    if problems:
        raise SpecError("\n".join(f"{path}: {p}" for p in problems))
    return out


def _build(spec: SpecFile, path: Path, compiled: _Patterns) -> MailSpec:
    sections = {name: Section(compiled(s.start, f"sections.{name}.start"),
                              compiled(s.end, f"sections.{name}.end") if s.end else None)
                for name, s in spec.sections.items()}
    fields = {name: {"re": compiled(Label(label=f.label) if f.label else f.find, f"field.{name}.find"),
                     "in": f.in_, "required": f.required, **({"type": f.type} if f.type else {})}
              for name, f in spec.field.items()}
    addresses = {name: {"in": a.in_, "re": {p: compiled(getattr(a, p), f"address.{name}.{p}")
                                            for p in ADDRESS_PARTS if getattr(a, p)}}
                 for name, a in spec.address.items()}
    items = {"in": spec.items.in_, "re": {k: compiled(getattr(spec.items, k), f"items.{k}") for k in ITEM_PATTERNS
                                          if getattr(spec.items, k)}}
    if spec.items.unit_x_qty:
        items["re"]["unit_x_qty"] = linear.compile(labels.UNIT_X_QTY)
    return MailSpec(
        cart=spec.cart or path.stem, title=spec.title or path.stem,
        subjects=[compiled(p, "match.subject") for p in spec.match.subject],
        senders=[compiled(p, "match.sender") for p in spec.match.sender],
        sections=sections, fields=fields, addresses=addresses, items=items,
        hook=spec.hook, path=str(path), none_values=spec.none_values,
        waits_for=spec.waits_for, kind=spec.kind)


def _section_problems(spec: SpecFile) -> list[str]:
    """Sections named by "in" that the spec does not define, and an item block with no way to start."""
    named = [(f"field.{n}.in", f.in_) for n, f in spec.field.items()] + \
            [(f"address.{n}.in", a.in_) for n, a in spec.address.items()] + [("items.in", spec.items.in_)]
    out = [f"{where}: no section named {name!r}" for where, name in named if name and name not in spec.sections]
    labelled = isinstance(spec.items.sku, Label) or isinstance(spec.items.name, Label)
    if not (spec.items.start or spec.items.split or labelled):
        out.append("items: give start (a line that begins an item), split, or sku or name as a label")
    return out


def available_carts(spec_dir: Path = SPEC_DIR) -> list[str]:
    return sorted(p.stem for p in spec_dir.glob("*.toml"))


class _Text:
    """The body as the spec sees it: full-width ASCII folded, as UTF-8 bytes (RE2 reads bytes three times
    faster than str), with a way back to line numbers and to the mail's own characters (the folding maps
    one character to one, so character offsets are the same in both)."""

    def __init__(self, text: str):
        self.raw = text
        self.text = jp.half_width(text)
        self.data = self.text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(self.text)
        self._breaks: list[int] | None = None
        self._sections: dict[tuple, tuple[bytes, int]] = {}
        self._found: dict[tuple, object] = {}     # (pattern, where) -> what it found: several specs, one search

    def chars(self, offset: int) -> int:
        """A byte offset as a character offset."""
        return offset if self._ascii else len(self.data[:offset].decode("utf-8", "surrogatepass"))

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


def _span(pattern, m, name: str) -> tuple[int, int]:
    """Where the value is in the match: a label's value, or the pattern's group (by number: RE2's match
    takes no group names here)."""
    return labels.value_span(m) if isinstance(pattern, LabelLine) else m.span(_group_number(m, name))


def _label_value(value: str, kind: str, name: str) -> str:
    """A label gives the rest of its line: the amount, or the code, is picked out of it."""
    if kind in ("amount", "int"):
        return labels.amount_text(value).replace("-", "") if name == "discount" else labels.amount_text(value)
    return labels.first_token(value) if name in FIRST_TOKEN else value


def _scalars(spec: MailSpec, body: _Text, trace: Trace | None) -> dict:
    out: dict = {}
    for name, f in spec.fields.items():
        text, base = body.section(spec, f.get("in"))
        m = body.search(f["re"], text, base)
        span = _span(f["re"], m, name) if m else (-1, -1)
        raw = text[span[0]:span[1]].decode() if m and span[0] >= 0 else ""
        if not raw.strip():
            if trace is not None:
                trace.missing.append(name)
            if f.get("required"):
                raise ParseError(f"{name} not found (spec {spec.cart}: field.{name})", field=name)
            continue
        kind = f.get("type", SCALAR_FIELDS[name])
        if isinstance(f["re"], LabelLine):
            raw = _label_value(raw, kind, name)
        if jp.clean_text(raw) in spec.none_values:
            continue
        if name in OWN_TEXT:
            raw = body.own(base, span)
        line = body.line_of(base + max(span[0], m.start()))
        out[name] = _convert(raw, kind, name, line)
        if trace is not None:
            trace.found[name] = (jp.clean_text(raw), line)
    return out


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
    text, base = body.section(spec, a.get("in"))
    got = {}
    for part, pattern in a["re"].items():
        m = body.search(pattern, text, base)
        if not m:
            if trace is not None:
                trace.missing.append(f"{role}.{part}")
            continue
        span = _span(pattern, m, part)
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
            bounds = [(s, (m.start() if (m := split.search(text, s + 1)) and m.start() < e else e))
                      for s, e in bounds]
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
            span = labels.value_span(m)
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
