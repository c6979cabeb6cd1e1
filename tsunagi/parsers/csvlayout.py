"""CSV layouts as data (parsers/csv/<name>.toml or a table in config): read and checked here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from tsunagi.common.errors import TsunagiError

LAYOUT_DIR = Path(__file__).parent / "csv"
ENCODINGS = {"cp932": "cp932", "shift_jis": "cp932", "sjis": "cp932", "utf-8": "utf-8",
             "utf-8-sig": "utf-8-sig", "euc-jp": "euc_jp", "euc_jp": "euc_jp", "auto": "auto"}
TYPES = {"text", "code", "int", "amount", "datetime", "date", "postal", "phone", "status"}
ADDRESS = ("name", "postal_code", "prefecture", "address", "phone", "email")
ORDER_FIELDS = {
    "order_no": "code", "ordered_at": "datetime", "total": "amount", "shipping_fee": "amount",
    "cod_fee": "amount", "discount": "amount", "payment_method": "text", "delivery_method": "text",
    "requested_date": "date", "requested_time": "text", "note": "text", "status": "status",
    **{f"{who}.{part}": ("postal" if part == "postal_code" else "phone" if part == "phone" else "text")
       for who in ("buyer", "ship_to") for part in ADDRESS},
}
LINE_FIELDS = {"line.sku": "code", "line.name": "text", "line.qty": "int", "line.unit_price": "amount",
               "line.amount": "amount", "line.options": "text"}
STOCK_FIELDS = {"sku": "code", "location": "text", "lot": "text", "qty": "int"}
RESULT_FIELDS = {"key": "code", "tracking": "text", "ship_date": "date", "state": "status"}
KNOWN = {"stock": STOCK_FIELDS, "results": RESULT_FIELDS}
REQUIRED = {"orders": ("order_no", "ordered_at", "line.sku", "line.qty"), "stock": ("sku", "qty"),
            "results": ("key",)}
SPEC_KEYS = {"column", "columns", "sep", "value", "type", "required", "default", "map", "split", "index",
             "formats", "none"}
TOP_KEYS = {"title", "kind", "encoding", "delimiter", "skip_rows", "rows", "max_items", "fields",
            "detect", "quote", "timezone", "header", "check_digit"}


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
    kind: str                         # "orders" or "stock"
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


def _field(where: str, name: str, raw, known: dict[str, str]) -> FieldSpec:
    if name not in known:
        raise LayoutError(f"{where}: fields.{name}: unknown field (known: {', '.join(sorted(known))})")
    if isinstance(raw, str):
        raw = {"column": raw}
    if not isinstance(raw, dict):
        raise LayoutError(f"{where}: fields.{name}: give a column name or a table")
    extra = set(raw) - SPEC_KEYS
    if extra:
        raise LayoutError(f"{where}: fields.{name}.{sorted(extra)[0]}: unknown key "
                          f"(allowed: {', '.join(sorted(SPEC_KEYS))})")
    columns = [raw["column"]] if "column" in raw else list(raw.get("columns", []))
    if not columns and "value" not in raw:
        raise LayoutError(f"{where}: fields.{name}: give column, columns or value")
    kind = raw.get("type", known[name])
    if kind not in TYPES:
        raise LayoutError(f"{where}: fields.{name}.type: {kind!r} (use one of {', '.join(sorted(TYPES))})")
    mapping = raw.get("map", {})
    if not isinstance(mapping, dict):
        raise LayoutError(f"{where}: fields.{name}.map: must be a table of value = value")
    return FieldSpec(name=name, type=kind, columns=tuple(str(c) for c in columns), sep=str(raw.get("sep", "")),
                     value=None if "value" not in raw else str(raw["value"]),
                     required=bool(raw.get("required", False)), default=str(raw.get("default", "")),
                     map=tuple((str(k), str(v)) for k, v in mapping.items()), split=str(raw.get("split", "")),
                     index=int(raw.get("index", 0)), formats=tuple(raw.get("formats", ())),
                     none=tuple(raw.get("none", ())))


def parse_layout(data: dict, name: str, where: str) -> CsvLayout:
    """A layout from its TOML table; every mistake names where and which key."""
    extra = set(data) - TOP_KEYS
    if extra:
        raise LayoutError(f"{where}: {sorted(extra)[0]}: unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
    kind = data.get("kind", "orders")
    if kind not in REQUIRED:
        raise LayoutError(f"{where}: kind: {kind!r} (use orders, stock or results)")
    encoding = str(data.get("encoding", "auto")).lower()
    if encoding not in ENCODINGS:
        raise LayoutError(f"{where}: encoding: {encoding!r} (use one of {', '.join(sorted(ENCODINGS))})")
    rows = data.get("rows", "per_line")
    if rows not in ("per_line", "per_order"):
        raise LayoutError(f"{where}: rows: {rows!r} (use per_line or per_order)")
    delimiter = data.get("delimiter", ",")
    if len(delimiter) != 1:
        raise LayoutError(f"{where}: delimiter: must be one character (\"\\t\" for tab), not {delimiter!r}")
    known = {**ORDER_FIELDS, **LINE_FIELDS} if kind == "orders" else KNOWN[kind]
    fields = {}
    for fname, raw in _flatten(data.get("fields", {})).items():
        spec = _field(where, fname, raw, known)
        if fname in REQUIRED[kind] and "value" not in (raw if isinstance(raw, dict) else {}):
            spec = FieldSpec(**{**spec.__dict__, "required": True})
        fields[fname] = spec
    missing = [f for f in REQUIRED[kind] if f not in fields]
    if missing:
        raise LayoutError(f"{where}: fields.{missing[0]}: required for a {kind} layout")
    max_items = int(data.get("max_items", 0))
    if rows == "per_order" and max_items < 1:
        raise LayoutError(f"{where}: max_items: a per_order layout numbers its items ({{n}}) up to max_items")
    timezone = data.get("timezone", "JST")
    if timezone not in ("JST", "UTC"):
        raise LayoutError(f"{where}: timezone: {timezone!r} (use JST or UTC)")
    return CsvLayout(name=name, title=str(data.get("title", name)), kind=kind, encoding=ENCODINGS[encoding],
                     delimiter=delimiter, skip_rows=int(data.get("skip_rows", 0)), rows=rows,
                     max_items=max_items, fields=fields, detect=tuple(data.get("detect", ())),
                     quote=str(data.get("quote", '"')), timezone=timezone, path=where,
                     header=bool(data.get("header", True)), check_digit=str(data.get("check_digit", "")))


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
