"""An order or stock CSV to records, chunk by chunk, with each refused row's number and reason."""
from __future__ import annotations

import codecs
import csv
import io
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

import polars as pl

from tsunagi.common import japanese as jp
from tsunagi.common.safetext import looks_like_text, printable
from tsunagi.oms.records import (
    Address,
    ChannelStockRecord,
    OrderLine,
    OrderRecord,
    ProductRecord,
    ShipmentResult,
    StockRecord,
)
from tsunagi.parsers import csvknown
from tsunagi.parsers.csvfields import (
    LABELS,
    RowProblem,
    check_header,
    matches,
    type_frame,
)
from tsunagi.parsers.csvlayout import ADDRESS, CsvLayout, FieldSpec
from tsunagi.parsers.csvread import (
    SAMPLE,
    Decoded,
    decode_to_utf8,
    detect_encoding,
    frames,
    read_chunk,
)
from tsunagi.parsers.csvknown import Known, Plan
from tsunagi.parsers.csvraw import Raw, read_raw
from tsunagi.parsers import tracking
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.productfile import product


NOT_ORDERS = ("stock", "results", "products", "channel_stock")     # layout kinds decoded whole, never held


@dataclass
class Chunk:
    """What one chunk of the file gave: orders (each with its row numbers), stock counts, results or products."""
    first_row: int
    rows: int
    orders: list[tuple[OrderRecord, list[int]]] = field(default_factory=list)
    counts: list[tuple[StockRecord, int]] = field(default_factory=list)
    results: list[tuple[ShipmentResult, int]] = field(default_factory=list)
    products: list[tuple[ProductRecord, int]] = field(default_factory=list)
    reported: list[tuple[ChannelStockRecord, int]] = field(default_factory=list)   # a channel's stock download
    problems: list[RowProblem] = field(default_factory=list)
    unchanged: int = 0                      # orders left out: the store has them as these rows give them
    digests: dict[str, str] = field(default_factory=dict)    # order number -> digest of its rows, for orders


def peek_header(sample: bytes, layout: CsvLayout) -> list[str] | None:
    """The header as this layout would read it from the file's first bytes; None if it cannot."""
    codec = detect_encoding(sample) if layout.encoding == "auto" else layout.encoding
    try:
        text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise ParseError(f"byte {exc.start}: not valid {codec} ({exc.reason}); the file is in another encoding "
                         f"or damaged", stage="decode", kind="encoding") from None
    lines = text.split("\n", layout.skip_rows + 1)
    if len(lines) <= layout.skip_rows:
        return None
    row = next(csv.reader([lines[layout.skip_rows].rstrip("\r")], delimiter=layout.delimiter), [])
    if not layout.header:
        return [str(n) for n in range(1, len(row) + 1)]
    return [h.strip().lstrip("\ufeff") for h in row]


def choose_layout(sample: bytes, candidates: list[CsvLayout]) -> CsvLayout:
    """The first candidate whose needed columns are all in the file's header."""
    if len(candidates) == 1:
        return candidates[0]
    headers, errors = [], []
    for layout in candidates:
        try:
            header = peek_header(sample, layout)
        except ParseError as exc:
            errors.append(exc)
            continue
        if header and matches(layout, header):
            return layout
        headers.append(header)
    if errors and not headers:
        raise errors[0]       # no layout could even decode it: say where the bytes go wrong
    seen = next((h for h in headers if h), [])
    columns = ", ".join(seen[:10])
    shown = printable(columns) if looks_like_text(columns) else "テキストではないため表示しません"
    raise ParseError(f"どのレイアウトにも合いません (試したもの: {', '.join(c.name for c in candidates)}; "
                     f"ファイルの列: {shown})", stage="csv", kind="unknown_layout")


def read_sample(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SAMPLE)


