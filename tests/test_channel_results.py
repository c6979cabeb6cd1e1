"""A channel's result file (Rakuten's error log on its upload server, Yahoo's data-check history): pulled or
dropped like any CSV, recognised by its layout; each refused row an alert naming the file, the SKU or order and
the channel's message; the uploaded file it is about recorded rejected."""
from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from tests.support.configs import edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.common import clock
from tsunagi.oms.store import Store

LOG_HEADER = "商品管理番号（商品URL）,エラー内容\r\n"
REFUSED = "商品管理番号欄(商品URL)で指定された商品が見つかりません。更新・変更、削除の場合は、存在する商品の商品管理番号(商品URL)をご指定ください。"


class RmsSite:
    """Rakuten's upload server on the real sshd: "rms" pushes rakuten's ready/ to batch/, "rms-logs" pulls
    the error logs RMS leaves in logs/ into the rakuten shop."""

    def __init__(self, folder, sshd):
        self.folder = folder
        self.remote = folder / "remote"
        for d in ("batch", "logs", "logs-done"):
            (self.remote / d).mkdir(parents=True)
        self.config_path = write_config(folder)
        seed(self.config_path)
        common = {"host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "key_file": str(sshd.user_key),
                  "known_hosts": str(sshd.known_hosts(folder / "known_hosts")), "timeout": 10}
        endpoints = [{"name": "rms", **common, "push": {"remote_dir": str(self.remote / "batch"), "source": "rakuten"}},
                     {"name": "rms-logs", **common, "pull": {"remote_dir": str(self.remote / "logs"), "into": "rakuten",
                                                             "after": "move",
                                                             "processed_dir": str(self.remote / "logs-done")}}]
        edit_config(self.config_path, lambda config: config.update(sftp=endpoints))
        self.cfg = config_mod.load(self.config_path)
        self.ready = self.cfg.spool_dir / "outbox" / "rakuten" / "ready"

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def alerts(self) -> list[tuple[str, str]]:
        return Store(self.cfg.db_path).read().all("SELECT subject, detail FROM alerts WHERE kind = 'rejected' "
                                                  "ORDER BY id")

    def state(self, target: str, name: str) -> dict:
        return Store(self.cfg.db_path).read().one("SELECT state, detail FROM deliveries WHERE target = ? AND name = ?",
                                                  target, name)


@pytest.fixture
def site(tmp_path, sshd):
    return RmsSite(tmp_path, sshd)


def stamp(minutes: float = 1) -> str:
    """RMS's time in a log's name (JST, to the millisecond), minutes from now."""
    return f"{clock.now() + timedelta(minutes=minutes):%Y%m%d%H%M%S}123"


def _error_log(site: RmsSite, name: str, rows: list[str]) -> None:
    """RMS's error log for an uploaded file, as it leaves it in logs/ (CP932)."""
    (site.remote / "logs" / name).write_bytes((LOG_HEADER + "".join(r + "\r\n" for r in rows)).encode("cp932"))


def test_rakutens_error_log_pulled_from_its_server_alerts_each_refused_row_and_marks_the_upload_rejected(site, capsys):
    site.ready.mkdir(parents=True, exist_ok=True)
    (site.ready / "normal-item_0001.csv").write_bytes("コントロールカラム,商品管理番号（商品URL）,在庫数\r\nu,item-a,3\r\nu,item-b,0\r\n"
                                                      .encode("cp932"))
    assert site.cli("sftp", "run", "rms") == 0
    assert os.listdir(site.remote / "batch") == ["normal-item_0001.csv"]
    log = f"normal-item_0001.{stamp()}.csv"
    _error_log(site, log, [f"item-a,{REFUSED}", "item-b,在庫数は必須項目です。"])
    assert site.cli("sftp", "run", "rms-logs") == 0
    assert os.listdir(site.remote / "logs-done") == [log]
    alerts = site.alerts()
    assert [s for s, _ in alerts] == ["楽天市場 が normal-item_0001.csv の SKU item-a を受け付けませんでした",
                                      "楽天市場 が normal-item_0001.csv の SKU item-b を受け付けませんでした"]
    assert REFUSED in alerts[0][1] and log in alerts[0][1]
    state, detail = site.state("rakuten", "normal-item_0001.csv")
    assert state == "rejected" and "SKU item-b: 在庫数は必須項目です。" in detail
    capsys.readouterr()
    assert site.cli("outbox", "list", "--json", "--target", "rakuten") == 0
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["state"] != "written"]    # (and the feeds)
    assert row["name"] == "normal-item_0001.csv" and row["state"] == "rejected" and row["rejected_at"]


