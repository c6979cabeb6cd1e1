"""Benchmark: a 1,000,000-row CP932 order CSV (Rakuten RMS column set) imported end to end with
`tsunagi import`, next to a bare polars.read_csv of the same rows decoded to UTF-8, in the same run.

    python bench/csv_import.py [--rows 1000000] [--lines-per-order 2] [--keep DIR]
    python bench/csv_import.py --reimport [--rows 100000] [--changed-every N] [--python PY --tree DIR]

--reimport: a cumulative cart CSV pulled again. The file is imported once, then the same orders in a file
with other bytes (one new order appended) are imported and timed next to a bare read of that second file;
--changed-every N also changes every Nth order of it (a comment added), spread over the whole file.
--python and --tree run the tsunagi side with another interpreter and checkout (the release before).

Each side runs in its own process, so peak RSS is that process's own (ru_maxrss)."""
from __future__ import annotations

import argparse
import json
import os
import codecs
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    from tsunagi.demo.csvs import EXTRA  # noqa: E402
except ImportError:          # the release before kept the sample columns elsewhere
    from tsunagi.app.csvsamples import EXTRA  # noqa: E402
from tsunagi.parsers import csvlayout  # noqa: E402

SKUS = 2000


def header() -> list[str]:
    layout = csvlayout.load("rakuten-rms")
    cols = []
    for spec in layout.fields.values():
        cols += [c for c in spec.columns if c not in cols]
    return cols + [c for c in EXTRA["rakuten-rms"] if c not in cols] + \
        [c for c in ("消費税合計", "請求金額", "ポイント倍率", "納期情報", "在庫タイプ", "ラッピングタイトル1",
                     "ラッピング名1", "担当者", "ひとことメモ", "利用端末", "あす楽希望フラグ") if c not in cols]


def generate(path: Path, rows: int, per_order: int, extra_orders: int = 0, changed_every: int = 0) -> None:
    """changed_every N: every Nth order's rows carry a buyer comment (a cumulative file whose orders the
    cart changed since the last pull, spread over the whole file)."""
    cols = header()
    fixed = {"ステータス": "発送待ち", "支払方法名": "クレジットカード決済", "配送方法": "宅配便", "お届け時間帯": "14:00～16:00",
             "注文者姓": "山田", "注文者名": "太郎", "注文者郵便番号1": "100", "注文者郵便番号2": "0001",
             "注文者住所都道府県": "東京都", "注文者住所郡市区": "千代田区", "注文者住所それ以降の住所": "千代田1-1 サンプル101",
             "注文者電話番号1": "03", "注文者電話番号2": "1234", "注文者電話番号3": "5678",
             "注文者メールアドレス": "abc123@pc.fw.rakuten.ne.jp", "送付先姓": "佐藤", "送付先名": "花子",
             "送付先郵便番号1": "530", "送付先郵便番号2": "0001", "送付先住所都道府県": "大阪府",
             "送付先住所郡市区": "大阪市北区", "送付先住所それ以降の住所": "梅田1-1-1 ②号棟", "送付先電話番号1": "06",
             "送付先電話番号2": "1234", "送付先電話番号3": "5678", "送料合計": "0", "代引料合計": "0",
             "ポイント利用額": "0", "クーポン利用総額": "0", "項目・選択肢": "カラー:ネイビー サイズ:M", "コメント": ""}
    keys = {n: i for i, n in enumerate(cols)}
    base = ['"' + fixed.get(c, "") + '"' for c in cols]
    with open(path, "wb") as out:
        out.write((",".join(f'"{c}"' for c in cols) + "\r\n").encode("cp932"))
        buf = []
        for r in range(rows + extra_orders * per_order):
            o = r // per_order
            sku = (r * 7919) % SKUS
            row = base.copy()
            row[keys["注文番号"]] = f'"402853-{20260101 + (o // 100000) % 28}-{o:010d}"'
            row[keys["商品明細ID"]] = f'"{r}"'
            row[keys["注文日時"]] = f'"2026-06-{1 + o % 28:02d} {o % 24:02d}:{o % 60:02d}:{(o * 7) % 60:02d}"'
            row[keys["合計金額"]] = f'"{per_order * 1280:,}"'
            row[keys["商品番号"]] = f'"sku-{sku:05d}"'
            row[keys["商品名"]] = f'"サンプル商品 {sku} 髙品質①"'
            row[keys["個数"]] = '"1"'
            if changed_every and o % changed_every == changed_every // 2:
                row[keys["コメント"]] = '"配達前に電話してください"'
            row[keys["単価"]] = '"1280"'
            buf.append(",".join(row))
            if len(buf) == 10000:
                out.write(("\r\n".join(buf) + "\r\n").encode("cp932"))
                buf = []
        if buf:
            out.write(("\r\n".join(buf) + "\r\n").encode("cp932"))