def parse_file(src: BinaryIO, layout: CsvLayout, shop: str, scratch: Path,
               file_time: datetime | None = None, known: Known | None = None) -> tuple[Decoded, Iterator[Chunk]]:
    """Decode and check the whole file first (encoding, quotes, header), then yield its chunks.

    file_time: when the file was made; a stock count without a time column of its own was counted then.
    known (orders only) names the orders whose rows are as when last applied: they are counted, not made.
    An order file that fits in memory is kept in its own bytes: rows of known orders are never decoded (bytes
    the store applied were valid), every other chunk is decoded and checked before this returns."""
    if layout.kind not in NOT_ORDERS and (held := _held_orders(src, layout, shop, known)) is not None:
        return held
    decoded = decode_to_utf8(src, scratch, layout.encoding, layout.delimiter, layout.skip_rows, layout.header)
    check_header(layout, decoded.header)
    if layout.kind == "stock":
        return decoded, _stock_chunks(decoded, layout, file_time)
    if layout.kind == "results":
        return decoded, _result_chunks(decoded, layout)
    if layout.kind == "products":
        return decoded, _product_chunks(decoded, layout)
    if layout.kind == "channel_stock":
        return decoded, _channel_stock_chunks(decoded, layout)
    seeds = csvknown.seeds(layout, decoded.header, "")
    plan = csvknown.plan(csvknown.scan(decoded, layout, seeds), seeds, known)
    return decoded, _order_chunks(decoded, plan, layout, shop, known)


def parse_held(data: bytes, layout: CsvLayout, shop: str, known: Known | None = None
                ) -> tuple[Decoded, Iterator[Chunk]] | None:
    """parse_file of an order file's bytes already in hand (read once, no scratch file); None when they
    cannot be kept in their own bytes (not an order layout, too large, an encoding that cannot be cut)."""
    if layout.kind in NOT_ORDERS:
        return None
    return _held_orders(io.BytesIO(data), layout, shop, known)


def _held_orders(src: BinaryIO, layout: CsvLayout, shop: str, known: Known | None
                 ) -> tuple[Decoded, Iterator[Chunk]] | None:
    raw = read_raw(src, layout.encoding, layout.delimiter, layout.skip_rows, layout.header)
    if raw is None:
        return None
    check_header(layout, raw.header)
    return _raw_orders(raw, layout, shop, known)


def _raw_orders(raw: Raw, layout: CsvLayout, shop: str, known: Known | None) -> tuple[Decoded, Iterator[Chunk]]:
    """The orders of a file held in its own bytes: scanned there, and only the chunks that keep a row decoded
    (all of them before the first chunk is given, so a bad byte stops the file before anything is applied)."""
    seeds = csvknown.seeds(layout, raw.header, raw.encoding)
    scans, texts = csvknown.scan_raw(raw, layout, seeds)
    plan = csvknown.plan(scans, seeds, known)
    for index, _, hashes in scans:
        if index in texts:             # records spanning lines: decoded whole by the scan
            continue
        kept = csvknown.kept(hashes, plan.left_out)
        if kept is None or (kept is not False and kept.all()):
            texts[index] = raw.utf8(index)
        elif kept is not False:        # one line a record: only the lines of new or changed orders decoded
            plan.only_kept[index] = hashes["_row"].filter(kept)
            texts[index] = raw.lines_utf8(index, kept.arg_true().to_list())
    utf8 = [texts.get(i, b"") for i in range(len(raw.chunks))]
    cuts = list(itertools.accumulate(len(t) for t in utf8)) or [0]
    decoded = Decoded(Path(), raw.encoding, raw.header, 0, cuts, raw.first_row, utf8)
    return decoded, _order_chunks(decoded, plan, layout, shop, known)


def _stock_chunks(decoded: Decoded, layout: CsvLayout, file_time: datetime | None) -> Iterator[Chunk]:
    for first_row, frame in frames(decoded, layout.delimiter, layout.quote):
        out, problems = type_frame(frame, layout, layout.fields, first_row)
        chunk = Chunk(first_row, frame.height, problems=problems)
        has = {n: n in out.columns for n in ("location", "lot")}
        for row in out.filter(~pl.col("_bad")).iter_rows(named=True):
            counted = row.get("counted_at")     # the row's own time (JST, naive) where the layout has one
            chunk.counts.append((StockRecord(row["sku"], (row["location"] if has["location"] else "") or "main",
                                             (row["lot"] if has["lot"] else "") or "", row["qty"],
                                             counted.replace(tzinfo=jp.JST) if counted else file_time), row["_row"]))
        yield chunk


