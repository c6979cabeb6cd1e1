"""Durable before acknowledged, exactly once after: the daemon SIGKILLed at random while mail arrives."""
from __future__ import annotations

import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter

from tests.support.configs import EC_TO, RAKUTEN_TO, edit_config, seed, write_config
from tests.support.daemon import wait_for
from tests.support.net import free_port, listening
from tests.support.sinks import Sink
from tests.support.sites import MailSite, ShipSite, mod7, order
from tsunagi.app import config as config_mod
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store

MAILS = 500
SENDERS = 4
KILLS = 5


def start(config_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_and_restart(proc: subprocess.Popen, config_path, port: int) -> subprocess.Popen:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc = start(config_path)
    wait_for(lambda: listening(port), timeout=30)
    return proc


def on_port(port: int, synchronous: str | None = None):
    """A config change: SMTP on this fixed port (a restarted daemon must come back on it), and the store's sync."""
    def change(config: dict) -> None:
        config["smtp"]["listen"] = f"127.0.0.1:{port}"
        if synchronous:
            config["store"]["synchronous"] = synchronous
    return change


def sender(port: int, mails: list[tuple[str, bytes]], acked: set, stop: threading.Event,
           rcpt: str = RAKUTEN_TO) -> None:
    """Like a sending MTA: a mail without 250 is tried again until it gets one."""
    for order_no, raw in mails:
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                    smtp.sendmail("order@rakuten.co.jp", [rcpt], raw)
                acked.add(order_no)
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)


def test_sigkill_at_random_moments_loses_nothing_and_applies_each_mail_once(tmp_path):
    port = free_port()
    config_path = write_config(tmp_path, store={"synchronous": "FULL"}, smtp={"listen": f"127.0.0.1:{port}"})
    seed(config_path, counts="sku,location,lot,qty\nitem-a,本店倉庫,1,100000\nitem-b,本店倉庫,1,100000\n")
    mails = [(f"402853-20260612-{n:010d}", order_mail(
        "rakuten", SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1000),
                                                             Item("item-b", "商品B", 2, 500)]), RAKUTEN_TO))
             for n in range(MAILS)]
    acked: set[str] = set()
    stop = threading.Event()
    proc = start(config_path)
    wait_for(lambda: listening(port), timeout=30)
    threads = [threading.Thread(target=sender, args=(port, mails[i::SENDERS], acked, stop)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    rng = random.Random(20261122)
    kills = 0
    try:
        while kills < KILLS and any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(0.05, 0.4))
            proc = kill_and_restart(proc, config_path, port)
            kills += 1
        for t in threads:
            t.join(timeout=240)
        assert len(acked) == MAILS, f"only {len(acked)} of {MAILS} mails got 250"
        cfg = config_mod.load(config_path)
        spool = Spool(cfg.spool_dir)
        wait_for(lambda: not spool.waiting() and not any(spool.dir("cur").iterdir()), timeout=120)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert kills >= 3, "the daemon must have been killed while mail was arriving"
    store = Store(cfg.db_path)
    tx = store.read()
    orders = [r[0] for r in tx.all("SELECT order_no FROM orders")]
    assert len(orders) == len(set(orders)) == MAILS           # every acknowledged mail, once
    assert set(orders) == acked
    assert tx.value("SELECT COUNT(*) FROM order_lines") == 2 * MAILS
    reserved = dict(tx.all("SELECT sku, SUM(reserved) FROM stock GROUP BY sku"))
    assert reserved == {"item-a": MAILS, "item-b": 2 * MAILS}  # no stock reserved twice
    for sku, on_hand, res, l_on, l_res in tx.all(
            "SELECT s.sku, s.on_hand, s.reserved, SUM(l.d_on_hand), SUM(l.d_reserved) FROM stock s "
            "JOIN ledger l ON l.sku = s.sku AND l.location = s.location AND l.lot = s.lot GROUP BY s.sku, s.location, s.lot"):
        assert (on_hand, res) == (l_on, l_res), sku           # the ledger sums to the figures
    assert spool.failed() == []


def test_sigkill_while_dropped_order_csvs_meet_mails_keeps_every_order_once(tmp_path):
    """Mails and order CSVs for the same orders, the daemon killed at random: at the end every order
    exists once, those in a CSV are confirmed, and stock is reserved exactly once for each."""
    port = free_port()
    config_path = write_config(tmp_path, store={"synchronous": "FULL"}, smtp={"listen": f"127.0.0.1:{port}"})
    seed(config_path, counts="sku,location,lot,qty\nitem-a,本店倉庫,1,100000\nitem-b,本店倉庫,1,100000\n")
    orders = [SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500)])
              for n in range(400)]
    mails = [(o.order_no, order_mail("rakuten", o, RAKUTEN_TO)) for o in orders[:200]]
    files = [order_csv("rakuten-rms", orders[i:i + 40]) for i in range(0, 400, 40)]
    cfg = config_mod.load(config_path)
    drop = cfg.spool_dir / "drop" / "rakuten"
    acked: set[str] = set()
    stop = threading.Event()
    proc = start(config_path)
    wait_for(lambda: listening(port), timeout=30)
    threads = [threading.Thread(target=sender, args=(port, mails[i::2], acked, stop)) for i in range(2)]
    for t in threads:
        t.start()
    rng = random.Random(7)
    kills = 0
    try:
        for n, data in enumerate(files):
            (drop / f"orders-{n:02d}.csv.part").write_bytes(data)
            os.rename(drop / f"orders-{n:02d}.csv.part", drop / f"orders-{n:02d}.csv")
            time.sleep(rng.uniform(0.02, 0.2))
            if n % 3 == 1:
                proc = kill_and_restart(proc, config_path, port)
                kills += 1
        for t in threads:
            t.join(timeout=240)
        spool = Spool(cfg.spool_dir)
        wait_for(lambda: not list(drop.iterdir()) and not spool.waiting() and not any(spool.dir("cur").iterdir()),
                 timeout=120)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert kills >= 3 and len(acked) == 200
    tx = Store(cfg.db_path).read()
    rows = tx.all("SELECT order_no, status FROM orders")
    assert len(rows) == len({r[0] for r in rows}) == 400
    assert {r[1] for r in rows} == {"confirm"}
    assert tx.value("SELECT COUNT(*) FROM order_lines") == 800
    reserved = dict(tx.all("SELECT sku, SUM(reserved) FROM stock GROUP BY sku"))
    assert reserved == {"item-a": 400, "item-b": 800}
    assert tx.value("SELECT COUNT(*) FROM orders WHERE mail_at IS NOT NULL") == 200
    assert spool.failed() == []


