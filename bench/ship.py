"""Benchmark: label export for 100,000 ready orders, then the import of their 100,000 tracking numbers.

    python bench/ship.py [--orders 100000] [--keep DIR]

Orders are made ready first (an order CSV imported and mapped; not timed). Each timed step runs as the
operator runs it, `tsunagi ship export yamato` and `tsunagi import result.csv --carrier yamato`, in its own
process; peak RSS is that process's VmHWM."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, Person, SampleOrder  # noqa: E402

CONFIG = """data_dir = "var"
locations = ["本店倉庫"]
[smtp]
listen = "127.0.0.1:0"
[[carrier]]
name = "yamato"
layout = "yamato-b2"
result_layouts = ["yamato-b2-result-noheader"]
shipper = { name = "つなぎ商店", postal_code = "100-0001", address = "東京都千代田区千代田1-1", phone = "03-1234-5678" }
account = { billing_code = "012345678901", freight_no = "01" }
[[shop]]
id = "rakuten"
cart = "rakuten"
order_mail_to = ["r@orders.example.jp"]
order_csv = { layout = "rakuten-rms" }
shipping = { delivery = { "宅配便" = "宅急便" }, payment = { "クレジットカード" = "prepaid", "代金引換" = "cod" }, time = { "午前中" = "午前中" }, confirm_layout = "rakuten-shipping" }
"""

STEP = r"""
import json, sys, time, io, contextlib
from tsunagi.app import cli
def peak_mb():
    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024
buf = io.StringIO()
t = time.perf_counter()
with contextlib.redirect_stdout(buf):
    rc = cli.main(sys.argv[1:])
elapsed = time.perf_counter() - t
print(buf.getvalue()[-2000:], file=sys.stderr)
print(json.dumps({"seconds": elapsed, "rc": rc, "rss_mb": peak_mb()}))
"""


def tsunagi(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", STEP, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"failed: {args}\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mod7(eleven: int) -> str:
    return f"{eleven:011d}{eleven % 7}"


def baselines(label_file: Path, results: Path) -> tuple[float, float]:
    """Seconds for polars alone: writing the label file's rows as CP932 CSV, and reading the result file."""
    import io
    import polars as pl
    frame = pl.read_csv(io.BytesIO(label_file.read_bytes().decode("cp932").encode()), infer_schema=False)
    t = time.perf_counter()
    frame.write_csv(separator=",", line_terminator="\r\n").encode("cp932")
    write = time.perf_counter() - t
    t = time.perf_counter()
    pl.read_csv(io.BytesIO(results.read_bytes()), has_header=False, infer_schema=False)
    return write, time.perf_counter() - t


def ready_orders(folder: Path, n: int) -> list[str]:
    """A data folder with 500 products in stock and n Rakuten orders imported and ready; the -c arguments."""
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:04d},商品{i}\n" for i in range(500)))
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:04d},本店倉庫,,1000000\n"
                                                                          for i in range(500)))
    people = [Person(f"山田 {i}郎", f"{100 + i % 800:03d}-{i % 10000:04d}", f"東京都千代田区千代田{i % 9 + 1}-{i % 30 + 1}",
                     f"03-{i % 10000:04d}-{(i * 7) % 10000:04d}", "") for i in range(1000)]
    orders = [SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 500:04d}", "商品", 1 + k % 2, 1280)],
                          ship_to=people[k % 1000], payment="代金引換" if k % 10 == 0 else "クレジットカード",
                          requested_time="午前中" if k % 3 == 0 else "") for k in range(n)]
    (folder / "orders.csv").write_bytes(order_csv("rakuten-rms", orders))
    c = ["-c", str(config)]
    for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")],
                 ["import", str(folder / "orders.csv"), "--shop", "rakuten"]):
        tsunagi(*c, *step)
    return c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--keep")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tsunagi-ship-"))
    folder.mkdir(parents=True, exist_ok=True)
    n = args.orders
    t = time.perf_counter()
    c = ready_orders(folder, n)
    print(f"set-up: {n:,} orders imported and made ready in {time.perf_counter() - t:.0f} s (not timed below)")

    export = tsunagi(*c, "ship", "export", "yamato", "--date", "2026-06-13")
    labels = sorted((folder / "var" / "spool" / "outbox" / "yamato" / "ready").glob("*.csv"))
    rows = sum(len(p.read_bytes().split(b"\r\n")) - 2 for p in labels)
    results = folder / "result.csv"
    results.write_bytes("".join(f"T{k + 1:08d},0,0,{mod7(10_000_000_000 + k)},2026/06/13\r\n"
                                for k in range(n)).encode("cp932"))
    tracking = tsunagi(*c, "import", str(results), "--carrier", "yamato")
    bare_write, bare_read = baselines(labels[0], results)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"baseline, bare polars: write the same {rows:,} x 95 label rows as CP932 {bare_write:.2f} s; "
          f"read the result file {bare_read:.2f} s")
    print(f"label export: {rows:,} B2 rows in {export['seconds']:.2f} s ({rows / export['seconds']:,.0f} orders/s, "
          f"{export['seconds'] / bare_write:.0f}x the bare write), peak RSS {export['rss_mb']:.0f} MB  (aim: < 10 s)")
    print(f"tracking import: {n:,} numbers in {tracking['seconds']:.2f} s ({n / tracking['seconds']:,.0f} /s, "
          f"{tracking['seconds'] / bare_read:.0f}x the bare read), peak RSS {tracking['rss_mb']:.0f} MB  (aim: < 10 s)")
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
