"""CSV layouts as data (parsers/csv/<name>.toml or a table in config): read and checked here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import validate
from tsunagi.parsers.layoutfile import FieldTable, LayoutFile

LAYOUT_DIR = Path(__file__).parent / "csv"
ADDRESS = ("name", "postal_code", "prefecture", "address", "phone", "email", "kana")
ORDER_FIELDS = {
    "order_no": "code", "ordered_at": "datetime", "total": "amount", "shipping_fee": "amount",
    "cod_fee": "amount", "discount": "amount", "payment_method": "text", "delivery_method": "text",
    "requested_date": "date", "requested_time": "text", "note": "text", "status": "status",
    **{f"{who}.{part}": ("postal" if part == "postal_code" else "phone" if part == "phone" else "text")
       for who in ("buyer", "ship_to") for part in ADDRESS},
}
LINE_FIELDS = {"line.sku": "code", "line.name": "text", "line.qty": "int", "line.unit_price": "amount",
               "line.amount": "amount", "line.options": "text"}
STOCK_FIELDS = {"sku": "code", "location": "text", "lot": "text", "qty": "int", "counted_at": "datetime"}
RESULT_FIELDS = {"key": "code", "tracking": "text", "ship_date": "date", "state": "status"}
PRODUCT_FIELDS = {"sku": "code", "name": "text", "components": "text", "channel_sku": "code", "shop": "text",
                  "tags": "text"}
# A channel's own stock download: its code as one field (channel_sku) or as code and subcode ("code:subcode").
CHANNEL_STOCK_FIELDS = {"channel_sku": "code", "code": "code", "subcode": "code", "qty": "int"}
KNOWN = {"stock": STOCK_FIELDS, "results": RESULT_FIELDS, "products": PRODUCT_FIELDS,
         "channel_stock": CHANNEL_STOCK_FIELDS}
REQUIRED = {"orders": ("order_no", "ordered_at", "line.sku", "line.qty"), "stock": ("sku", "qty"),
            "results": ("key",), "products": ("sku",), "channel_stock": ("qty",)}


class LayoutError(TsunagiError, ValueError):
    """A layout file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    columns: tuple[str, ...] = ()
    sep: str = ""
    value: str | None = None          # a constant instead of columns
    required: bool = False
    default: str = ""
    map: tuple[tuple[str, str], ...] = ()
    split: str = ""                   # take one part of the value split on this
    index: int = 0
    formats: tuple[str, ...] = ()     # extra date formats (strptime)
    none: tuple[str, ...] = ()        # values that mean "no value" (e.g. 指定なし)

    def numbered(self, n: int) -> "FieldSpec":
        """The spec for item n of a one-row-per-order file: '{n}' in a column name becomes n."""
        cols = tuple(c.replace("{n}", str(n)) for c in self.columns)
        return FieldSpec(**{**self.__dict__, "columns": cols})


@dataclass(frozen=True)
class CsvLayout:
    name: str
    title: str
    kind: str                         # "orders", "stock", "results", "products" or "channel_stock"
    encoding: str                     # a Python codec name, or "auto"
    delimiter: str
    skip_rows: int
    rows: str                         # "per_line" or "per_order"
    max_items: int
    fields: dict[str, FieldSpec]
    detect: tuple[str, ...]           # header columns that identify this layout
    quote: str = '"'
    timezone: str = "JST"             # naive times in the file are in this zone: JST or UTC
    path: str = ""
    header: bool = True               # False: no header row; columns are named by number, "1", "2", …
    check_digit: str = ""             # "mod7": a tracking number's last digit is the rest mod 7
    number_format: str = ""           # whose tracking numbers (parsers/tracking.py); "": the carrier's

    @property
    def numbers(self) -> str:
        """The tracking-number format rows are checked against (the older check_digit key counts too)."""
        return self.number_format or ("mod7" if self.check_digit else "")

    @property
    def columns_needed(self) -> set[str]:
        """Columns that must be in the header: those of required fields, and the detect list."""
        out = set(self.detect)
        for spec in self.fields.values():
            if spec.required:
                out.update(c for c in spec.columns if "{n}" not in c)
                out.update(c.replace("{n}", "1") for c in spec.columns if "{n}" in c)
        return out