PYTHON, TREE = sys.executable, ROOT     # who runs the tsunagi side (--python, --tree: the release before)


def run_child(code: str, *args: str, python: str = "") -> dict:
    """Run a measurement in a fresh process; it prints a JSON line with its own peak RSS."""
    out = subprocess.run([python or PYTHON, "-c", PEAK + code, *args], capture_output=True, text=True, cwd=TREE)
    if out.returncode not in (0, 1):
        raise SystemExit(f"child failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's size.
PEAK = "def peak_mb():\n    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n" \
       "import time as _t\ncpu = _t.process_time\n"      # CPU seconds of all threads: the figure a busy machine blurs least

BARE = r"""
import json, sys, time
import polars as pl
data = open(sys.argv[1], "rb").read()
t, c = time.perf_counter(), cpu()
frame = pl.read_csv(data, infer_schema=False)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "cpu": cpu() - c, "rows": frame.height, "rss_mb": peak_mb()}))
"""

PARSE = r"""
import json, sys, time
from pathlib import Path
from tsunagi.parsers import csvlayout
from tsunagi.parsers.csvfile import parse_file
t = time.perf_counter()
orders = 0
with open(sys.argv[1], "rb") as fh:
    decoded, chunks = parse_file(fh, csvlayout.load("rakuten-rms"), "rakuten", Path(sys.argv[1] + ".scratch"))
    decode = time.perf_counter() - t
    for chunk in chunks:
        orders += len(chunk.orders)
elapsed = time.perf_counter() - t
Path(sys.argv[1] + ".scratch").unlink()
print(json.dumps({"seconds": elapsed, "decode": decode, "orders": orders,
                  "rss_mb": peak_mb()}))
"""

IMPORT = r"""
import json, sys, time, io, contextlib
from tsunagi.app import cli
t, c = time.perf_counter(), cpu()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rc = cli.main(["-c", sys.argv[1], "import", sys.argv[2], "--shop", "rakuten", "--layout", "rakuten-rms"])
elapsed = time.perf_counter() - t
print(buf.getvalue(), file=sys.stderr)
print(json.dumps({"seconds": elapsed, "cpu": cpu() - c, "rc": rc, "rss_mb": peak_mb(), "out": buf.getvalue()}))
"""


def setup_shop(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text("""data_dir = "var"
locations = ["本店倉庫"]
[smtp]
listen = "127.0.0.1:0"
[[shop]]
id = "rakuten"
cart = "rakuten"
order_mail_to = ["r@orders.example.jp"]
order_csv = { layout = "rakuten-rms" }
stock_feed = { layout = "rakuten-normal-item" }
""", encoding="utf-8")
    (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:05d},商品{i}\n" for i in range(SKUS)))
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:05d},本店倉庫,,100000\n"
                                                                          for i in range(SKUS)))
    for cmd in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")]):
        subprocess.run([PYTHON, "-m", "tsunagi.app.cli", "-c", str(config), *cmd], check=True, cwd=TREE,
                       capture_output=True)
    return config


def to_utf8(src: Path, utf8: Path) -> None:
    with open(src, "rb") as fin, open(utf8, "wb") as fout:     # streaming: this process stays small
        decoder = codecs.getincrementaldecoder("cp932")()
        while block := fin.read(8 << 20):
            fout.write(decoder.decode(block).encode("utf-8"))


