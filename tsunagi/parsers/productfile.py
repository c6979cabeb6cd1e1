"""A products CSV read through a products layout: ProductRecords chunk by chunk, each refused row named."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import polars as pl

from tsunagi.common import japanese as jp
from tsunagi.oms.records import ProductRecord
from tsunagi.parsers.csvfields import RowProblem, check_header, type_frame
from tsunagi.parsers.csvlayout import CsvLayout
from tsunagi.parsers.csvread import Decoded, decode_to_utf8, frames


@dataclass
class ProductChunk:
    first_row: int
    rows: int
    products: list[tuple[ProductRecord, int]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def components(text: str) -> tuple[tuple[str, int], ...]:
    """'A-1*2;B-1' -> (('A-1', 2), ('B-1', 1)); a ValueError naming the part that is not that."""
    out = []
    for part in filter(None, (p.strip() for p in re.split(r"[;|]", text))):
        sku, star, qty = (jp.half_width(s).strip() for s in part.partition("*"))   # codes fold as in orders
        if not sku or (star and not (qty.isdigit() and int(qty) > 0)):
            raise ValueError(f"セット構成 {part!r} が読めません (商品コード*数量 を ; で区切ります)")
        out.append((sku, int(qty) if qty else 1))
    return tuple(out)


def parse_products(src: BinaryIO, layout: CsvLayout, scratch) -> tuple[Decoded, Iterator[ProductChunk]]:
    """Decode and check the whole file first (encoding, quotes, header), as for order files, then its chunks."""
    decoded = decode_to_utf8(src, scratch, layout.encoding, layout.delimiter, layout.skip_rows, layout.header)
    check_header(layout, decoded.header)
    return decoded, _chunks(decoded, layout)


def _chunks(decoded: Decoded, layout: CsvLayout) -> Iterator[ProductChunk]:
    for first_row, frame in frames(decoded, layout.delimiter, layout.quote):
        out, problems = type_frame(frame, layout, layout.fields, first_row)
        chunk = ProductChunk(first_row, frame.height, problems=problems)
        for row in out.filter(~pl.col("_bad")).iter_rows(named=True):
            try:
                parts = components(row.get("components") or "")
            except ValueError as exc:
                chunk.problems.append(RowProblem(row["_row"], "components", row["components"],
                                                 f"行 {row['_row']}: {exc}"))
                continue
            tags = tuple(t for t in re.split(r"[;|\s]+", row.get("tags") or "") if t)
            chunk.products.append((ProductRecord(row["sku"], row.get("name") or "", parts,
                                                 row.get("channel_sku") or "", row.get("shop") or "", tags),
                                   row["_row"]))
        yield chunk
