"""A cart mail spec (parsers/mail/<cart>.toml) loaded and checked: its patterns and labels compiled, as data."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import read_toml, validate
from tsunagi.parsers import linear
from tsunagi.parsers import speclabels as labels
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
    """A compiled label: a line that begins with it; its value is the rest of the line (speclabels.value_span)."""

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
    # (subject, sender) -> matches: a cart's mails share their subject and sender, and RE2 costs more
    # on a short str than the rest of the test
    _matched: dict = field(default_factory=dict, repr=False, compare=False)

    def matches(self, view: MailView) -> bool:
        key = (view.subject, view.sender)
        found = self._matched.get(key)
        if found is None:
            if len(self._matched) >= 4096:
                self._matched.clear()
            found = self._matched[key] = self._matches(*key)
        return found

    def _matches(self, subject: str, sender: str) -> bool:
        subject = jp.half_width(subject)
        subject_ok = any(p.search(subject) for p in self.subjects)
        sender_ok = not self.senders or any(p.search(sender) for p in self.senders)
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
