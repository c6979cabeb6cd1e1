"""Which rows of an order CSV the store already holds as they are: each row hashed, each order's rows made a
digest, the whole file's digests looked up at once; the rows of known orders are then never typed."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import polars as pl

from tsunagi.parsers import csvfields, csvread
from tsunagi.parsers.csvlayout import CsvLayout
from tsunagi.parsers.csvraw import Raw
from tsunagi.parsers.csvread import Decoded, read_bytes, read_chunk, read_lines

# (order numbers, digests of their rows) -> the numbers whose order the store holds as those very rows made it
Known = Callable[[list[str], list[str]], set[str]]
# An order's digest is made of its rows' text as read (typing every column is most of an import's time), so
# it also holds what reads that text: the layout, the header and this version. Raise it when the same text
# would make another record (csvfields' typing, csvfile's _record, _address): every order is then applied
# once more. 2: a row is hashed by its line as written (scan; in the file's own bytes when it fits in memory, scan_raw),
# no longer by its parsed values.
DIGEST_VERSION = 3     # 2: rows hashed by their line as written; 3: rows naming different recipients make several


@dataclass
class Plan:
    """What the whole file's scan found, before any chunk is read whole."""
    scans: list[tuple[int, int, pl.DataFrame]]     # (chunk index, first row, row numbers, order numbers, hashes)
    seeds: tuple[int, int]                         # of the hashes, so of the digests
    left_out: pl.Series | None = None              # rows of known orders (None: none)
    unchanged: list[int] = field(default_factory=list)     # known orders starting in each chunk
    # chunk index -> its kept rows' numbers, where the chunk's text holds only those rows (csvfile._raw_orders)
    only_kept: dict[int, pl.Series] = field(default_factory=dict)


def plan(scans: list[tuple[int, int, pl.DataFrame]], seeds: tuple[int, int], known: Known | None) -> Plan:
    """The plan of a scanned file: with known, its known orders' rows looked up (one lookup for the file)."""
    if known is None:
        return Plan(scans, seeds, None, [0] * len(scans))
    return Plan(scans, seeds, *known_rows(scans, seeds, known))


def kept(hashes: pl.DataFrame, left_out: pl.Series | None) -> pl.Series | bool | None:
    """Which rows of a chunk stay: None all of them, False none, else a mask."""
    if left_out is None:
        return None
    kept = hashes["_row"].is_in(left_out.implode()).not_()
    return kept if kept.any() else False


def seeds(layout: CsvLayout, header: list[str], encoding: str) -> tuple[int, int]:
    """Two hash seeds that change with the layout, the header, DIGEST_VERSION and the encoding rows are
    hashed in ("": decoded, as UTF-8); not with where the layout's file lives (an installation moved or
    upgraded in another folder would apply every order once more)."""
    key = hashlib.sha256(repr((DIGEST_VERSION, replace(layout, path=""), header, encoding)).encode()).digest()
    return int.from_bytes(key[:7], "big"), int.from_bytes(key[7:14], "big")


def digest(seeds: tuple[int, int]) -> pl.Expr:
    """Of lists _h0, _h1 (its rows' hashes in row order, row numbers left out: they move as a cumulative
    file grows): an order's digest, 128 bits."""
    return pl.format("{}-{}", *[pl.col(f"_h{i}").hash(seed) for i, seed in enumerate(seeds)]).alias("_digest")