def test_sigkill_while_carrier_results_arrive_ships_each_order_once(tmp_path, capsys):
    """Label export done, then the carrier's result files dropped while the daemon is killed at random:
    every order shipped once, its units taken out of stock once, the ledger summing to the figures."""
    site = ShipSite(tmp_path, capsys)
    port = free_port()
    site.edit(on_port(port, synchronous="FULL"))
    with Store(tmp_path / "var" / "tsunagi.db").transaction() as tx:
        tx.run("UPDATE stock SET on_hand = 100000 WHERE sku = 'item-a'")
        tx.run("INSERT INTO ledger (at, sku, location, lot, d_on_hand, d_reserved, cause, ref) "
               "SELECT '2026-01-01', sku, location, lot, 100000 - 10, 0, 'count', 'test' FROM stock WHERE sku = 'item-a'")
    orders = [order(n, Item("item-a", "A", 2, 100)) for n in range(1, 201)]
    site.orders_csv(orders)
    assert len(site.export()) == 1
    drop = site.spool.dir("drop") / "carrier"
    proc = start(site.config_path)
    wait_for(lambda: listening(port), timeout=30)
    rng = random.Random(11)
    kills = 0
    try:
        for n in range(0, 200, 20):
            rows = [f"T{k:08d},0,0,{mod7(str(10_000_000_000 + k))},2026/06/13" for k in range(n + 1, n + 21)]
            (drop / f".r{n}.part").write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
            os.rename(drop / f".r{n}.part", drop / f"result-{n:03d}.csv")
            time.sleep(rng.uniform(0.02, 0.2))
            if n % 60 == 20:
                proc = kill_and_restart(proc, site.config_path, port)
                kills += 1
        wait_for(lambda: not list(drop.iterdir()) and not site.spool.waiting()
                 and not any(site.spool.dir("cur").iterdir()), timeout=120)
        wait_for(lambda: Store(tmp_path / "var" / "tsunagi.db").read().value(
            "SELECT COUNT(DISTINCT order_id) FROM confirmations") == 200, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert kills >= 3
    tx = Store(tmp_path / "var" / "tsunagi.db").read()
    assert tx.value("SELECT SUM(on_hand) FROM stock WHERE sku = 'item-a'") == 100000 - 400
    assert tx.value("SELECT SUM(reserved) FROM stock WHERE sku = 'item-a'") == 0
    assert tx.value("SELECT COUNT(*) FROM order_history WHERE to_status = 'shipped'") == 200
    for sku, on_hand, res, l_on, l_res in tx.all(
            "SELECT s.sku, s.on_hand, s.reserved, SUM(l.d_on_hand), SUM(l.d_reserved) FROM stock s JOIN ledger l "
            "ON l.sku = s.sku AND l.location = s.location AND l.lot = s.lot GROUP BY s.sku, s.location, s.lot"):
        assert (on_hand, res) == (l_on, l_res), sku
    confirmed = tx.all("SELECT order_id, COUNT(*) FROM confirmations GROUP BY order_id")
    assert len(confirmed) == 200 and {n for _, n in confirmed} == {1}   # each confirmed exactly once
    assert site.spool.failed() == []
    site.deliver()             # the operator uploads the confirmation files: every order closes
    assert Store(tmp_path / "var" / "tsunagi.db").read().value(
        "SELECT COUNT(*) FROM orders WHERE status = 'closed'") == 200


def test_sigkill_while_buyer_mails_go_out_sends_each_at_most_once_and_loses_none(tmp_path, capsys):
    """Orders arrive over SMTP and their purchase mails go to a real relay while the daemon is killed:
    every order gets one mail, sent exactly once, or is left 'uncertain' for a person (never twice)."""
    relay = Sink().start()
    try:
        site = MailSite(tmp_path, capsys, relay.port)
        port = free_port()
        edit_config(site.config_path, on_port(port, synchronous="FULL"))     # for the daemon started below
        (tmp_path / "more.csv").write_text("sku,location,lot,qty\nitem-c,本店倉庫,1,1000\n", encoding="utf-8")
        assert site.cli("stock", "import", str(tmp_path / "more.csv")) == 0     # every order is placed (新規受付)
        buyer = Person("山田 太郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "taro@example.jp")
        mails = [(f"EC{n:05d}", order_mail("ec-cube", SampleOrder(f"EC{n:05d}", [Item("item-c", "商品C", 1, 100)],
                                                                   buyer=buyer), EC_TO)) for n in range(120)]
        acked: set[str] = set()
        stop = threading.Event()
        proc = start(site.config_path)
        wait_for(lambda: listening(port), timeout=30)
        threads = [threading.Thread(target=sender, args=(port, mails[i::2], acked, stop, EC_TO)) for i in range(2)]
        for t in threads:
            t.start()
        rng = random.Random(5)
        kills = 0
        try:
            while kills < 4 and (any(t.is_alive() for t in threads) or kills < 3):
                time.sleep(rng.uniform(0.2, 0.6))
                proc = kill_and_restart(proc, site.config_path, port)
                kills += 1
            for t in threads:
                t.join(timeout=120)
            wait_for(lambda: site.store.read().value(
                "SELECT COUNT(*) FROM mails WHERE state IN ('queued', 'sending')") == 0
                and site.store.read().value("SELECT COUNT(*) FROM mails") == 120, timeout=60)
        finally:
            stop.set()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        assert len(acked) == 120 and kills >= 3
        received = Counter(m["Subject"].split("注文番号 ")[1].rstrip("）") for m in relay.handler.parsed())
        states = dict(site.store.read().all(
            "SELECT o.order_no, m.state FROM mails m JOIN orders o ON o.id = m.order_id WHERE m.stage = 'purchase'"))
        assert len(states) == 120
        assert all(n == 1 for n in received.values())                       # never twice
        for order_no, state in states.items():
            assert state in ("sent", "uncertain"), (order_no, state)
            if state == "sent":
                assert received[order_no] == 1, order_no                    # sent means it arrived, once
    finally:
        relay.stop()
