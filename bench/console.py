"""Benchmark of the web console: with 100,000 orders, the order list (unfiltered at any page, filtered by
status, shop and a month, searched by kana in hiragana, 3 characters and 2) and the order page, 20 users at once
over real HTTP against `tsunagi serve`; p95 of the server's own time (its Server-Timing header) and of the round trip.

    python bench/console.py [--orders 100000] [--users 20] [--requests 25] [--keep DIR]

Set-up (not timed): 500 products in stock and the orders imported from a Rakuten CSV (card orders go on to
印刷待ち, bank transfers wait in 入金待ち), ordered over ~90 days. The baseline, in the same run, is the same
queries bare against the store (oms.orderlist.search for a page of 50 with its count; load_order with
history and the mail log for an order), from 20 threads at once, and from one."""
from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ship import CONFIG, tsunagi  # noqa: E402
from tests.support.net import free_port, listening  # noqa: E402
from tsunagi.common.clock import JST  # noqa: E402
from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, Person, SampleOrder  # noqa: E402
from tsunagi.oms import orderlist  # noqa: E402
from tsunagi.oms.outbound_tables import mail_log  # noqa: E402
from tsunagi.oms.readmodel import load_order  # noqa: E402
from tsunagi.oms.store import Store  # noqa: E402

PASSWORD = "bench password 1"
FAMILY = ["ヤマダ", "サトウ", "スズキ", "タカハシ", "タナカ", "イトウ", "ワタナベ", "ナカムラ"]
START = datetime(2026, 5, 1, 9, 0, tzinfo=JST)
FILTERED = {"status": "ready", "shop": "rakuten", "ordered_from": "2026-06-01", "ordered_to": "2026-06-30"}
SEARCH = "たなか"          # hiragana: the list also looks for the katakana reading, in every order's data
SHORT = "さと"             # 2 characters, in 1 order of 8 (サトウ): what staff type most is a short family name


def order(k: int) -> SampleOrder:
    buyer = Person(f"買手 {k % 1000}", "100-0001", "東京都千代田区千代田1-1", f"090-{k % 10000:04d}-{k % 7777:04d}", "",
                   f"{FAMILY[k % len(FAMILY)]} タロウ")
    return SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 500:04d}", "商品", 1 + k % 3, 1000 + k % 900)],
                       buyer=buyer, payment="銀行振込" if k % 4 == 0 else "クレジットカード",
                       ordered_at=START + timedelta(minutes=k * 90 * 24 * 60 // 100_000))


def setup(folder: Path, n: int, port: int) -> list[str]:
    config = folder / "config.toml"
    config.write_text(CONFIG + f'[web]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8")
    (folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:04d},商品{i}\n" for i in range(500)))
    (folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:04d},本店倉庫,,1000000\n"
                                                                          for i in range(500)))
    (folder / "orders.csv").write_bytes(order_csv("rakuten-rms", [order(k) for k in range(n)]))
    c = ["-c", str(config)]
    os.environ["BENCH_PASSWORD"] = PASSWORD
    for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")],
                 ["import", str(folder / "orders.csv"), "--shop", "rakuten"],
                 ["user", "add", "bench", "--role", "operator", "--password-env", "BENCH_PASSWORD"]):
        t = time.perf_counter()
        tsunagi(*c, *step)
        print(f"  set-up {step[0]} {step[1]}: {time.perf_counter() - t:.1f} s", flush=True)
    return c


class User:
    """One logged-in browser: its own session cookie, real HTTP."""

    def __init__(self, port: int):
        self.port, self.cookie = port, ""
        page = self.get("/login")[2]
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        login_cookie = self.cookie
        body = urlencode({"csrf": token, "name": "bench", "password": PASSWORD, "next": "/"}).encode()
        status, headers, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                                   "Cookie": login_cookie})
        assert status == 303, status
        self.cookie = headers["session"]

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers or ({"Cookie": self.cookie} if self.cookie else {}))
            resp = conn.getresponse()
            text = resp.read().decode()
            got = {k.lower(): v for k, v in resp.getheaders()}
            for line in resp.msg.get_all("set-cookie") or []:
                pair = line.split(";", 1)[0]
                if pair.startswith("tsunagi_session="):
                    got["session"] = pair
                elif not self.cookie:
                    self.cookie = pair           # the login form's own token
            return resp.status, got, text
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict, str]:
        return self.request("GET", path)

    def timed(self, path: str) -> tuple[float, float]:
        """(server ms from Server-Timing, round-trip ms) of one page."""
        t = time.perf_counter()
        status, headers, _ = self.get(path)
        trip = (time.perf_counter() - t) * 1000
        assert status == 200, (status, path)
        return float(headers["server-timing"].split("dur=")[1]), trip


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def scenarios(n: int, pages: int) -> dict:
    """name -> a function of a random generator giving the next path."""
    return {"list, unfiltered": lambda r: f"/orders?page={r.randint(1, pages)}",
            "list, filtered": lambda r: "/orders?" + urlencode(FILTERED),
            "list, kana search": lambda r: f"/orders?q={quote(SEARCH)}",
            "list, 2-char search": lambda r: f"/orders?q={quote(SHORT)}",
            "order page": lambda r: f"/orders/{r.randint(1, n)}"}


