"""Benchmark of the operator's order work: payments part: 10,000 payments matched against 100,000 open orders.

    python bench/operations.py [--orders 100000] [--payments 10000] [--keep DIR]

100,000 Rakuten orders paid by bank transfer are imported and wait in 入金待ち (set-up, not timed). The timed
step runs as the operator runs it, `tsunagi payment import payments.csv`, in its own process: half the
payments name their order number, half are found by exact amount and the payer's half-width kana. The
baseline, in the same run, is polars alone reading the same payment file (CP932 decoded, all columns text)."""
from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ship import CONFIG, tsunagi  # noqa: E402
from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, Person, SampleOrder  # noqa: E402

FULL = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"
HALF = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜ"
PEOPLE = 1000


def kana(i: int, letters: str) -> str:
    """Buyer i's reading: a family name and two letters that tell the 1,000 buyers apart."""
    return f"{letters[31]}{letters[7]}{letters[20]} {letters[i // len(letters)]}{letters[i % len(letters)]}"


def order(k: int) -> SampleOrder:
    """Order k: buyer k mod 1,000 and a price that makes (amount, buyer) unique among the orders."""
    buyer = Person(f"山田 {k % PEOPLE}郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "",
                   kana(k % PEOPLE, FULL))
    return SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 500:04d}", "商品", 1, 1000 + k // PEOPLE)],
                       buyer=buyer, payment="銀行振込")


def open_orders(folder: Path, n: int) -> list[str]:
    """A data folder with 500 products in stock and n bank-transfer orders in 入金待ち; the -c arguments."""
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:04d},商品{i}\n" for i in range(500)))
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:04d},本店倉庫,,1000000\n"
                                                                          for i in range(500)))
    (folder / "orders.csv").write_bytes(order_csv("rakuten-rms", [order(k) for k in range(n)]))
    c = ["-c", str(config)]
    for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")],
                 ["import", str(folder / "orders.csv"), "--shop", "rakuten"]):
        tsunagi(*c, *step)
    return c


def payment_file(path: Path, n_orders: int, n: int) -> None:
    """n payments spread over the orders: even ones name the order number, odd ones only amount and kana."""
    rows = ["date,amount,payer_kana,reference"]
    step = max(1, n_orders // n)
    for p in range(n):
        k = p * step
        o = order(k)
        payer = kana(k % PEOPLE, HALF)
        rows.append(f"2026-06-14,{o.total},{payer},{o.order_no if p % 2 == 0 else ''}")
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))


def bare_read(path: Path) -> float:
    import polars as pl
    t = time.perf_counter()
    pl.read_csv(io.StringIO(path.read_bytes().decode("cp932")), infer_schema=False)
    return time.perf_counter() - t


def payments(folder: Path, n_orders: int, n: int) -> None:
    t = time.perf_counter()
    c = open_orders(folder, n_orders)
    print(f"set-up: {n_orders:,} bank-transfer orders imported into 入金待ち in {time.perf_counter() - t:.0f} s "
          f"(not timed below)")
    path = folder / "payments.csv"
    payment_file(path, n_orders, n)
    timed = tsunagi(*c, "payment", "import", str(path))
    baseline = bare_read(path)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"baseline, bare polars: read the {n:,}-row payment file {baseline:.3f} s")
    print(f"payment import: {n:,} payments matched against {n_orders:,} open orders in {timed['seconds']:.2f} s "
          f"({n / timed['seconds']:,.0f} /s, {timed['seconds'] / baseline:.0f}x the bare read), "
          f"peak RSS {timed['rss_mb']:.0f} MB, exit {timed['rc']}  (aim: < 10 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--payments", type=int, default=10_000)
    ap.add_argument("--keep")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tsunagi-operations-"))
    folder.mkdir(parents=True, exist_ok=True)
    payments(folder, args.orders, args.payments)
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
