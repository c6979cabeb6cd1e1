"""Payment files (bank statements, settlement CSVs) as data layouts (parsers/payments/*.toml) → PaymentRecords."""
from __future__ import annotations

import io
import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import Strict, validate
from tsunagi.oms.records import PaymentRecord

LAYOUT_DIR = Path(__file__).parent / "payments"


class PaymentLayoutError(TsunagiError, ValueError):
    """A payment layout that does not exist or cannot be used."""


class Slice(Strict):
    """A fixed record's field: 1-based start and length in bytes (and the value a filter wants)."""
    start: int = Field(ge=1)
    length: int = Field(ge=1)
    value: str = ""


class Column(Strict):
    column: str = ""           # a CSV layout's header name
    start: int = 0             # a fixed layout's 1-based byte position
    length: int = 0
    wareki: bool = False       # YYMMDD in the era of era_base
    optional: bool = False     # a CSV column that may be missing


class Fields(Strict):
    date: Column
    amount: Column
    payer: Column
    reference: Column | None = None


class PaymentLayout(Strict):
    description: str = ""
    format: Literal["csv", "fixed"]
    encoding: str = "auto"
    delimiter: str = ","
    record_length: int = 0
    record: Slice | None = None        # which fixed records are data
    keep: Slice | None = None          # which data records are payments (deposits)
    era_base: int = 2018
    fields: Fields


def names() -> list[str]:
    return sorted(p.stem for p in LAYOUT_DIR.glob("*.toml"))


def load(name: str) -> PaymentLayout:
    path = LAYOUT_DIR / f"{name}.toml"
    if not path.is_file():
        raise PaymentLayoutError(f"unknown payment layout {name!r}: use one of {', '.join(names())}")
    layout, problems = validate(PaymentLayout, tomllib.loads(path.read_text(encoding="utf-8")))
    if problems:
        raise PaymentLayoutError(f"payment layout {name}: {problems[0]}")
    return layout


def read(data: bytes, layout: PaymentLayout) -> tuple[list[PaymentRecord], list[str]]:
    """The file's payments, and one line for each row that could not be read (the others still count)."""
    if layout.format == "fixed":
        return _typed(_fixed_rows(data, layout), layout)
    return _typed(_csv_rows(data, layout), layout)


def _decode(data: bytes, layout: PaymentLayout) -> str:
    """UTF-8 when the bytes are, else CP932 (banks' half-width kana fool a general guess: "auto" is only these two)."""
    if layout.encoding == "auto":
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    encoding = "cp932" if layout.encoding == "auto" else layout.encoding
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PaymentLayoutError(f"the file is not {encoding}: byte {exc.start}") from None


def _csv_rows(data: bytes, layout: PaymentLayout):
    try:
        frame = pl.read_csv(io.StringIO(_decode(data, layout)), separator=layout.delimiter, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise PaymentLayoutError("the file is empty: export the statement again") from None
    wanted = {name: spec for name, spec in layout.fields if spec is not None}
    missing = [s.column for s in wanted.values() if s.column not in frame.columns and not s.optional]
    if missing:
        raise PaymentLayoutError(f"the file has no column {missing[0]!r} (columns: {', '.join(frame.columns)})")
    columns = {name: frame[s.column].to_list() if s.column in frame.columns else [None] * frame.height
               for name, s in wanted.items()}
    for n in range(frame.height):
        yield n + 2, {name: values[n] or "" for name, values in columns.items()}


def _fixed_rows(data: bytes, layout: PaymentLayout):
    raw = data.replace(b"\r\n", b"").replace(b"\n", b"")     # with or without line breaks
    size = layout.record_length
    for n in range(0, len(raw), size):
        record = raw[n:n + size]
        if layout.record and _slice(record, layout.record) != layout.record.value:
            continue
        if layout.keep and _slice(record, layout.keep) != layout.keep.value:
            continue
        yield n // size + 1, {name: _slice(record, spec) for name, spec in layout.fields if spec is not None}


def _slice(record: bytes, spec) -> str:
    return record[spec.start - 1:spec.start - 1 + spec.length].decode("cp932", errors="replace").strip()


def _typed(rows, layout: PaymentLayout) -> tuple[list[PaymentRecord], list[str]]:
    out, problems = [], []
    for row, values in rows:
        try:
            out.append(PaymentRecord(row, _date(values["date"], layout), _amount(values["amount"]),
                                     jp.clean_text(values["payer"]), jp.clean_text(values.get("reference", ""))))
        except (ValueError, KeyError) as exc:
            problems.append(f"行 {row}: 取り込みません: {exc}")
    return out, problems


def _amount(text: str) -> int:
    amount = jp.parse_amount(text)
    if amount <= 0:
        raise ValueError(f"not a payment amount: {text!r}")
    return amount


def _date(text: str, layout: PaymentLayout) -> date:
    if layout.fields.date.wareki:
        if len(text) != 6 or not text.isdigit():
            raise ValueError(f"not a date (和暦 YYMMDD): {text!r}")
        return date(layout.era_base + int(text[:2]), int(text[2:4]), int(text[4:]))
    return jp.parse_date(text)