def reimport(folder: Path, rows: int, per_order: int, repeat: int = 1, changed_every: int = 0) -> None:
    """The same orders pulled again: the second file differs only by one order appended. repeat: the
    re-import (from the store as the first import left it) and the bare read are each timed that many
    times, alternately, and the fastest of each kept (a shared machine's noise only ever adds)."""
    first, second = folder / "orders-1.csv", folder / "orders-2.csv"
    generate(first, rows, per_order)
    generate(second, rows, per_order, extra_orders=1, changed_every=changed_every)
    utf8 = folder / "orders-2.utf8.csv"
    to_utf8(second, utf8)
    config = setup_shop(folder)
    once = run_child(IMPORT, str(config), str(first))
    if repeat > 1:
        shutil.copytree(folder / "var", folder / "var.after-first")
    tries, bares = [], []
    for n in range(repeat):
        if n:
            shutil.rmtree(folder / "var")
            shutil.copytree(folder / "var.after-first", folder / "var")
        tries.append(run_child(IMPORT, str(config), str(second)))
        bares.append(run_child(BARE, str(utf8), python=sys.executable))
    again = min(tries, key=lambda r: r["seconds"])
    bare = min(bares, key=lambda r: r["seconds"])
    if repeat > 1:
        times = ", ".join(f"{r['seconds']:.2f}" for r in tries)
        bare_times = ", ".join(f"{r['seconds']:.3f}" for r in bares)
        print(f"re-import seconds: {times}; bare: {bare_times} (the fastest of each below)")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}; tsunagi from {TREE}")
    print(f"bare polars.read_csv of the second file (UTF-8): {bare['seconds']:.3f} s")
    print(f"first import ({rows:,} rows, {rows // per_order:,} orders): {once['seconds']:.2f} s (exit {once['rc']})")
    print(f"re-import, same orders + 1 new: {again['seconds']:.2f} s  peak RSS {again['rss_mb']:.0f} MB  "
          f"(exit {again['rc']})")
    print("  " + "; ".join(line.strip() for line in again["out"].splitlines()[1:] if line.strip()))
    print(f"ratio re-import/bare: {again['seconds'] / bare['seconds']:.1f}x  (aim: <= 3x)")
    if repeat > 1:       # on a noisy machine one lucky run moves the fastest; the medians move less
        paired = statistics.median(t["seconds"] / b["seconds"] for t, b in zip(tries, bares))
        print(f"medians: re-import {statistics.median(r['seconds'] for r in tries):.2f} s, bare "
              f"{statistics.median(r['seconds'] for r in bares):.3f} s; median of the paired ratios {paired:.1f}x")
    print(f"CPU seconds (all threads): bare {bare['cpu']:.3f}, re-import {again['cpu']:.3f} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpu)")


def main() -> None:
    global PYTHON, TREE
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int)
    ap.add_argument("--lines-per-order", type=int, default=2)
    ap.add_argument("--keep")
    ap.add_argument("--reimport", action="store_true", help="time a re-import of unchanged orders")
    ap.add_argument("--repeat", type=int, default=1, help="--reimport: time it and the bare read N times, keep the fastest")
    ap.add_argument("--changed-every", type=int, default=0,
                    help="--reimport: every Nth order of the second file changed (a comment added), spread over the file")
    ap.add_argument("--python", default=sys.executable, help="the interpreter of the tsunagi side")
    ap.add_argument("--tree", default=str(ROOT), help="the checkout the tsunagi side runs from")
    args = ap.parse_args()
    PYTHON, TREE = args.python, Path(args.tree)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tsunagi-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.reimport:
        reimport(folder, args.rows or 100_000, args.lines_per_order, args.repeat, args.changed_every)
        if not args.keep:
            shutil.rmtree(folder)
        return
    args.rows = args.rows or 1_000_000
    src = folder / "rakuten-orders.csv"
    t = time.perf_counter()
    generate(src, args.rows, args.lines_per_order)
    print(f"generated {args.rows:,} rows, {src.stat().st_size / 1e6:.0f} MB CP932 in {time.perf_counter() - t:.0f} s")
    utf8 = folder / "rakuten-orders.utf8.csv"
    to_utf8(src, utf8)
    bare = run_child(BARE, str(utf8), python=sys.executable)
    parsed = run_child(PARSE, str(src))
    config = setup_shop(folder)
    imported = run_child(IMPORT, str(config), str(src))
    ratio = imported["seconds"] / bare["seconds"]
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"bare polars.read_csv (UTF-8): {bare['seconds']:.2f} s  {args.rows / bare['seconds']:,.0f} rows/s  "
          f"peak RSS {bare['rss_mb']:.0f} MB")
    print(f"tsunagi parse only (no store): decode CP932 + checks {parsed['decode']:.2f} s "
          f"({parsed['decode'] / bare['seconds']:.1f}x); decode + parse to {parsed['orders']:,} OrderRecords "
          f"{parsed['seconds']:.2f} s ({parsed['seconds'] / bare['seconds']:.1f}x), peak RSS {parsed['rss_mb']:.0f} MB")
    print(f"tsunagi import (CP932, end to end): {imported['seconds']:.2f} s  {args.rows / imported['seconds']:,.0f} rows/s  "
          f"peak RSS {imported['rss_mb']:.0f} MB  (exit {imported['rc']})")
    print(f"ratio import/bare: {ratio:.1f}x  (aim: <= 5x, peak RSS < 1536 MB)")
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
