"""Writing a layout's rows as a file the channel takes: polars to text, encoded, written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from tsunagi.common.durable import fsync_dir, move_durably, write_file
from tsunagi.common.jcodec import CP932_FIXES
from tsunagi.oms import outbound_tables
from tsunagi.outbound.layouts import Layout


def render(layout: Layout, rows: list[dict[str, str]]) -> bytes:
    """The whole file as bytes. Values a row lacks come from the layout's constants."""
    # An empty value is written as nothing at all, not as "" (polars quotes empty strings).
    data = {}
    for i, col in enumerate(layout.columns):
        values = [row.get(col.field, "") for row in rows] if col.field else [col.value] * len(rows)
        if col.max_bytes:
            values = [_cut(v, col.max_bytes, layout.encoding) for v in values]
        data[f"c{i}"] = [v or None for v in values]
    frame = pl.DataFrame(data, schema={k: pl.String for k in data})
    body = frame.write_csv(separator=layout.delimiter, include_header=False,
                           quote_style=layout.quote, line_terminator=layout.newline)
    head = pl.DataFrame({f"c{i}": [c.header] for i, c in enumerate(layout.columns)}).write_csv(
        separator=layout.delimiter, include_header=False, quote_style=layout.quote,
        line_terminator=layout.newline) if layout.header else ""
    pre = "".join(layout.delimiter.join(row) + layout.newline for row in layout.preamble)
    text = pre + head + body
    if layout.encoding == "cp932":
        text = text.translate(CP932_FIXES)
    return text.encode(layout.encoding)


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
        value.translate(CP932_FIXES).encode("cp932")
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