def available(extra_dirs: tuple[Path, ...] = ()) -> list[str]:
    names = {p.stem for d in (LAYOUT_DIR, *extra_dirs) for p in Path(d).glob("*.toml")}
    return sorted(names)


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    """{'buyer': {'name': {...}}} -> {'buyer.name': {...}}; a leaf is a string or a spec table."""
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not (set(value) & {"column", "columns", "value"}):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _field(name: str, raw, known: dict[str, str], problems: list[str]) -> FieldSpec | None:
    """One field's spec, or None with its mistakes added to problems."""
    if name not in known:
        problems.append(f"fields.{name}: unknown field (known: {', '.join(sorted(known))})")
        return None
    table, found = validate(FieldTable, {"column": raw} if isinstance(raw, str) else raw)
    if table is None:
        problems.extend(f"fields.{name}.{p}" if not p.startswith("fields") else p for p in found)
        return None
    columns = [table.column] if table.column else table.columns
    if not columns and table.value is None:
        problems.append(f"fields.{name}: give column, columns or value")
        return None
    return FieldSpec(name=name, type=table.type or known[name], columns=tuple(columns), sep=table.sep,
                     value=None if table.value is None else str(table.value), required=table.required,
                     default=str(table.default), map=tuple((k, str(v)) for k, v in table.map.items()),
                     split=table.split, index=table.index, formats=tuple(table.formats), none=tuple(table.none))


def parse_layout(data: dict, name: str, where: str) -> CsvLayout:
    """A layout from its TOML table; every mistake names where and which key, all of them at once."""
    top, problems = validate(LayoutFile, data)
    if top is None:
        raise LayoutError("\n".join(f"{where}: {p}" for p in problems))
    known = {**ORDER_FIELDS, **LINE_FIELDS} if top.kind == "orders" else KNOWN[top.kind]
    fields = {}
    for fname, raw in _flatten(top.fields).items():
        spec = _field(fname, raw, known, problems)
        if spec and fname in REQUIRED[top.kind] and spec.value is None:
            spec = FieldSpec(**{**spec.__dict__, "required": True})
        if spec:
            fields[fname] = spec
    problems += [f"fields.{f}: required for a {top.kind} layout" for f in REQUIRED[top.kind] if f not in fields
                 and not any(p.startswith(f"fields.{f}") for p in problems)]
    if top.kind == "channel_stock" and not ({"channel_sku", "code"} & fields.keys()):
        problems.append("fields.channel_sku: give channel_sku, or code (and subcode), for a channel_stock layout")
    if top.rows == "per_order" and top.max_items < 1:
        problems.append("max_items: a per_order layout numbers its items ({n}) up to max_items")
    if problems:
        raise LayoutError("\n".join(f"{where}: {p}" for p in problems))
    return CsvLayout(name=name, title=top.title or name, kind=top.kind, encoding=top.encoding,
                     delimiter=top.delimiter, skip_rows=top.skip_rows, rows=top.rows, max_items=top.max_items,
                     fields=fields, detect=tuple(top.detect), quote=top.quote, timezone=top.timezone, path=where,
                     header=top.header, check_digit=top.check_digit,
                     number_format=top.number_format)


def load(name: str, extra_dirs: tuple[Path, ...] = (), inline: dict | None = None) -> CsvLayout:
    """A layout by name: a table given in config first, then user folders, then the shipped ones."""
    if inline and name in inline:
        return parse_layout(inline[name], name, f"config csv_layout.{name}")
    for folder in (*extra_dirs, LAYOUT_DIR):
        path = Path(folder) / f"{name}.toml"
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise LayoutError(f"{path}: not valid TOML: {exc}") from None
            return parse_layout(data, name, str(path))
    known = sorted(set(available(extra_dirs)) | set(inline or {}))
    raise LayoutError(f"no CSV layout {name!r} (known: {', '.join(known)})")
