"""`tsunagi demo`: the real daemon on a temporary data dir, fed sample mails over real SMTP."""
from __future__ import annotations

import email
import email.policy
import shutil
import smtplib
import socket
import tempfile
import time
from datetime import date
from pathlib import Path

from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.app.daemon import start_in_thread
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.oms import queries, stock
from tsunagi.oms.readmodel import load_order
from tsunagi.outbound import labels

CONFIG = Path(__file__).with_name("config.toml")
PRODUCTS = """sku,name,components,channel_sku,shop
TS-001,つなぎ マグカップ 白,,,
TS-002,つなぎ マグカップ 黒,,,
TS-010,つなぎ コースター,,,
TS-SET,マグカップ2個セット,TS-001*1;TS-002*1,mug-pair:set,yahoo
"""
COUNTS = """sku,location,lot,qty
TS-001,本店倉庫,L2026-01,5
TS-001,外部倉庫,L2026-02,20
TS-002,本店倉庫,L2026-01,8
TS-010,本店倉庫,,3
"""


RAKUTEN_FIRST = SampleOrder("402853-20260612-0220534167", [
    Item("TS-001", "つなぎ マグカップ 白", 2, 1650, ("カラー:白",)), Item("TS-010", "コースター", 1, 880)],
    requested_date=date(2026, 6, 15), requested_time="午前中")
# Only in the order CSV: the mail never came (listed by `tsunagi orders --mail-missing` after a while).
RAKUTEN_CSV_ONLY = SampleOrder("402853-20260612-0220534170", [Item("TS-002", "つなぎ マグカップ 黒", 1, 1650)])


class _Relay:
    """A loopback SMTP server that keeps what it is sent (the demo's stand-in for a mail relay)."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages: list[bytes] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def sample_mails(cfg) -> list[tuple[str, bytes, str]]:
    to = {s.id: s.order_mail_to[0] for s in cfg.shops}
    return [
        ("楽天 (ISO-2022-JP)", order_mail("rakuten", RAKUTEN_FIRST, to["rakuten"], charset="iso-2022-jp",
                                          cte="7bit"), to["rakuten"]),
        ("Yahoo! (転送, 添付)", order_mail("yahoo", SampleOrder("sample-store-10000123", [
            Item("mug-pair:set", "マグカップ2個セット", 1, 3000)], payment="代金引換", cod_fee=330),
            to["yahoo"], forward="attached"), to["yahoo"]),
        ("EC-CUBE (Shift_JIS)", order_mail("ec-cube", SampleOrder("1001", [
            Item("TS-002", "つなぎ マグカップ 黒", 1, 1650)]), to["ec"], charset="shift_jis"), to["ec"]),
        ("楽天 (未登録の商品)", order_mail("rakuten", SampleOrder("402853-20260612-0220534999", [
            Item("TS-999", "未登録の商品", 1, 500)]), to["rakuten"]), to["rakuten"]),
        ("不在通知 (注文ではない)", b"From: someone@example.jp\r\nSubject: =?UTF-8?B?5LiN5Zyo6YCa55+l?=\r\n"
         b"Auto-Submitted: auto-replied\r\n\r\nout of office\r\n", to["rakuten"]),
    ]


def _wait_idle(spool: Spool, seconds: float = 10) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if not spool.waiting() and not any(spool.dir("cur").iterdir()):
            return
        time.sleep(0.05)


def load_catalog(cfg) -> None:
    """The demo shop's products and counts, imported by `tsunagi products import` and `stock import`."""
    from tsunagi.app import cli      # the command line wires the app; the demo runs it as an operator would
    for name, text, command in (("products.csv", PRODUCTS, "products"), ("stock.csv", COUNTS, "stock")):
        (cfg.path.parent / name).write_text(text, encoding="utf-8")
        if cli.main(["-c", str(cfg.path), command, "import", str(cfg.path.parent / name)]) != 0:
            raise RuntimeError(f"the demo's {name} did not import")


def run_demo(keep: bool = False) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-demo-"))
    relay = _Relay()          # stands in for the shop's mail server: buyer mails land here
    relay.start()
    (tmp / "config.toml").write_text(CONFIG.read_text(encoding="utf-8").replace("RELAY_PORT", str(relay.port)),
                                     encoding="utf-8")
    print(f"== data dir: {tmp}")
    cfg = config_mod.load(tmp / "config.toml")
    load_catalog(cfg)
    try:
        _run_daemon(cfg, relay)
    finally:
        relay.stop()
    _show(cfg, relay)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"\n(kept {tmp})")
    return 0


