"""Benchmark: 10,000 shipment mails rendered from the Jinja templates and sent to a loopback SMTP sink.

    python bench/notify.py [--mails 10000]

Set-up (not timed): 10,000 orders imported, labelled and shipped, which queues their shipment mails.
Timed: a fresh process runs the mailer until the queue is empty (render, MIME, 'sending' and 'sent'
commits, SMTP to the sink); peak RSS is its VmHWM. Baseline in the same run: bare smtplib sending the
same number of already-built messages to the same sink over one connection."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from bench.ship import CONFIG, mod7, tsunagi  # noqa: E402
from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, Person, SampleOrder  # noqa: E402

SEND = r"""
import json, sys, time
from tsunagi.app import config, wiring
from tsunagi.oms.store import Store
def peak_mb():
    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024
cfg = config.load(sys.argv[1])
store = Store(cfg.db_path, cfg.store_synchronous)
mailer = wiring.mailer(cfg, store)
t = time.perf_counter()
sent = 0
while n := mailer.send_due(limit=int(sys.argv[2])):
    sent += n
print(json.dumps({"seconds": time.perf_counter() - t, "sent": sent, "counts": mailer.counts, "rss_mb": peak_mb()}))
"""


class Counting:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        return "250 OK"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=20)
    args = ap.parse_args()
    n = args.mails
    folder = Path(tempfile.mkdtemp(prefix="tsunagi-notify-"))
    sink = Counting()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = folder / "config.toml"
        text = CONFIG.replace("[[carrier]]", f'[relay]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n\n[[carrier]]')
        text = text.replace('order_mail_to = ["r@orders.example.jp"]', 'order_mail_to = ["r@orders.example.jp"]\n'
                            'mail = { sender = "shop@example.jp", sender_name = "つなぎ商店", signature = "つなぎ商店", '
                            'shipment = {} }')
        config.write_text(text, encoding="utf-8")
        c = ["-c", str(config)]
        (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:03d},商品{i}\n" for i in range(100)))
        (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:03d},本店倉庫,,100000\n" for i in range(100)))
        people = [Person(f"山田 {i}郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", f"buyer{i}@example.jp")
                  for i in range(1000)]
        orders = [SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 100:03d}", "商品", 1, 1280)],
                              buyer=people[k % 1000]) for k in range(n)]
        (folder / "orders.csv").write_bytes(order_csv("rakuten-rms", orders))
        (folder / "result.csv").write_bytes("".join(f"T{k + 1:08d},0,0,{mod7(10_000_000_000 + k)},2026/06/13\r\n"
                                                    for k in range(n)).encode("cp932"))
        t = time.perf_counter()
        for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")],
                     ["import", str(folder / "orders.csv"), "--shop", "rakuten"], ["ship", "export", "yamato"],
                     ["import", str(folder / "result.csv"), "--carrier", "yamato"]):
            tsunagi(*c, *step)
        print(f"set-up: {n:,} orders shipped, {n:,} shipment mails queued, in {time.perf_counter() - t:.0f} s")

        sample = b"From: shop@example.jp\r\nTo: buyer@example.jp\r\nSubject: test\r\n\r\n" + (b"x" * 74 + b"\r\n") * 20
        before = sink.n
        t = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _ in range(n):
                smtp.sendmail("shop@example.jp", ["buyer@example.jp"], sample)
        bare = time.perf_counter() - t
        assert sink.n - before == n
        out = subprocess.run([sys.executable, "-c", SEND, str(config), str(args.batch)], capture_output=True, text=True,
                             cwd=ROOT)
        if out.returncode:
            raise SystemExit(out.stderr)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
        print(f"baseline, bare smtplib (one connection, pre-built 1.5 KB messages): {n / bare:,.0f} mails/s")
        print(f"tsunagi mailer (render + MIME + queue states + SMTP): {result['sent']:,} mails in {result['seconds']:.2f} s"
              f" = {result['sent'] / result['seconds']:,.0f} mails/s ({result['sent'] / result['seconds'] / (n / bare):.2f}x"
              f" of bare), peak RSS {result['rss_mb']:.0f} MB, states {result['counts']}  (aim: >= 200 mails/s)")
    finally:
        controller.stop()
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