def _channel_stock_chunks(decoded: Decoded, layout: CsvLayout) -> Iterator[Chunk]:
    """A channel's figures: one ChannelStockRecord a row, the code written "code:subcode" where the layout
    gives the two apart (as tsunagi's channel SKUs for variations are)."""
    for first_row, frame in frames(decoded, layout.delimiter, layout.quote):
        out, problems = type_frame(frame, layout, layout.fields, first_row)
        chunk = Chunk(first_row, frame.height, problems=problems)
        for row in out.filter(~pl.col("_bad")).iter_rows(named=True):
            code = row.get("channel_sku") or ""
            if not code and row.get("code"):
                code = f"{row['code']}:{row['subcode']}" if row.get("subcode") else row["code"]
            if not code:
                chunk.problems.append(RowProblem(row["_row"], "channel_sku", "", f"行 {row['_row']}: 商品コードが空です"))
                continue
            chunk.reported.append((ChannelStockRecord(code, row["qty"]), row["_row"]))
        yield chunk


def _product_chunks(decoded: Decoded, layout: CsvLayout) -> Iterator[Chunk]:
    for first_row, frame in frames(decoded, layout.delimiter, layout.quote):
        out, problems = type_frame(frame, layout, layout.fields, first_row)
        chunk = Chunk(first_row, frame.height, problems=problems)
        for row in out.filter(~pl.col("_bad")).iter_rows(named=True):
            try:
                chunk.products.append((product(row), row["_row"]))
            except ValueError as exc:
                chunk.problems.append(RowProblem(row["_row"], "components", row["components"],
                                                 f"行 {row['_row']}: {exc}"))
        yield chunk


def _result_chunks(decoded: Decoded, layout: CsvLayout) -> Iterator[Chunk]:
    """Carrier or warehouse results: one ShipmentResult a row, tracking numbers checked against the
    carrier's format (a blank one is the domain's to judge: some services issue none)."""
    for first_row, frame in frames(decoded, layout.delimiter, layout.quote):
        out, problems = type_frame(frame, layout, layout.fields, first_row)
        chunk = Chunk(first_row, frame.height, problems=problems)
        for row in out.filter(~pl.col("_bad")).iter_rows(named=True):
            numbers = tracking.split(row.get("tracking"))
            bad = next(((n, why) for n in numbers if (why := tracking.wrong(n, layout.numbers))), None)
            if bad:
                chunk.problems.append(RowProblem(row["_row"], "tracking", bad[0],
                                                 f"行 {row['_row']}: 伝票番号 {bad[0]} が正しくありません ({bad[1]})"))
                continue
            chunk.results.append((ShipmentResult(row["key"], tuple(numbers), row.get("ship_date"),
                                                 row.get("state") or "shipped"), row["_row"]))
        yield chunk


def _line_specs(layout: CsvLayout) -> list[dict[str, FieldSpec]]:
    """One spec set per item of a row: one for a per-line file, max_items for a per-order file."""
    lines = {n: s for n, s in layout.fields.items() if n.startswith("line.")}
    if layout.rows == "per_line":
        return [lines]
    return [{n: s.numbered(i) for n, s in lines.items()} for i in range(1, layout.max_items + 1)]