def _run_daemon(cfg, relay: _Relay) -> None:
    """The real daemon: sample mails over SMTP, then the Rakuten order CSV dropped in its folder."""
    daemon, thread = start_in_thread(cfg)
    spool = Spool(cfg.spool_dir)
    try:
        print(f"== daemon listening on 127.0.0.1:{daemon.port}; sending sample mails over SMTP")
        _send_mails(cfg, daemon.port)
        _wait_idle(spool)
        print("== dropping the Rakuten RMS order CSV (CP932) into spool/drop/rakuten/")
        drop = spool.dir("drop") / "rakuten" / "rakuten-orders-20260612.csv"
        drop.write_bytes(order_csv("rakuten-rms", [RAKUTEN_FIRST, RAKUTEN_CSV_ONLY]))
        _wait_for(lambda: not drop.exists())
        _wait_idle(spool)
        time.sleep((cfg.feed_coalesce_ms + 800) / 1000)
        _wait_for(lambda: relay.messages, 0.1)
    finally:
        daemon.stop()
        thread.join(timeout=10)


def _send_mails(cfg, port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for label, raw, rcpt in sample_mails(cfg):
            smtp.sendmail("cart@example.jp", [rcpt], raw)   # raises unless 250
            print(f"   {label}: 250 accepted")
        try:
            smtp.sendmail("cart@example.jp", ["nobody@orders.example.jp"], b"Subject: x\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as exc:
            code, msg = exc.recipients["nobody@orders.example.jp"]
            print(f"   unknown recipient: {code} {msg.decode()}")


def _wait_for(done, step: float = 0.05, seconds: float = 10) -> None:
    end = time.time() + seconds
    while not done() and time.time() < end:
        time.sleep(step)


def _show(cfg, relay: _Relay) -> None:
    """What the demo did, as the staff would look at it."""
    spool, store = Spool(cfg.spool_dir), wiring.open_store(cfg)
    print("\n== tsunagi ship export yamato  (the confirmed Rakuten orders become a B2 Cloud file)")
    result = labels.export(store, spool.dir("outbox"), cfg.carrier("yamato"), cfg.layouts)
    for path in result.files:
        print(f"{path.relative_to(cfg.data_dir)}")
        rows = path.read_bytes().decode("cp932").split("\r\n")
        print("\n".join(",".join(r.split(",")[:16]) + ",…" for r in rows if r))
    print("\n== buyer mails the shop's relay received")
    for raw in relay.messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        print(f"-- To: {msg['To']}  Subject: {msg['Subject']}")
        print("\n".join(msg.get_body(preferencelist=("plain",)).get_content().splitlines()[:12]) + "\n…")
    _show_orders_and_stock(store)
    _show_spool(spool)
    _show_feeds(cfg, spool)


def _show_orders_and_stock(store) -> None:
    tx = store.read()
    print("\n== tsunagi orders")
    for o in (load_order(tx, i) for i in queries.order_ids(tx)):
        print(f"{o.shop:<10} {o.order_no:<28} {o.status_label:<6} {o.total:>9,}円"
              + (f"  [{o.hold_reason}]" if o.hold_reason else ""))
    print("\n== tsunagi stock")
    print(f"{'SKU':<20} {'在庫':>6} {'引当':>6} {'フリー':>6}")
    for r in stock.rows(tx):
        print(f"{r['sku']:<20} {r['on_hand']:>6} {r['reserved']:>6} {r['free']:>6}")


def _show_spool(spool: Spool) -> None:
    print("\n== tsunagi spool list")
    print(f"waiting in new/: {len(spool.waiting())}")
    for reason in spool.failed():
        print(f"  {reason['id']}  {reason.get('shop', '')}  [{reason.get('kind')}] {reason.get('message')}")


def _show_feeds(cfg, spool: Spool) -> None:
    print("\n== stock feed files (spool/outbox/<shop>/ready/)")
    feeds = {s.id: s.stock_feed for s in cfg.shops if s.stock_feed}
    for path in sorted(p for p in spool.dir("outbox").glob("*/ready/*-stock-*") if p.parent.parent.name in feeds):
        layout = feeds[path.parent.parent.name]
        encoding = "utf-8" if layout.layout.startswith("shopify") else "cp932"
        print(f"-- {path.relative_to(cfg.data_dir)} ({encoding})")
        print(path.read_bytes().decode(encoding).replace("\r\n", "\n").rstrip())
