"""Benchmark of delivery: a full resync of every SKU's figure for 5 channels, files written.

    python bench/delivery.py [--skus 500000] [--no-before] [--keep DIR]

Set-up (not timed): SKUs imported with their counts as the operator does (`tsunagi products import`,
`tsunagi stock import`) in a site whose shops have no stock feed yet; then 5 shops get one (Rakuten
normal-item.csv, Yahoo quantity.csv, Amazon price & quantity, Shopify inventory, a second Yahoo store), every
10th SKU mapped to a Rakuten "code:variant" channel code.

Timed: `tsunagi feed resync` in its own process, as the operator runs it: 5 stock files of every SKU written
(fsync'd, renamed into ready/) and every published figure recorded (all new: the first resync of the site);
then, the files moved to sent/ as a push does, the same command again (the usual case: figures published
before, so only the changed ones are recorded).

Baselines, in the same run:
- bare polars: the same rows (read back from the 5 files) written as CSV and encoded, nothing else;
- the release before (/work/wt-before with /work/venv-before; --no-before to skip): it has no resync, so the
  same figures are written by its per-change path: its FeedWriter.flush() over one stock event per SKU (what
  its `stock import` of the same counts leaves behind), in its own process on its own copy of the site."""
from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ship import tsunagi  # noqa: E402

BEFORE_TREE, BEFORE_PYTHON = Path("/work/wt-before"), Path("/work/venv-before/bin/python")
FEEDS = [("rakuten", "rakuten-normal-item"), ("yahoo", "yahoo-quantity"), ("amazon", "amazon-price-quantity"),
         ("shopify", "shopify-inventory"), ("yahoo2", "yahoo-quantity")]
BASE = """data_dir = "var"
locations = ["本店倉庫"]
[smtp]
listen = "127.0.0.1:0"
"""


def config(feeds: bool) -> str:
    shops = []
    for n, (shop, layout) in enumerate(FEEDS):
        feed = f'stock_feed = {{ layout = "{layout}", safety_stock = 1, location = "main" }}\n' if feeds else ""
        shops.append(f'[[shop]]\nid = "{shop}"\ncart = "rakuten"\norder_mail_to = ["s{n}@orders.example.jp"]\n{feed}')
    return BASE + "\n".join(shops)


def site(folder: Path, n: int, python: str, tree: Path) -> list[str]:
    """A data folder with n SKUs in stock and no feed yet, built by the given tree's own commands."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "config.toml"
    cfg.write_text(config(feeds=False), encoding="utf-8")
    rows = ["sku,name,components,channel_sku,shop"]
    rows += [f"sku-{i:06d},商品 {i},,{f'g{i // 100:05d}:{i % 100:02d}' if i % 10 == 0 else ''},"
             f"{'rakuten' if i % 10 == 0 else ''}" for i in range(n)]
    (folder / "products.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:06d},本店倉庫,,{i % 50}\n"
                                                                          for i in range(n)), encoding="utf-8")
    c = ["-c", str(cfg)]
    for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")]):
        out = subprocess.run([python, "-m", "tsunagi.app.cli", *c, *step], capture_output=True, text=True,
                             cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
        if out.returncode != 0:
            raise SystemExit(f"set-up failed: {step}\n{out.stdout}\n{out.stderr}")
    cfg.write_text(config(feeds=True), encoding="utf-8")
    return c


BEFORE_STEP = r"""
import sys, time
from tsunagi.app import config, daemon
cfg = config.load(sys.argv[1])
spool, store, _ = daemon.open_parts(cfg)
writer = daemon.feed_writer(cfg, spool, store)
t = time.perf_counter()
files = writer.flush()
print(time.perf_counter() - t, len(files))
"""


def before(folder: Path, n: int) -> tuple[float, int]:
    """Seconds of the release before writing the same figures by its per-change path (see the docstring)."""
    c = site(folder, n, str(BEFORE_PYTHON), BEFORE_TREE)
    db = sqlite3.connect(folder / "var" / "tsunagi.db")
    with db:     # its import consumed the events for feeds it did not have: they are pending again
        db.execute("UPDATE consumers SET last_id = 0 WHERE name = 'stock-feed'")
    db.close()
    out = subprocess.run([str(BEFORE_PYTHON), "-c", BEFORE_STEP, c[1]], capture_output=True, text=True,
                         cwd=BEFORE_TREE, env={**os.environ, "PYTHONPATH": str(BEFORE_TREE)})
    if out.returncode != 0:
        raise SystemExit(f"before failed\n{out.stdout}\n{out.stderr}")
    seconds, files = out.stdout.split()
    return float(seconds), int(files)


def bare_polars(files: list[Path]) -> float:
    """Seconds for polars alone to write the same rows as CSV text and encode them (the files read back first,
    not timed)."""
    import polars as pl
    frames = []
    for path in files:
        sep = "\t" if path.suffix == ".txt" else ","
        enc = "utf-8" if "shopify" in path.name else "cp932"
        frames.append((pl.read_csv(io.BytesIO(path.read_bytes().decode(enc).encode()), separator=sep,
                                   infer_schema=False), sep, enc))
    t = time.perf_counter()
    for frame, sep, enc in frames:
        frame.write_csv(separator=sep, line_terminator="\r\n").encode(enc)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=500_000)
    ap.add_argument("--no-before", action="store_true")
    ap.add_argument("--keep")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tsunagi-delivery-"))
    t = time.perf_counter()
    c = site(folder / "now", args.skus, sys.executable, ROOT)
    print(f"set-up: {args.skus:,} SKUs imported with their counts in {time.perf_counter() - t:.0f} s (not timed)")
    timed = tsunagi(*c, "feed", "resync")
    files = sorted((folder / "now" / "var" / "spool" / "outbox").glob("*/ready/*-stock-*"))
    rows = sum(len(p.read_bytes().splitlines()) - 1 for p in files)
    for path in files:          # as a push does: the next resync writes fresh files, merging into none
        (path.parent.parent / "sent").mkdir(exist_ok=True)
        path.rename(path.parent.parent / "sent" / path.name)
    files = [path.parent.parent / "sent" / path.name for path in files]
    again = tsunagi(*c, "feed", "resync")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"baseline, bare polars: the same {rows:,} rows written as CSV and encoded in {bare_polars(files):.2f} s")
    if not args.no_before and BEFORE_PYTHON.exists():
        seconds, count = before(folder / "before", args.skus)
        print(f"baseline, the release before: the same figures by its per-change path (FeedWriter.flush over one "
              f"event a SKU), {count} files in {seconds:.1f} s")
    print(f"feed resync: {len(files)} files, {rows:,} rows ({args.skus:,} SKUs x {len(FEEDS)} channels) written in "
          f"{timed['seconds']:.1f} s, peak RSS {timed['rss_mb']:.0f} MB, exit {timed['rc']}  (aim: < 30 s; every figure "
          f"new to the store)")
    print(f"feed resync again (every figure published before, the files sent): {again['seconds']:.1f} s, "
          f"peak RSS {again['rss_mb']:.0f} MB, exit {again['rc']}")
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