def _typed_lines(frame: pl.DataFrame, layout: CsvLayout, first_row: int) -> tuple[pl.DataFrame, list[RowProblem]]:
    # An order field may be on the order's first row only (Shopify): it is required per order, not per row.
    order_specs = {n: (s if n == "order_no" else FieldSpec(**{**s.__dict__, "required": False}))
                   for n, s in layout.fields.items() if not n.startswith("line.")}
    parts, problems = [], []
    for n, line_specs in enumerate(_line_specs(layout)):
        if n and layout.rows == "per_order":   # item 2.. of a row is optional: drop empty ones first
            line_specs = {k: FieldSpec(**{**s.__dict__, "required": False}) for k, s in line_specs.items()}
        out, found = type_frame(frame, layout, {**order_specs, **line_specs}, first_row)
        if n:
            out = out.filter(pl.col("line.sku").is_not_null())
            rows = set(out["_row"].to_list())
            found = [p for p in found if p.row in rows and p.field not in order_specs]
        parts.append(out.with_columns(pl.lit(n).alias("_item")))
        problems += found
    typed = pl.concat(parts, how="vertical_relaxed") if len(parts) > 1 else parts[0]
    return typed.sort("_row", "_item") if len(parts) > 1 else typed, problems


def _order_chunks(decoded: Decoded, plan: Plan, layout: CsvLayout, shop: str, known: Known | None
                  ) -> Iterator[Chunk]:
    """Rows grouped into orders by order number; an order cut by a chunk end waits for the next. The rows of
    orders the store holds as these rows made them were left out first, for the whole file at once (plan):
    only the chunks that keep a row are read again and typed."""
    carry: pl.DataFrame | None = None
    chunk = None
    seeds = plan.seeds
    for (index, first_row, hashes), same in zip(plan.scans, plan.unchanged):
        chunk = Chunk(first_row, hashes.height, unchanged=same)
        kept = csvknown.kept(hashes, plan.left_out)
        if kept is False:
            yield chunk             # every row known: nothing to read, type or carry
            continue
        frame = read_chunk(decoded, index, layout.delimiter, layout.quote, first_row)
        if index in plan.only_kept:     # the chunk's text holds its kept rows only
            frame = frame.select(plan.only_kept[index].alias("_row"), pl.all())
        else:
            frame = csvknown.numbered(frame, first_row)
            frame = frame.filter(kept) if kept is not None else frame
        typed, chunk.problems = _typed_lines(frame, layout, first_row)
        typed = typed.join(hashes.drop("order_no"), on="_row", how="left")
        if carry is not None:
            typed = pl.concat([carry, typed], how="vertical_relaxed")
        last = typed["order_no"][-1] if typed.height else None
        carry = typed.filter(pl.col("order_no") == last) if last is not None else None
        ready = typed.filter(pl.col("order_no") != last) if last is not None else typed
        _orders(chunk, ready, shop, layout, seeds, known)
        yield chunk
    if carry is not None and carry.height:
        tail = Chunk(chunk.first_row + chunk.rows if chunk else 2, 0)
        _orders(tail, carry, shop, layout, seeds, known)
        yield tail


def _skip_known(chunk: Chunk, grouped: pl.DataFrame, known: Known | None) -> pl.DataFrame:
    """The groups left once those the store holds as is are counted in chunk.unchanged (rows with a
    problem are never left out: they are reported as before)."""
    if known is None:
        return grouped
    sound = grouped.filter(~pl.col("_bad") & (pl.col("order_no") != ""))
    same = known(sound["order_no"].to_list(), sound["_digest"].to_list())
    if not same:
        return grouped
    left = grouped.filter(~pl.col("order_no").is_in(list(same)) | pl.col("_bad"))
    chunk.unchanged += grouped.height - left.height
    return left