def bare(db: Path, n: int, pages: int) -> dict:
    """The same work as each scenario, bare against the store: what the console's pages stand on."""
    store = Store.open_read_only(db)

    def listing(f: orderlist.Filter, offset: int):
        orderlist.search(store.read(), f, 50, offset)

    def one(order_id: int):
        tx = store.read()
        load_order(tx, order_id, history=True)
        mail_log(tx, order_id=order_id)

    return {"list, unfiltered": lambda r: listing(orderlist.Filter(), (r.randint(1, pages) - 1) * 50),
            "list, filtered": lambda r: listing(orderlist.Filter(**{k: v for k, v in FILTERED.items()
                                                                   if k != "ordered_from" and k != "ordered_to"},
                                                                ordered_from=FILTERED["ordered_from"],
                                                                ordered_to=FILTERED["ordered_to"]), 0),
            "list, kana search": lambda r: listing(orderlist.Filter(text=SEARCH), 0),
            "list, 2-char search": lambda r: listing(orderlist.Filter(text=SHORT), 0),
            "order page": lambda r: one(r.randint(1, n))}


def run_users(users: list[User], make, per_user: int) -> tuple[list[float], list[float]]:
    servers, trips, lock = [], [], threading.Lock()

    def work(i: int):
        r = random.Random(i)
        for _ in range(per_user):
            s, t = users[i].timed(make(r))
            with lock:
                servers.append(s)
                trips.append(t)
    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(work, range(len(users))))
    return servers, trips


def run_bare(call, threads: int, per_thread: int) -> list[float]:
    times, lock = [], threading.Lock()

    def work(i: int):
        r = random.Random(1000 + i)
        for _ in range(per_thread):
            t = time.perf_counter()
            call(r)
            with lock:
                times.append((time.perf_counter() - t) * 1000)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--requests", type=int, default=25, help="requests per user and scenario")
    ap.add_argument("--keep", help="keep the data folder here (a folder kept before is used as it is)")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-console-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    print(f"console benchmark: {args.orders:,} orders, {args.users} users x {args.requests} requests a scenario; "
          f"{platform.python_version()}, {os.cpu_count()} cores", flush=True)
    if (folder / "var" / "tsunagi.db").exists():          # a folder kept by an earlier run: its data, a new port
        config = folder / "config.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(re.sub(r'\[web\]\nlisten = "[^"]+"', f'[web]\nlisten = "127.0.0.1:{port}"', text), encoding="utf-8")
        c = ["-c", str(config)]
        os.environ["BENCH_PASSWORD"] = PASSWORD
        print("  set-up: the kept data folder", flush=True)
    else:
        c = setup(folder, args.orders, port)
    pages = max(1, args.orders // 50)
    err = open(folder / "serve.stderr", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", *c, "serve"], cwd=ROOT, stderr=err,
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not listening(port) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        users = [User(port) for _ in range(args.users)]
        bares = bare(folder / "var" / "tsunagi.db", args.orders, pages)
        print(f"\n{'scenario':<20} {'server p50':>10} {'server p95':>10} {'trip p95':>9} | {'bare p50':>8} "
              f"{'bare p95':>8} {'1-thread p95':>12}   (ms)")
        for name, make in scenarios(args.orders, pages).items():
            run_users(users[:2], make, 2)                      # warm: the page cache, the templates
            servers, trips = run_users(users, make, args.requests)
            crowd = run_bare(bares[name], args.users, args.requests)
            alone = run_bare(bares[name], 1, args.requests)
            print(f"{name:<20} {pct(servers, 50):>10.0f} {pct(servers, 95):>10.0f} {pct(trips, 95):>9.0f} | "
                  f"{pct(crowd, 50):>8.0f} {pct(crowd, 95):>8.0f} {pct(alone, 95):>12.1f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        err.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
