"""One unsent stock file a channel: new figures are merged into the files still waiting in ready/."""
from __future__ import annotations

import fcntl
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


ZERO, DROP, KEEP = "zero", "drop", "keep"      # what becomes of a row of a code leaving the feed


@dataclass(frozen=True)
class Gone:
    """Codes leaving the feed (a deleted product's): each one's row with the figure 0, in the layout's columns,
    and what becomes of each (ZERO: that row replaces its older one; DROP: its older row goes; KEEP: as it is),
    decided from each one's figure in the unsent files (None: not there) and those files' names."""
    rows: pl.DataFrame
    decide: Callable[[list[str | None], list[str]], list[str]]


@dataclass(frozen=True)
class Merged:
    path: Path | None        # the file written; None when nothing needed writing, or nothing was left to send
    merged: list[str]        # the unsent files it took in (removed)
    actions: list[str]       # for each of Gone's rows: ZERO, DROP or KEEP


def write(folder: Path, shop: str, layout: Layout, body: pl.DataFrame, gone: Gone | None = None) -> Merged:
    """The shop's stock file holding body's rows and every row of its unsent files that body does not
    name again (a SKU's latest figure wins: body's, else the newest file's); gone's codes as it decides. The
    merged file is written whole under a new name before the old ones go, so a crash leaves old and new in
    ready/ (the next merge takes both) and a push that took an old file meanwhile sent older figures than the
    new file holds. Unsent files that held nothing but codes that left are removed."""
    with _locked(folder):
        older = [(p, f) for p in unsent(folder, shop, layout) if (f := _read(layout, p)) is not None]
        names = [p.name for p, _ in older]
        keys = [f"c{i}" for i, c in enumerate(layout.columns) if c.field in KEY_FIELDS]
        old = pl.concat([f for _, f in older], how="vertical") if older else None
        actions: list[str] = []
        if gone is not None:
            body, old, actions, changed = _leaving(layout, keys, gone, body, old, names)
            if not changed:
                return Merged(None, [], actions)
        merged = pl.concat([old, body], how="vertical") if old is not None else body
        if old is not None:
            merged = merged.unique(subset=keys or None, keep="last", maintain_order=True).sort(keys or "c0")
        path = None
        if merged.height:
            path = csvfile.write_atomically(folder, stock_name(shop, layout), csvfile.to_bytes(layout, merged))
        remove([p for p, _ in older if p != path])
        if older:
            log.info("shop %s: %d unsent stock file(s) merged into %s", shop, len(older),
                     path.name if path else "nothing (only codes that left the feed)")
        return Merged(path, [n for n in names if path is None or n != path.name], actions)


def remove(paths: list[Path]) -> None:
    """Unsent files taken into a newer one (or holding nothing left to send)."""
    for old in paths:
        old.unlink(missing_ok=True)     # a push may have taken it meanwhile: it is sent, or on its way


def _key(columns: list[str]) -> pl.Expr:
    """A row's SKU as one string (blank parts included, so a code without a variant still matches)."""
    return pl.concat_str([pl.col(c).fill_null("") for c in columns], separator="\x1f")


def _leaving(layout: Layout, keys: list[str], gone: Gone, body: pl.DataFrame, old: pl.DataFrame | None,
             names: list[str]):
    """(body, old, actions, changed): gone's ZERO rows added to body, its DROP rows taken out of old; changed
    says whether the unsent files need writing again at all."""
    key = _key(keys or list(gone.rows.columns))
    qty = next((f"c{i}" for i, c in enumerate(layout.columns) if c.field == "qty"), None)
    held: dict[str, str] = {}
    if old is not None and qty is not None:
        held = {k: v or "" for k, v in old.select(key.alias("k"), pl.col(qty)).iter_rows()}   # the newest wins
    own = gone.rows.select(key.alias("k")).get_column("k").to_list()
    actions = gone.decide([held.get(k) for k in own], names)
    zero = pl.Series([a == ZERO for a in actions], dtype=pl.Boolean)
    dropped = [k for k, a in zip(own, actions) if a == DROP and k in held]
    if dropped:
        old = old.filter(~key.is_in(dropped))
    body = pl.concat([body, gone.rows.filter(zero)], how="vertical")
    return body, old, actions, bool(zero.any()) or bool(dropped) or body.height > 0


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