def numbered(frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
    return frame.with_row_index("_row", offset=first_row).with_columns(pl.col("_row").cast(pl.Int64))


def scan(decoded: Decoded, layout: CsvLayout, seeds: tuple[int, int]) -> list[tuple[int, int, pl.DataFrame]]:
    """(chunk index, its first row, each row's number, order number and hashes) per chunk of data; only
    these few columns are kept, so a file of any size is scanned in the memory of one chunk and them.
    A row's hash is of its line as written: only the order number's columns are parsed (parsing every
    column and hashing the values was three times the work). A chunk where a record spans lines (a quoted
    line break) is parsed whole and hashed by its values."""
    spec = layout.fields["order_no"]
    header = set(csvread.unique(decoded.header))
    out, row = [], decoded.first_row
    for index in range(len(decoded.cuts)):
        frame = read_chunk(decoded, index, layout.delimiter, layout.quote, row, list(spec.columns))
        if frame is None:
            continue
        lines = read_lines(decoded, index)
        if lines is not None and lines.len() == frame.height:      # one line a record
            hashes = [lines.hash(seed).alias(f"_h{i}") for i, seed in enumerate(seeds)]
        else:
            frame = read_chunk(decoded, index, layout.delimiter, layout.quote, row)
            hashes = [pl.struct(pl.all().exclude("_row")).hash(seed + 1).alias(f"_h{i}")
                      for i, seed in enumerate(seeds)]
        number = csvfields.typed(spec, csvfields.raw(spec, header), layout).alias("order_no")
        out.append((index, row, numbered(frame, row).select("_row", number, *hashes)))
        row += frame.height
    return out


def scan_raw(raw: Raw, layout: CsvLayout, seeds: tuple[int, int]
              ) -> tuple[list[tuple[int, int, pl.DataFrame]], dict[int, bytes]]:
    """_scan of a file in its own bytes: a row's hash is of its line's bytes, the order number read with
    bytes that are not UTF-8 replaced (an order number in them is only ever not found). A chunk where a
    record spans lines is decoded (given back, by index) and hashed by its values."""
    spec = layout.fields["order_no"]
    names = csvread.unique(raw.header)
    header = set(names)
    out, texts, row = [], {}, raw.first_row
    for index, (data, frame) in enumerate(zip(raw.chunks, _read_ahead(raw, names, layout, list(spec.columns)))):
        if frame is None:
            continue
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        if len(lines) == frame.height:      # one line a record
            binary = pl.Series(lines, dtype=pl.Binary)
            hashes = [binary.hash(seed).alias(f"_h{i}") for i, seed in enumerate(seeds)]
        else:
            texts[index] = raw.utf8(index)
            frame = read_bytes(texts[index], names, layout.delimiter, layout.quote, row)
            hashes = [pl.struct(pl.all().exclude("_row")).hash(seed + 1).alias(f"_h{i}")
                      for i, seed in enumerate(seeds)]
        text = csvfields.raw(spec, header)
        ascii = frame.select((text.str.len_bytes() == text.str.len_chars()).all()).item()     # the folds skipped
        number = csvfields.typed(spec, text, layout, ascii).alias("order_no")
        out.append((index, row, numbered(frame, row).select("_row", number, *hashes)))
        row += frame.height
    return out, texts


def _read_ahead(raw: Raw, names: list[str], layout: CsvLayout, columns: list[str]) -> Iterator[pl.DataFrame | None]:
    """Each chunk's columns read by polars in a thread, ahead of the caller, who hashes the lines meanwhile (the
    two halves of a scan take about as long; side by side they take half). One worker reads the chunks in order,
    so each knows its first row (named in errors); the one-column frames it reads ahead are small."""
    row = raw.first_row

    def read(data: bytes) -> pl.DataFrame | None:
        nonlocal row
        frame = read_bytes(data, names, layout.delimiter, layout.quote, row, columns, lossy=True)
        row += frame.height if frame is not None else 0
        return frame

    pool = ThreadPoolExecutor(1, thread_name_prefix="scan")
    try:
        yield from pool.map(read, raw.chunks)
    finally:
        pool.shutdown(cancel_futures=True)


LOOKUP = 100_000        # order numbers asked about at a time


def known_rows(scans: list[tuple[int, int, pl.DataFrame]], seeds: tuple[int, int],
                known: Known) -> tuple[pl.Series | None, list[int]]:
    """The rows of orders the store holds as these rows made them (the whole file's rows of each order,
    wherever a chunk cuts them), and per chunk how many such orders start in it. (No check runs here: rows
    that fail one were never applied, so no digest of them is known.)"""
    if not scans:
        return None, []
    rows = pl.concat([h for _, _, h in scans]).filter(pl.col("order_no").is_not_null() & (pl.col("order_no") != ""))
    grouped = rows.group_by("order_no", maintain_order=True).agg(
        pl.col("_row"), pl.col("_h0"), pl.col("_h1")).with_columns(digest(seeds))
    same: set[str] = set()
    for at in range(0, grouped.height, LOOKUP):
        part = grouped.slice(at, LOOKUP)
        same |= known(part["order_no"].to_list(), part["_digest"].to_list())
    if not same:
        return None, [0] * len(scans)
    found = grouped.filter(pl.col("order_no").is_in(pl.Series(list(same), dtype=pl.String).implode()))
    starts = pl.Series([first for _, first, _ in scans], dtype=pl.Int64)
    chunk_of = starts.search_sorted(found["_row"].list.first(), side="right") - 1     # where each order starts
    counts = chunk_of.value_counts()
    per_chunk = dict(zip(counts[chunk_of.name].to_list(), counts["count"].to_list()))
    return found["_row"].explode(), [per_chunk.get(i, 0) for i in range(len(scans))]
