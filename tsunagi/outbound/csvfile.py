"""Writing a layout's rows as a file the channel takes: polars to text, encoded, written atomically."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from tsunagi.common.durable import fsync_dir, move_durably, write_file
from tsunagi.common.jcodec import CP932_FIXES
from tsunagi.oms import deliveries, outbound_tables
from tsunagi.outbound.layouts import Layout


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(…), +cmd|…, @SUM(…)).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def problems(layout: Layout, row: Mapping[str, str], text_fields: Mapping[str, str] = {}) -> list[str]:
    """What of this row the layout's file cannot carry as it is, each naming its field; text_fields are
    the writer's free-text fields (field -> the name an operator knows), the only ones a formula rule
    applies to (a phone '-' or an amount is no formula)."""
    unsafe, headers = layout.unsafe, layout.headers
    out = []
    # the usual row holds nothing unsafe: one search over the whole row, then field by field only if needed
    if unsafe is not None and unsafe.search("\0".join([row.get(f) or "" for f in headers])):
        out += [_why(layout, text_fields.get(f) or h, h) for f, h in headers.items() if unsafe.search(row.get(f) or "")]
    if layout.opened_by == "software":
        out += [f"{text_fields[f]}が数式のように「{v[0].encode('unicode_escape').decode()}」で始まります ({headers[f]})"
                for f in text_fields if f in headers and (v := row.get(f)) and v.startswith(FORMULA_START)]
    return out


def _why(layout: Layout, label: str, header: str) -> str:
    if layout.quote == "never":
        shown = "タブ" if layout.delimiter == "\t" else f"「{layout.delimiter}」"
        return f"{label}に区切り文字({shown})・引用符・改行のいずれかがあります ({header}: 引用符で囲めない形式)"
    return f"{label}に改行があります ({header})"


def neutralised(value: str) -> str:
    """Text a spreadsheet would run as a formula, made plain text by a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def render(layout: Layout, rows: list[dict[str, str]], text_fields: Mapping[str, str] = {}) -> bytes:
    """The whole file as bytes. Values a row lacks come from the layout's constants. In a file people
    open, free text that starts like a formula is neutralised; the quoting is the layout's ("never"
    only where the writer checked with problems() that no value needs it)."""
    fields = {c.field for c in layout.columns if c.field}
    return to_bytes(layout, frame(layout, {f: [row.get(f, "") for row in rows] for f in fields}, len(rows),
                                  text_fields))


def frame(layout: Layout, values: Mapping[str, list[str]], n: int, text_fields: Mapping[str, str] = {}) -> pl.DataFrame:
    """The file's body as a frame of strings (columns c0, c1, …) from each field's n values."""
    # An empty value is written as nothing at all, not as "" (polars quotes empty strings).
    data = {}
    for i, col in enumerate(layout.columns):
        column = (values.get(col.field) or [""] * n) if col.field else [col.value] * n
        if layout.opened_by == "people" and col.field in text_fields:
            column = [neutralised(v) for v in column]
        if col.max_bytes:
            column = [_cut(v, col.max_bytes, layout.encoding) for v in column]
        data[f"c{i}"] = [v or None for v in column]
    return pl.DataFrame(data, schema={k: pl.String for k in data})


def frame_from(layout: Layout, fields: pl.DataFrame, text_fields: Mapping[str, str] = {}) -> pl.DataFrame:
    """frame() from a frame of field columns (strings), column-wise where nothing needs a value's own care."""
    if any(c.max_bytes for c in layout.columns) or (layout.opened_by == "people" and set(text_fields) & set(fields.columns)):
        return frame(layout, {f: fields.get_column(f).to_list() for f in fields.columns}, fields.height, text_fields)
    return fields.select([_column(c, fields.columns).alias(f"c{i}") for i, c in enumerate(layout.columns)])


def _column(col, have: list[str]) -> pl.Expr:
    if col.field and col.field in have:
        return pl.col(col.field).replace("", None)
    return pl.lit(col.value or None, dtype=pl.String) if not col.field else pl.lit(None, dtype=pl.String)


def to_bytes(layout: Layout, body_frame: pl.DataFrame) -> bytes:
    """A frame of frame()'s shape written in the layout's delimiter, quoting, header and encoding."""
    body = body_frame.write_csv(separator=layout.delimiter, include_header=False,
                                quote_style=layout.quote, line_terminator=layout.newline)
    head = pl.DataFrame({f"c{i}": [c.header] for i, c in enumerate(layout.columns)}).write_csv(
        separator=layout.delimiter, include_header=False, quote_style=layout.quote,
        line_terminator=layout.newline) if layout.header else ""
    pre = "".join(layout.delimiter.join(row) + layout.newline for row in layout.preamble)
    text = pre + head + body
    if layout.encoding == "cp932":
        text = cp932_fixed(text)
    return text.encode(layout.encoding)


_FIXED = tuple(chr(c) for c in CP932_FIXES)


def cp932_fixed(text: str) -> str:
    """text with CP932_FIXES applied; a look for the few characters first (translating megabytes is slow)."""
    return text.translate(CP932_FIXES) if any(c in text for c in _FIXED) else text


def _cut(value: str, limit: int, encoding: str) -> str:
    """At most `limit` bytes in the file's encoding, never half a character."""
    if not limit or len(value) * 2 <= limit:      # no character takes more than 2 bytes in CP932
        return value
    codec = "cp932" if encoding == "cp932" else encoding
    while len(value.translate(CP932_FIXES).encode(codec, errors="replace")) > limit:
        value = value[:-1]
    return value


def encodable(layout: Layout, value: str) -> bool:
    if layout.encoding != "cp932":
        return True
    try:
        cp932_fixed(value).encode("cp932")
        return True
    except UnicodeEncodeError:
        return False


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """tmp/<name>, fsync, rename into ready/: a reader of ready/ never sees half a file."""
    tmp_dir, ready = folder / "tmp", folder / "ready"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    ready.mkdir(parents=True, exist_ok=True)
    write_file(tmp_dir / name, data)
    move_durably(tmp_dir / name, ready / name)
    return ready / name


# Files whose writing is an effect of a transaction (labels, confirmations, warehouse instructions) go
# to tmp/ first, are recorded in that transaction, and reach ready/ only after it commits; at start-up
# recovery finishes the recorded ones and removes the rest, so a crash never sends one twice or loses one.

def write_pending(tx, folder: Path, name: str, data: bytes) -> Path:
    """tmp/<name>, fsync'd, and recorded in the caller's transaction; publish() after the commit."""
    tmp_dir = folder / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    write_file(tmp_dir / name, data)
    outbound_tables.record_file(tx, folder.name, name)
    deliveries.written(tx, folder.name, name)
    return folder / "ready" / name


def publish(paths: list[Path]) -> None:
    """After the commit: tmp/ → ready/ for files written with write_pending."""
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path.parent.parent / "tmp" / path.name, path)
    for folder in {p.parent for p in paths}:
        fsync_dir(folder)


def recover_pending(tx, outbox: Path) -> dict[str, int]:
    """At start-up: files in outbox/*/tmp/ whose transaction committed go to ready/, the others go."""
    counts = {"published": 0, "removed": 0}
    for tmp in outbox.glob("*/tmp/*"):
        if outbound_tables.file_recorded(tx, tmp.parent.parent.name, tmp.name):
            publish([tmp.parent.parent / "ready" / tmp.name])
            counts["published"] += 1
        else:
            tmp.unlink()
            counts["removed"] += 1
    return counts
