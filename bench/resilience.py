"""Intake latency while a long writer runs: mails sent over SMTP while `tsunagi stock import` of many rows
runs in another process; for each mail, the time from its 250 to its order being in the store.

Runs the tsunagi of any source tree (the daemon and the import are subprocesses with PYTHONPATH=tree), so
the same script measures a commit before a change and after it:

    python bench/resilience.py                          # this tree, 200,000 rows
    git worktree add --detach /tmp/wt-base 26829e7
    python bench/resilience.py --tree /tmp/wt-base      # the baseline
"""
from __future__ import annotations

import argparse
import os
import platform
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.net import config_on_port, free_port, wait_listening  # noqa: E402
from tsunagi.demo.mails import Item, SampleOrder, order_mail  # noqa: E402

RCPT = "rakuten-7f3k@orders.example.jp"
SEND_EVERY = 0.25      # seconds between mails while the import runs
AFTER_SECONDS = 90     # how long mails are waited for once the import has finished


def tsunagi(tree: Path, config: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree))
    # run in the tree: `python -m` puts the working folder first on sys.path
    return subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config), *args], env=env, cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def setup(tree: Path, tmp: Path, port: int, rows: int) -> tuple[Path, Path]:
    config, _ = config_on_port(tree, tmp, port)
    # every counted code a product: a count for no product is refused
    (tmp / "p.csv").write_text("sku,name\nP000,商品\n" + "".join(f"S{n:07d},商品{n}\n" for n in range(rows)),
                               encoding="utf-8")
    (tmp / "c.csv").write_text("sku,location,lot,qty\nP000,本店倉庫,1,10000000\n", encoding="utf-8")
    for args in (["products", "import", str(tmp / "p.csv")], ["stock", "import", str(tmp / "c.csv")]):
        assert tsunagi(tree, config, *args).wait() == 0
    big = tmp / "counts.csv"
    big.write_text("sku,location,lot,qty\n" + "".join(f"S{n:07d},本店倉庫,1,{n % 50 + 1}\n" for n in range(rows)),
                   encoding="utf-8")
    return config, big


def applied(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {r[0] for r in conn.execute("SELECT order_no FROM orders")}
    finally:
        conn.close()


def run(tree: Path, rows: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-resilience-"))
    port = free_port()
    config, big = setup(tree, tmp, port, rows)
    db = tmp / "var" / "tsunagi.db"
    daemon = tsunagi(tree, config, "serve")
    wait_listening(port)
    warm = [order_mail("rakuten", SampleOrder(f"402853-20260611-{n:010d}", [Item("P000", "商品", 1, 1000)]), RCPT)
            for n in range(3)]
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:      # parse workers started, caches warm
        for raw in warm:
            smtp.sendmail("order@rakuten.co.jp", [RCPT], raw)
    end = time.monotonic() + 60
    while len(applied(db)) < 3:
        if time.monotonic() > end:
            raise SystemExit("the warm-up mails were not applied within 60 s")
        time.sleep(0.05)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch():
        while not done.is_set():
            now = time.monotonic()
            for order_no in applied(db) - seen.keys():
                seen[order_no] = now
            time.sleep(0.02)

    waits: list[tuple[float, float]] = []     # (when, how long) a writer asking every 5 ms waited for the lock

    def probe():
        conn = sqlite3.connect(db, timeout=0, isolation_level=None)
        while not done.is_set():
            asked = time.monotonic()
            while not done.is_set():
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("ROLLBACK")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.005)
            waits.append((asked - started, time.monotonic() - asked))
            time.sleep(0.1)
        conn.close()

    watcher, prober = threading.Thread(target=watch), threading.Thread(target=probe)
    started = time.monotonic()
    watcher.start()
    prober.start()
    importer = tsunagi(tree, config, "stock", "import", str(big))
    n = 0
    while importer.poll() is None:
        order_no = f"402853-20260612-{n:010d}"
        raw = order_mail("rakuten", SampleOrder(order_no, [Item("P000", "商品", 1, 1000)]), RCPT)
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.sendmail("order@rakuten.co.jp", [RCPT], raw)
        sent[order_no] = time.monotonic()
        n += 1
        time.sleep(SEND_EVERY)
    import_seconds = time.monotonic() - started
    end = time.monotonic() + AFTER_SECONDS
    while time.monotonic() < end and not sent.keys() <= seen.keys():
        time.sleep(0.1)
    done.set()
    watcher.join()
    prober.join()
    daemon.terminate()
    daemon.wait(timeout=30)
    delays = sorted(seen[o] - sent[o] for o in sent if o in seen)
    buckets: dict[int, float] = {}
    for o, at in sent.items():          # the worst delay of the mails sent in each 5 s of the import
        key = int((at - started) // 5) * 5
        buckets[key] = max(buckets.get(key, 0.0), seen.get(o, float("inf")) - at)
    return {"timeline": buckets, "longest_wait": max(waits, key=lambda w: w[1], default=(0.0, 0.0)), "import_s": import_seconds, "import_rc": importer.returncode, "sent": len(sent),
            "applied": len(delays), "not_applied": len(sent) - len(delays),
            "p50": statistics.median(delays) if delays else float("nan"),
            "p95": delays[int(0.95 * (len(delays) - 1))] if delays else float("nan"),
            "max": delays[-1] if delays else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="the source tree whose tsunagi runs")
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    print(f"# {datetime.now():%Y-%m-%d %H:%M}  {platform.node()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cpus  Python {platform.python_version()}  tree {args.tree}")
    r = run(args.tree.resolve(), args.rows)
    print(f"stock import of {args.rows:,} rows: {r['import_s']:.1f} s (exit {r['import_rc']})")
    print(f"mails sent while it ran: {r['sent']}, applied: {r['applied']}, not applied within {AFTER_SECONDS} s "
          f"after it: {r['not_applied']}")
    print(f"250 -> applied: p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, max {r['max']:.2f} s")
    when, wait = r["longest_wait"]
    print(f"longest wait of a probe writer for the lock (asking every 5 ms): {wait:.2f} s, at {when:.0f} s")
    print("worst delay of the mails sent in each 5 s from the import's start: "
          + ", ".join(f"{k}s {v:.1f}" for k, v in sorted(r["timeline"].items())))


if __name__ == "__main__":
    main()
