"""Intake benchmark: order mails over SMTP with concurrent clients, against bare aiosmtpd in the same run.

Reports mails/s accepted (250, durable), mails/s applied end to end, latency from 250 to the stock
feed file that carries the order (p50, p99), and the daemon's RSS over the run.

    python bench/intake.py                 # 5,000 mails, 4 client processes
    python bench/intake.py -n 20000        # the memory check
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.net import free_port, wait_listening  # noqa: E402
from tsunagi.demo.mails import Item, SampleOrder, order_mail  # noqa: E402

RCPT = "rakuten-7f3k@orders.example.jp"
PRODUCTS = 50


def make_mails(n: int) -> list[bytes]:
    return [order_mail("rakuten", SampleOrder(f"402853-20260612-{i:010d}", [
        Item(f"P{i % PRODUCTS:03d}", "ベンチ商品", 1 + i % 3, 1200)]), RCPT) for i in range(n)]


def client(port: int, mails: list[bytes], out: mp.Queue) -> None:
    """One persistent SMTP session, as a forwarding MTA keeps one; records each 250's time."""
    acks = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for raw in mails:
            smtp.sendmail("order@rakuten.co.jp", [RCPT], raw)
            acks.append(time.time())
    out.put(acks)


def blast(port: int, mails: list[bytes], clients: int) -> tuple[float, float, list[float]]:
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=client, args=(port, mails[i::clients], out)) for i in range(clients)]
    start = time.time()
    for p in procs:
        p.start()
    acks = [t for _ in procs for t in out.get()]
    for p in procs:
        p.join()
    return start, time.time(), acks


def bare_server(port: int) -> None:
    from aiosmtpd.smtp import SMTP

    class Nothing:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(Nothing(), decode_data=False), "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def setup(tmp: Path, port: int, sync: str) -> Path:
    cfg = (ROOT / "config.toml").read_text(encoding="utf-8")
    cfg = cfg.replace('listen = "127.0.0.1:2525"', f'listen = "127.0.0.1:{port}"').replace(
        'synchronous = "FULL"', f'synchronous = "{sync}"')
    (tmp / "config.toml").write_text(cfg, encoding="utf-8")
    (tmp / "p.csv").write_text("sku,name\n" + "".join(f"P{i:03d},商品{i}\n" for i in range(PRODUCTS)), encoding="utf-8")
    (tmp / "c.csv").write_text("sku,location,lot,qty\n" + "".join(
        f"P{i:03d},本店倉庫,1,10000000\n" for i in range(PRODUCTS)), encoding="utf-8")
    for args in (["products", "import", str(tmp / "p.csv")], ["stock", "import", str(tmp / "c.csv")]):
        subprocess.run([sys.executable, "-m", "tsunagi.app.cli", "-c", str(tmp / "config.toml"), *args],
                       check=True, stdout=subprocess.DEVNULL)
    return tmp / "config.toml"


def applied_times(db: Path) -> list[float]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT created_at FROM orders ORDER BY id").fetchall()
    conn.close()
    return [datetime.fromisoformat(r[0]).timestamp() for r in rows]


def feed_latencies(acks: list[float], applied: list[float], feeds: list[float]) -> list[float]:
    """For each order: the first feed file written after it was applied, minus its 250."""
    feeds = sorted(feeds)
    out, j = [], 0
    for ack, done in sorted(zip(sorted(acks), sorted(applied))):
        while j < len(feeds) and feeds[j] < done:
            j += 1
        if j < len(feeds):
            out.append(feeds[j] - ack)
    return out


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


def run_tsunagi(mails: list[bytes], clients: int, sync: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-bench-"))
    port = free_port()
    config = setup(tmp, port, sync)
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    time.sleep(1.5)  # let the initial feed go out
    feed_dir = tmp / "var" / "spool" / "outbox" / "rakuten" / "ready"
    before = set(feed_dir.glob("*"))
    rss = [rss_kb(proc.pid)]
    start, acked_at, acks = blast(port, mails, clients)
    db = tmp / "var" / "tsunagi.db"
    while True:
        conn = sqlite3.connect(db)
        n = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        conn.close()
        rss.append(rss_kb(proc.pid))
        if n >= len(mails):
            break
        time.sleep(0.05)
    applied = applied_times(db)
    time.sleep(1.5)
    feeds = [p.stat().st_mtime for p in set(feed_dir.glob("*")) - before]
    rss.append(rss_kb(proc.pid))
    proc.terminate()
    proc.wait()
    lat = feed_latencies(acks, applied, feeds)
    return {"accepted_per_s": len(mails) / (acked_at - start), "applied_per_s": len(mails) / (max(applied) - start),
            "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000, "feed_files": len(feeds),
            "rss_mb": [round(r / 1024) for r in rss[:: max(1, len(rss) // 6)]] + [round(rss[-1] / 1024)]}


def run_bare(mails: list[bytes], clients: int) -> float:
    port = free_port()
    proc = mp.Process(target=bare_server, args=(port,))
    proc.start()
    wait_listening(port)
    start, end, _ = blast(port, mails, clients)
    proc.terminate()
    proc.join()
    return len(mails) / (end - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL"])
    args = ap.parse_args()
    mails = make_mails(args.n)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}; {args.n} mails, {args.clients} clients, synchronous={args.sync}")
    bare = run_bare(mails, args.clients)
    print(f"bare aiosmtpd (handler does nothing):   {bare:8.0f} mails/s accepted")
    r = run_tsunagi(mails, args.clients, args.sync)
    print(f"tsunagi accepted (250, fsync'd spool):   {r['accepted_per_s']:8.0f} mails/s  "
          f"({r['accepted_per_s'] / bare:.2f}x bare)")
    print(f"tsunagi applied end to end:              {r['applied_per_s']:8.0f} mails/s  "
          f"({r['applied_per_s'] / bare:.2f}x bare)")
    print(f"250 -> stock feed file latency:          p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms "
          f"({r['feed_files']} feed files)")
    print(f"daemon RSS over the run (MB):            {r['rss_mb']}")


if __name__ == "__main__":
    main()
