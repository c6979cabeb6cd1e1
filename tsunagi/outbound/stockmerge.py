"""One unsent stock file a channel: new figures are merged into the files still waiting in ready/."""
from __future__ import annotations

import fcntl
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from tsunagi.common import clock
from tsunagi.outbound import csvfile
from tsunagi.outbound.layouts import Layout

log = logging.getLogger("tsunagi.feeds")
KEY_FIELDS = ("code", "subcode", "channel_sku", "sku")    # what names a row's SKU; the rest is its figure
# An unsent file larger than this (a full resync's, waiting for a person to upload it) is not rewritten for
# every sale (that would hold the store's write lock a second or more each time): the changes after it go
# in a file of their own, merged with each other, sent after it.
MERGE_BYTES = 2 << 20


def stock_name(shop: str, layout: Layout) -> str:
    return f"{shop}-stock-{clock.file_stamp()}.{layout.extension}"


def unsent(folder: Path, shop: str, layout: Layout) -> list[Path]:
    """The shop's stock files still in ready/ (not taken by a push yet) that new figures are merged into:
    oldest first (names sort by time), from after the newest one too large to rewrite each time."""
    files = sorted((folder / "ready").glob(f"{shop}-stock-*.{layout.extension}"))
    big = [i for i, p in enumerate(files) if _size(p) > MERGE_BYTES]
    return files[big[-1] + 1:] if big else files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:     # taken by a push meanwhile
        return 0


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One merger a target at a time (the daemon and a command line may both write)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".stock.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write(folder: Path, shop: str, layout: Layout, body: pl.DataFrame) -> Path:
    """The shop's stock file holding body's rows and every row of its unsent files that body does not
    name again (a SKU's latest figure wins: body's, else the newest file's). The merged file is written
    whole under a new name before the old ones go, so a crash leaves old and new in ready/ (the next merge
    takes both) and a push that took an old file meanwhile sent older figures than the new file holds."""
    with _locked(folder):
        older = [(p, f) for p in unsent(folder, shop, layout) if (f := _read(layout, p)) is not None]
        frames = [f for _, f in older] + [body]
        keys = [f"c{i}" for i, c in enumerate(layout.columns) if c.field in KEY_FIELDS]
        merged = pl.concat(frames, how="vertical") if len(frames) > 1 else body
        if len(frames) > 1:
            merged = merged.unique(subset=keys or None, keep="last", maintain_order=True).sort(keys or "c0")
        path = csvfile.write_atomically(folder, stock_name(shop, layout), csvfile.to_bytes(layout, merged))
        for old, _ in older:
            if old != path:
                old.unlink(missing_ok=True)     # a push may have taken it meanwhile: it is sent, or on its way
        if older:
            log.info("shop %s: %d unsent stock file(s) merged into %s", shop, len(older), path.name)
        return path


def _read(layout: Layout, path: Path) -> pl.DataFrame | None:
    """An unsent file's rows as frame()'s strings; None when it vanished (pushed) or cannot be read as its
    layout (a file a person put there): it is then left where it is, to go as it is."""
    try:
        text = path.read_bytes().decode(layout.encoding)
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        log.warning("%s is not %s; left as it is", path.name, layout.encoding)
        return None
    skip = len(layout.preamble) + (1 if layout.header else 0)
    names = [f"c{i}" for i in range(len(layout.columns))]
    if len(text.splitlines()) <= skip:
        return pl.DataFrame(schema={n: pl.String for n in names})
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), has_header=False, skip_rows=skip, new_columns=names,
                            separator=layout.delimiter, quote_char=None if layout.quote == "never" else '"',
                            schema={n: pl.String for n in names})
    except (pl.exceptions.PolarsError, ValueError) as exc:
        log.warning("%s cannot be read as %s (%s); left as it is", path.name, layout.name, exc)
        return None
    return frame.with_columns(pl.col(n).replace("", None) for n in names)