def test_an_error_log_is_about_the_upload_sent_before_the_channel_wrote_it_not_a_later_one(site, later):
    # RMS's fixed name: every stock file goes up as normal-item.csv (layouts/channel/rakuten.toml)
    edit_config(site.config_path, lambda c: c["sftp"][0]["push"].update(channel="rakuten"))
    site.ready.mkdir(parents=True, exist_ok=True)
    feed = "コントロールカラム,商品管理番号（商品URL）,在庫数\r\nu,item-a,{}\r\n"
    (site.ready / "rakuten-stock-1.csv").write_bytes(feed.format(3).encode("cp932"))
    assert site.cli("sftp", "run", "rms") == 0
    written = stamp(5)                                     # RMS read the first upload and wrote its log ...
    later(timedelta(minutes=10))
    os.remove(site.remote / "batch" / "normal-item.csv")
    (site.ready / "rakuten-stock-2.csv").write_bytes(feed.format(4).encode("cp932"))
    assert site.cli("sftp", "run", "rms") == 0              # ... before the next one went up under the same name
    _error_log(site, f"normal-item.{written}.csv", [f"item-a,{REFUSED}"])
    assert site.cli("sftp", "run", "rms-logs") == 0
    assert site.state("rakuten", "rakuten-stock-1.csv")[0] == "rejected"
    assert site.state("rakuten", "rakuten-stock-2.csv")[0] == "sent"


def test_the_same_error_log_pulled_again_alerts_nothing_more(site):
    _error_log(site, "normal-item_0002.20261201093015123.csv", [f"item-a,{REFUSED}"])
    assert site.cli("sftp", "run", "rms-logs") == 0
    _error_log(site, "normal-item_0002.20261201093015123.csv", [f"item-a,{REFUSED}"])     # left there again
    assert site.cli("sftp", "run", "rms-logs") == 0
    assert len(site.alerts()) == 1       # no file of that name was sent: the alert alone says it


def test_an_error_log_without_a_header_it_knows_makes_an_alert_of_each_line(site):
    (site.remote / "logs" / "normal-item_0003.20261201093015123.csv").write_bytes(
        "item-c,商品名は必須項目です。\r\n\r\nitem-d,表示価格に数字以外が含まれています。\r\n".encode("cp932"))
    assert site.cli("sftp", "run", "rms-logs") == 0
    alerts = site.alerts()
    assert [s for s, _ in alerts] == ["楽天市場 が normal-item_0003.csv の 行 1 を受け付けませんでした",
                                      "楽天市場 が normal-item_0003.csv の 行 3 を受け付けませんでした"]
    assert alerts[1][1].startswith("item-d / 表示価格に数字以外が含まれています。")


def test_an_order_csv_pulled_from_the_same_server_is_still_an_order_csv(site):
    from tsunagi.demo.csvs import order_csv
    from tsunagi.demo.mails import Item, SampleOrder
    (site.remote / "logs" / "orders-0901.csv").write_bytes(
        order_csv("rakuten-rms", [SampleOrder("402853-20260612-0000000001", [Item("item-c", "商品C", 1, 300)])]))
    assert site.cli("sftp", "run", "rms-logs") == 0
    assert site.alerts() == []
    assert Store(site.cfg.db_path).read().value("SELECT COUNT(*) FROM orders") == 1


def test_yahoos_data_check_history_dropped_for_the_shop_alerts_its_errors_not_its_warnings(tmp_path):
    config_path = write_config(tmp_path)
    seed(config_path)
    cfg = config_mod.load(config_path)
    sent = cfg.spool_dir / "outbox" / "yahoo" / "ready"
    sent.mkdir(parents=True)
    (sent / "quantity-0001.csv").write_text("code,quantity\nitem-a,3\n")
    assert cli.main(["-c", str(config_path), "outbox", "mark-sent", "quantity-0001.csv"]) == 0
    running = Running(config_path)
    try:
        history = ("種別,エラーコード,エラー内容,商品コード,ファイル名\r\n"
                   "エラー,U-015-0033,商品コードが存在しません。,item-z,quantity-0001.csv\r\n"
                   "警告,U-015-0099,在庫数が0です。,item-a,quantity-0001.csv\r\n")
        drop = cfg.spool_dir / "drop" / "yahoo"
        (drop / ".h.part").write_bytes(history.encode("cp932"))
        os.rename(drop / ".h.part", drop / "datacheck-20261201.csv")
        wait_for(lambda: running.store.read().value("SELECT COUNT(*) FROM alerts WHERE kind = 'rejected'"), timeout=20)
        running.wait_idle()
    finally:
        running.stop()
    tx = Store(cfg.db_path).read()
    [(subject, detail)] = tx.all("SELECT subject, detail FROM alerts WHERE kind = 'rejected'")
    assert subject == "Yahoo!ショッピング が quantity-0001.csv の SKU item-z を受け付けませんでした"
    assert "商品コードが存在しません。 [U-015-0033]" in detail and "datacheck-20261201.csv" in detail
    assert tx.value("SELECT state FROM deliveries WHERE target = 'yahoo' AND name = 'quantity-0001.csv'") == "rejected"