def _orders(chunk: Chunk, typed: pl.DataFrame, shop: str, layout: CsvLayout, seeds: tuple[int, int],
            known: Known | None) -> None:
    """Group typed rows into OrderRecords; an order with any bad row is refused whole."""
    if not typed.height:
        return
    typed = typed.with_columns(pl.col("order_no").fill_null(""))
    order_cols = [c for c in typed.columns if not c.startswith(("line.", "_")) and c != "order_no"]
    line_cols = [c for c in typed.columns if c.startswith("line.")]
    grouped = typed.group_by("order_no", maintain_order=True).agg(
        *[pl.col(c).drop_nulls().first() for c in order_cols], *[pl.col(c) for c in line_cols],
        *[pl.col(c).alias(EACH + c) for c in order_cols if c.startswith("ship_to.")],    # a recipient per line
        pl.col("_row"), pl.col("_row").filter(pl.col("_bad")).alias("_bad_rows"), pl.col("_bad").any(),
        *[pl.col(h).filter(pl.col("_item") == 0) for h in ("_h0", "_h1")]    # a row's hash once, not per item
    ).with_columns(csvknown.digest(seeds))
    grouped = _skip_known(chunk, grouped, known)
    out, problems = [], list(chunk.problems)
    required = [n for n, spec in layout.fields.items() if spec.required and not n.startswith("line.")]
    for g in grouped.iter_rows(named=True):
        rows = sorted(set(g["_row"]))
        for name in required:
            if g.get(name) is None and not g["_bad"] and g["order_no"]:
                problems.append(RowProblem(rows[0], name, "", f"行 {rows[0]}: 注文 {g['order_no']} の"
                                                              f"{LABELS.get(name, name)}が空です"))
                g["_bad"] = True
        if g["_bad"] or not g["order_no"]:
            for row in rows:
                if row not in g["_bad_rows"]:
                    problems.append(RowProblem(row, "order", g["order_no"],
                                               f"行 {row}: 注文 {g['order_no'] or '(番号なし)'} の他の行に誤りがあるため取り込みません"))
            continue
        out.append((_record(g, shop), rows))
        chunk.digests[g["order_no"]] = g["_digest"]
    chunk.orders, chunk.problems = out, problems


def _address(g: dict, who: str) -> Address:
    v = {part: g.get(f"{who}.{part}") or "" for part in ADDRESS}     # text already cleaned by polars
    if v["address"] and not v["prefecture"]:
        v["prefecture"], v["address"] = jp.split_prefecture(v["address"])
    return Address(**v)


EACH = "_each_"      # the per-line values of a ship_to field, as the rows gave them


def _recipients(g: dict, n: int) -> tuple[list[Address], list[int]]:
    """The distinct recipients the order's rows name, in order, and each line's recipient number (1…): a row
    naming none (later rows that leave order fields blank) goes to the first. One recipient: ([], [1, …])."""
    seen: list[Address] = []
    numbers = []
    for i in range(n):
        each = {f"ship_to.{part}": (g.get(f"{EACH}ship_to.{part}") or [None] * n)[i] for part in ADDRESS}
        if not (each["ship_to.name"] or each["ship_to.address"]):
            numbers.append(1)
            continue
        who = _address(each, "ship_to")
        if who not in seen:
            seen.append(who)
        numbers.append(seen.index(who) + 1)
    return (seen, numbers) if len(seen) > 1 else ([], [1] * n)


def _record(g: dict, shop: str) -> OrderRecord:
    lines = []
    n = len(g["line.sku"])
    several, recipient_of = _recipients(g, n)
    for i in range(n):
        qty = g["line.qty"][i]
        price = (g.get("line.unit_price") or [None] * n)[i]
        amount = (g.get("line.amount") or [None] * n)[i]
        if price is None:
            price = amount // qty if amount is not None else 0
        opts = (g.get("line.options") or [None] * n)[i]
        lines.append(OrderLine(g["line.sku"][i], (g.get("line.name") or [""] * n)[i] or "", qty, price,
                               (opts,) if opts else (), recipient_of[i]))
    fees = {k: g.get(k) or 0 for k in ("shipping_fee", "cod_fee", "discount")}
    total = g.get("total")
    if total is None:
        total = sum(x.qty * x.unit_price for x in lines) + fees["shipping_fee"] + fees["cod_fee"] - fees["discount"]
    return OrderRecord(
        shop=shop, order_no=g["order_no"], ordered_at=g["ordered_at"].replace(tzinfo=jp.JST), lines=tuple(lines),
        total=total, buyer=_address(g, "buyer"), ship_to=several[0] if several else _address(g, "ship_to"),
        more_ship_to=tuple(several[1:]),
        payment_method=g.get("payment_method") or "", delivery_method=g.get("delivery_method") or "",
        requested_date=g.get("requested_date"), requested_time=g.get("requested_time") or "",
        note=g.get("note") or "", source="csv", channel_status=g.get("status") or "", **fees)
