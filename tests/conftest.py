"""Fixtures that build real config files, a real daemon on loopback and real SMTP clients."""
from __future__ import annotations

import smtplib
import time
from pathlib import Path

import pytest

from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app.daemon import start_in_thread
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store

RAKUTEN_TO = "rakuten-7f3k@orders.example.jp"
YAHOO_TO = "yahoo-2m9q@orders.example.jp"
EC_TO = "eccube-a81z@orders.example.jp"

CONFIG = """
data_dir = "var"
locations = ["本店倉庫", "外部倉庫"]
[smtp]
listen = "127.0.0.1:0"
max_message_bytes = {max_bytes}
[stock_feed]
coalesce_ms = 100
[store]
synchronous = "{sync}"
[csv]
drop_stable_seconds = 0.5
[[shop]]
id = "rakuten"
name = "テスト楽天店"
cart = "rakuten"
order_mail_to = ["{rakuten}"]
stock_feed = {{ layout = "rakuten-normal-item", safety_stock = 0 }}
order_csv = {{ layout = "rakuten-rms", confirm_within_hours = 1 }}
[[shop]]
id = "yahoo"
name = "テストYahoo店"
cart = "yahoo"
order_mail_to = ["{yahoo}"]
stock_feed = {{ layout = "yahoo-quantity", safety_stock = 1 }}
order_csv = {{ layout = "yahoo-order" }}
[[shop]]
id = "ec"
name = "テスト自社サイト"
cart = "ec-cube"
order_mail_to = ["{ec}"]
order_csv = {{ layout = "ec-cube" }}
"""

PRODUCTS = """sku,name,components,channel_sku,shop
item-a,商品A,,,
item-b,商品B,,,
item-c,商品C,,,
set-ab,AとBのセット,item-a*1;item-b*2,,
"""
COUNTS = """sku,location,lot,qty
item-a,本店倉庫,1,10
item-b,本店倉庫,1,10
item-c,本店倉庫,1,10
"""


def write_config(folder: Path, max_bytes: int = 10485760, sync: str = "NORMAL") -> Path:
    path = folder / "config.toml"
    path.write_text(CONFIG.format(max_bytes=max_bytes, sync=sync, rakuten=RAKUTEN_TO, yahoo=YAHOO_TO,
                                  ec=EC_TO), encoding="utf-8")
    return path


def seed(config_path: Path, products: str = PRODUCTS, counts: str = COUNTS) -> None:
    folder = config_path.parent
    (folder / "products.csv").write_text(products, encoding="utf-8")
    (folder / "counts.csv").write_text(counts, encoding="utf-8")
    assert cli.main(["-c", str(config_path), "products", "import", str(folder / "products.csv")]) == 0
    assert cli.main(["-c", str(config_path), "stock", "import", str(folder / "counts.csv")]) == 0


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


class Running:
    """A daemon in this process, its config and its parts, as a test sees them."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.cfg = config_mod.load(config_path)
        self.daemon, self.thread = start_in_thread(self.cfg)
        self.port = self.daemon.port
        self.spool = Spool(self.cfg.spool_dir)
        self.store = Store(self.cfg.db_path)

    def send(self, raw: bytes, rcpt: str = RAKUTEN_TO, sender: str = "cart@example.jp") -> dict:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            return smtp.sendmail(sender, [rcpt], raw)

    def idle(self) -> bool:
        return not self.spool.waiting() and not any(self.spool.dir("cur").iterdir())

    def wait_idle(self, timeout: float = 15) -> None:
        wait_for(self.idle, timeout)

    def failed(self) -> list[dict]:
        return self.spool.failed()

    def cli(self, *args: str) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(timeout=15)
        self.store.close()


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = write_config(tmp_path)
    seed(path)
    return path


@pytest.fixture
def running(config_path):
    r = Running(config_path)
    yield r
    r.stop()


@pytest.fixture
def later():
    """Moves this process's clock forward (instead of editing rows' times); back to real time afterwards."""
    from datetime import timedelta
    from tsunagi.common import clock
    total = timedelta(0)

    def move(delta: timedelta) -> None:
        nonlocal total
        total += delta
        clock.set_shift(total)

    yield move
    clock.set_shift(timedelta(0))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on loopback with its own host and user keys (tests/support/sshd.py)."""
    from tests.support.sshd import SshServer
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()
