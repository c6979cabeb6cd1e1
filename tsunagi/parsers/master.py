"""Product and stock-count CSVs (UTF-8 or CP932) to records, with row-numbered problems."""
from __future__ import annotations

import io
import re

import polars as pl

from tsunagi.common import japanese as jp
from tsunagi.oms.records import ProductRecord, StockRecord
from tsunagi.parsers.errors import ParseError


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else CP932: the two encodings shops' spreadsheets save in."""
    for codec in ("utf-8-sig", "cp932"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise ParseError("the file is neither UTF-8 nor Shift_JIS (CP932)", stage="decode", kind="encoding")


def _frame(data: bytes, required: tuple[str, ...]) -> pl.DataFrame:
    text = decode_csv(data)
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False).fill_null("")
    except Exception as exc:
        raise ParseError(f"not a readable CSV: {exc}", stage="csv", kind="csv") from None
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ParseError(f"missing column(s): {', '.join(missing)} (found: {', '.join(frame.columns)})",
                         stage="csv", field=missing[0], kind="missing_column")
    return frame


def _components(text: str, row: int) -> tuple[tuple[str, int], ...]:
    """'A-1*2;B-1' -> (('A-1', 2), ('B-1', 1))."""
    out = []
    for part in filter(None, (p.strip() for p in re.split(r"[;|]", text))):
        sku, _, qty = part.partition("*")
        if not qty.strip().isdigit() and qty.strip():
            raise ValueError(f"row {row}: component {part!r}: quantity must be a whole number")
        out.append((sku.strip(), int(qty) if qty.strip() else 1))
    return tuple(out)


def parse_products(data: bytes) -> tuple[list[ProductRecord], list[str]]:
    """Columns: sku, name; optional components ('A*2;B'), channel_sku, shop, tags ('wms;fragile')."""
    frame = _frame(data, ("sku", "name"))
    records, problems = [], []
    for n, row in enumerate(frame.iter_rows(named=True), 2):
        sku = jp.clean_text(row["sku"] or "")
        if not sku:
            problems.append(f"row {n}: sku is empty")
            continue
        try:
            parts = _components(row.get("components") or "", n)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        tags = tuple(t for t in re.split(r"[;|\s]+", jp.clean_text(row.get("tags") or "")) if t)
        records.append(ProductRecord(sku, jp.clean_text(row["name"] or ""), parts,
                                     jp.clean_text(row.get("channel_sku") or ""), jp.clean_text(row.get("shop") or ""),
                                     tags))
    return records, problems


def parse_counts(data: bytes) -> tuple[list[StockRecord], list[str]]:
    """Columns: sku, location, lot, qty: absolute counts."""
    frame = _frame(data, ("sku", "location", "qty"))
    records, problems = [], []
    for n, row in enumerate(frame.iter_rows(named=True), 2):
        sku = jp.clean_text(row["sku"] or "")
        try:
            qty = jp.parse_int(row["qty"] or "")
        except jp.ValueProblem:
            problems.append(f"row {n}: qty {row['qty']!r} is not a whole number")
            continue
        if not sku:
            problems.append(f"row {n}: sku is empty")
        elif qty < 0:
            problems.append(f"row {n}: qty {qty} is negative")
        else:
            records.append(StockRecord(sku, jp.clean_text(row["location"] or "") or "main",
                                       jp.clean_text(row.get("lot") or ""), qty))
    return records, problems
