"""Endpoints over FTP and FTPS (explicit and implicit TLS) against a real pyftpdlib server the suite starts on
loopback with its own CA: pulls, pushes, channel file rules, and the faults of real servers."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.ftpd import PASSWORD, FtpServer, make_ca
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app.transfers import Scheduler, run_endpoint
from tsunagi.app import wiring
from tsunagi.common.remote import TransferError
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.oms import outbound_tables
from tsunagi.oms.store import Store
from tsunagi.outbound.push import waiting_reasons

PROTOCOLS = ["ftp", "ftps", "ftps-implicit"]


class FtpSite:
    """A shop whose cart's server speaks FTP(S): orders in /out, processed to /done, files for it go to /in."""

    def __init__(self, folder, mode: str, monkeypatch):
        self.folder = folder
        self.server = FtpServer(folder / "remote", folder / "certs", mode)
        self.remote = self.server.root
        for d in ("out", "done", "in"):
            (self.remote / d).mkdir()
        monkeypatch.setenv("TSUNAGI_TEST_FTP_PASSWORD", PASSWORD)
        self.config_path = write_config(folder)
        seed(self.config_path)
        self.set_endpoint()

    def set_endpoint(self, source: str = "rakuten", **extra) -> None:
        push = {"remote_dir": "/in", "source": source} | extra.pop("push", {})
        table = self.server.endpoint(pull={"remote_dir": "/out", "into": "rakuten", "pattern": "*.csv",
                                           "after": "move", "processed_dir": "/done"}, push=push, **extra)
        self.edit(lambda config: config.update(endpoint=[table]))

    def edit(self, change) -> None:
        edit_config(self.config_path, change)
        self.cfg = config_mod.load(self.config_path)
        self.spool = Spool(self.cfg.spool_dir)

    def run(self) -> dict:
        return run_endpoint(self.cfg, self.spool, self.cfg.endpoint("rms"))

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def ready(self, name: str, data: bytes, source: str = "rakuten"):
        ready = self.spool.dir("outbox") / source / "ready"
        ready.mkdir(parents=True, exist_ok=True)
        (ready / name).write_bytes(data)
        return ready / name

    def remote_files(self, folder: str = "in") -> list[str]:
        return sorted(os.listdir(self.remote / folder))


@pytest.fixture(params=PROTOCOLS)
def any_site(tmp_path, monkeypatch, request):
    site = FtpSite(tmp_path, request.param, monkeypatch)
    yield site
    site.server.stop()


@pytest.fixture
def site(tmp_path, monkeypatch):
    """An FTPS (explicit TLS) site: the faults below do not depend on the protocol."""
    site = FtpSite(tmp_path, "ftps", monkeypatch)
    yield site
    site.server.stop()


def _orders_csv(n: int, first: int = 1) -> bytes:
    return order_csv("rakuten-rms", [SampleOrder(f"402853-20260612-{i:010d}", [Item("item-c", "商品C", 1, 300)])
                                     for i in range(first, first + n)])


def test_pull_over_each_protocol_spools_the_file_then_moves_it_to_the_processed_folder(any_site):
    (any_site.remote / "out" / "orders-0901.csv").write_bytes(_orders_csv(2))
    (any_site.remote / "out" / "readme.txt").write_text("not matched by the pattern")
    out = any_site.run()
    assert len(out["pulled"]) == 1 and not out["pull_errors"]
    assert any_site.remote_files("out") == ["readme.txt"] and any_site.remote_files("done") == ["orders-0901.csv"]
    item = any_site.spool.load("new", out["pulled"][0])
    assert item.read() == _orders_csv(2)
    assert item.meta["source"] == any_site.server.mode and item.meta["endpoint"] == "rms"


def test_a_file_pulled_before_is_not_ingested_again_when_its_remote_move_failed(site):
    site.set_endpoint()
    site.edit(lambda config: config["endpoint"][0]["pull"].update(processed_dir="/no-such-folder"))
    (site.remote / "out" / "orders.csv").write_bytes(_orders_csv(2))
    first = site.run()
    assert len(first["pulled"]) == 1 and "rms" in first["pull_errors"][0]
    second = site.run()
    assert second["pulled"] == [] and second["already_pulled"] == ["orders.csv"]
    assert len(site.spool.waiting()) == 1


def test_push_over_each_protocol_uploads_under_a_temporary_name_then_renames_it(any_site):
    payload = "コントロールカラム,商品管理番号\r\n".encode("cp932")
    any_site.ready("rakuten-shipconfirm-1.csv", payload)
    out = any_site.run()
    assert out["sent"] == ["rakuten-shipconfirm-1.csv"] and not out["push_errors"]
    assert any_site.server.faults.stored == ["/in/.rakuten-shipconfirm-1.csv.part"]
    assert any_site.remote_files() == ["rakuten-shipconfirm-1.csv"]
    assert (any_site.remote / "in" / "rakuten-shipconfirm-1.csv").read_bytes() == payload
    assert os.listdir(any_site.spool.dir("outbox") / "rakuten" / "sent") == ["rakuten-shipconfirm-1.csv"]


def test_the_channel_rules_give_a_stock_file_the_name_the_channel_requires(site):
    site.set_endpoint(push={"channel": "rakuten"})
    site.ready("rakuten-stock-20261201T0900.csv", b"u,item-a,,3\r\n")
    site.ready("rakuten-shipconfirm-1.csv", b"confirm\r\n")
    out = site.run()
    assert sorted(out["sent"]) == ["rakuten-shipconfirm-1.csv", "rakuten-stock-20261201T0900.csv"]
    assert site.remote_files() == ["normal-item.csv", "rakuten-shipconfirm-1.csv"]
    assert (site.remote / "in" / "normal-item.csv").read_bytes() == b"u,item-a,,3\r\n"


def test_a_file_waits_in_ready_while_the_channel_has_not_consumed_the_previous_upload(site, capsys):
    site.set_endpoint(push={"channel": "rakuten"})
    (site.remote / "in" / "normal-item.csv").write_bytes(b"u,item-a,,9\r\n")       # not yet read by RMS
    waiting = site.ready("rakuten-stock-2.csv", b"u,item-a,,3\r\n")
    capsys.readouterr()
    assert site.cli("endpoint", "run", "rms") == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("waiting: rakuten-stock-2.csv: the previous normal-item.csv is still on ftps rms")
    assert (site.remote / "in" / "normal-item.csv").read_bytes() == b"u,item-a,,9\r\n"   # never overwritten
    assert waiting.exists() and "rakuten-stock-2.csv" in waiting_reasons(waiting.parent.parent)
    (site.remote / "in" / "normal-item.csv").unlink()                               # RMS took it
    assert site.run()["sent"] == ["rakuten-stock-2.csv"]
    assert (site.remote / "in" / "normal-item.csv").read_bytes() == b"u,item-a,,3\r\n"
    assert waiting_reasons(waiting.parent.parent) == {}


def test_two_files_for_a_consuming_channel_go_one_at_a_time(site):
    site.set_endpoint(push={"channel": "rakuten"})
    site.ready("rakuten-stock-1.csv", b"first\r\n")
    os.utime(site.spool.dir("outbox") / "rakuten" / "ready" / "rakuten-stock-1.csv", (1, 1))
    site.ready("rakuten-stock-2.csv", b"second\r\n")
    out = site.run()
    assert out["sent"] == ["rakuten-stock-1.csv"] and list(out["waiting"]) == ["rakuten-stock-2.csv"]
    assert (site.remote / "in" / "normal-item.csv").read_bytes() == b"first\r\n"


def test_a_server_without_size_or_mlsd_still_never_gets_a_file_over_an_unread_one(site):
    site.server.faults.old_server = True
    site.set_endpoint(push={"channel": "rakuten"})
    (site.remote / "out" / "orders.csv").write_bytes(_orders_csv(1))
    (site.remote / "in" / "normal-item.csv").write_bytes(b"unread\r\n")
    site.ready("rakuten-stock-2.csv", b"u,item-a,,3\r\n")
    out = site.run()
    assert len(out["pulled"]) == 1 and list(out["waiting"]) == ["rakuten-stock-2.csv"]
    (site.remote / "in" / "normal-item.csv").unlink()
    assert site.run()["sent"] == ["rakuten-stock-2.csv"]
    assert (site.remote / "in" / "normal-item.csv").read_bytes() == b"u,item-a,,3\r\n"


def test_a_connection_cut_mid_upload_leaves_no_file_under_the_final_name_and_the_retry_sends_it_once(site):
    payload = os.urandom(3_000_000)
    site.ready("rakuten-stock-big.csv", payload)
    site.server.faults.cut_upload_after = 1_000_000
    out = site.run()
    assert site.server.faults.cuts == 1
    assert not out["sent"] and "ftps rms: rakuten-stock-big.csv: not sent" in out["push_errors"][0]
    assert "rakuten-stock-big.csv" not in site.remote_files()
    out = site.run()
    assert out["sent"] == ["rakuten-stock-big.csv"]
    assert site.remote_files() == ["rakuten-stock-big.csv"]          # the temporary name is gone
    assert (site.remote / "in" / "rakuten-stock-big.csv").read_bytes() == payload
    assert site.run()["sent"] == []
    assert site.server.faults.stored == ["/in/.rakuten-stock-big.csv.part"] * 2


def test_an_upload_whose_answer_was_lost_is_found_on_the_server_and_not_sent_again(site):
    site.ready("rakuten-stock-1.csv", b"u,item-a,,3\r\n")
    site.server.faults.lose_rename_reply = True
    out = site.run()
    assert not out["sent"] and out["push_errors"]
    assert site.remote_files() == ["rakuten-stock-1.csv"]            # the server did rename it
    assert site.run()["sent"] == ["rakuten-stock-1.csv"]
    assert len(site.server.faults.stored) == 1


def test_a_server_that_refuses_renames_gets_the_file_under_its_final_name_with_its_size_checked(site):
    site.server.faults.no_rename = True
    site.ready("rakuten-stock-1.csv", b"u,item-a,,3\r\n")
    assert site.run()["sent"] == ["rakuten-stock-1.csv"]
    assert site.server.faults.stored == ["/in/.rakuten-stock-1.csv.part", "/in/rakuten-stock-1.csv"]
    assert site.remote_files() == ["rakuten-stock-1.csv"]


def test_a_full_remote_disk_keeps_the_file_in_ready_and_leaves_nothing_on_the_server(site):
    site.server.faults.disk_free = 100_000
    path = site.ready("rakuten-stock-1.csv", os.urandom(500_000))
    out = site.run()
    assert not out["sent"] and "No space left on device" in out["push_errors"][0]
    assert out["push_errors"][0].startswith("ftps rms: rakuten-stock-1.csv: not sent")
    assert path.exists() and site.remote_files() == []
    site.server.faults.disk_free = None
    assert site.run()["sent"] == ["rakuten-stock-1.csv"]


def test_a_remote_file_that_vanishes_during_a_pull_is_reported_and_the_others_are_taken(site):
    (site.remote / "out" / "a.csv").write_bytes(_orders_csv(1))
    (site.remote / "out" / "b.csv").write_bytes(_orders_csv(1, first=2))
    site.server.faults.vanish = {"a.csv"}
    out = site.run()
    assert len(out["pulled"]) == 1 and site.remote_files("done") == ["b.csv"]
    [error] = out["pull_errors"]
    assert error.startswith("ftps rms: a.csv: not pulled (it vanished from the server")
    assert not list(site.spool.dir("tmp").iterdir())


def test_a_file_name_with_odd_characters_is_pulled_and_moved_intact(site):
    name = "注文 (1) #2;&'x'.csv"
    (site.remote / "out" / name).write_bytes(_orders_csv(1))
    out = site.run()
    assert len(out["pulled"]) == 1 and site.remote_files("done") == [name]
    assert site.spool.load("new", out["pulled"][0]).meta["file"] == name


def test_a_wrong_password_is_one_line_naming_the_endpoint_and_nothing_moves(site, monkeypatch, capsys):
    monkeypatch.setenv("TSUNAGI_TEST_FTP_PASSWORD", "wrong")
    (site.remote / "out" / "a.csv").write_bytes(_orders_csv(1))
    path = site.ready("rakuten-stock-1.csv", b"x")
    capsys.readouterr()
    assert site.cli("endpoint", "run", "rms") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ftps rms: login refused for user shop at 127.0.0.1:")
    assert site.remote_files("out") == ["a.csv"] and path.exists() and not site.spool.waiting()


def test_an_unset_password_variable_is_one_line_naming_the_endpoint_and_the_variable(site, monkeypatch, capsys):
    monkeypatch.delenv("TSUNAGI_TEST_FTP_PASSWORD")
    capsys.readouterr()
    assert site.cli("endpoint", "run", "rms") == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: ftps rms: environment variable TSUNAGI_TEST_FTP_PASSWORD (the password) is not set"]


def test_check_shows_each_endpoint_with_its_protocol_and_when_it_pushes(site, capsys):
    site.set_endpoint(push={"immediate": True})
    capsys.readouterr()
    assert site.cli("check") == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("ftps rms:")]
    assert line.endswith("(only by tsunagi endpoint run, and each file as soon as it is ready)")


def test_an_untrusted_certificate_refuses_the_connection_before_the_password_is_sent(site, tmp_path):
    other, _, _ = make_ca(tmp_path / "other", "some other CA")
    site.edit(lambda config: config["endpoint"][0].update(ca_file=str(other)))
    site.ready("rakuten-stock-1.csv", b"x")
    with pytest.raises(TransferError, match=r"^ftps rms: the certificate of 127.0.0.1:\d+ is not trusted"):
        site.run()
    assert site.remote_files() == []


def test_a_failure_that_lasts_is_alerted_once_naming_the_endpoint(site, later, monkeypatch):
    site.edit(lambda config: config.update(
        relay={"host": "127.0.0.1", "port": 9, "security": "none"},
        alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp", "failing_minutes": 10}))
    monkeypatch.setenv("TSUNAGI_TEST_FTP_PASSWORD", "wrong")
    store = Store(site.cfg.db_path)
    scheduler = Scheduler(site.cfg, site.spool, store, lambda ids: None, None,
                          wiring.alerts(site.cfg, store, site.spool.dir("outbox")))
    subjects = lambda: [row[2] for row in outbound_tables.unsent_alerts(store.read())]   # noqa: E731
    scheduler.run_job("ftps:rms", lambda: scheduler.run_one(site.cfg.endpoint("rms")))
    assert subjects() == [] and scheduler.outcomes["ftps:rms"]["failing"]
    later(timedelta(minutes=11))
    for _ in range(2):
        scheduler.run_job("ftps:rms", lambda: scheduler.run_one(site.cfg.endpoint("rms")))
    assert subjects() == ["FTPS rms が 11 分以上失敗しています"]
    monkeypatch.setenv("TSUNAGI_TEST_FTP_PASSWORD", PASSWORD)
    scheduler.run_job("ftps:rms", lambda: scheduler.run_one(site.cfg.endpoint("rms")))
    assert subjects()[-1] == "FTPS rms は復旧しました"


def test_a_file_waiting_on_an_unread_upload_too_long_is_alerted_with_its_reason(site, later):
    site.set_endpoint(push={"channel": "rakuten"})
    site.edit(lambda config: config.update(
        relay={"host": "127.0.0.1", "port": 9, "security": "none"},
        alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp", "feed_stale_minutes": 30}))
    (site.remote / "in" / "normal-item.csv").write_bytes(b"unread\r\n")
    site.ready("rakuten-stock-2.csv", b"u,item-a,,3\r\n")
    assert list(site.run()["waiting"]) == ["rakuten-stock-2.csv"]
    store = Store(site.cfg.db_path)
    alerts = wiring.alerts(site.cfg, store, site.spool.dir("outbox"))
    later(timedelta(minutes=31))
    alerts.collect()
    [(_, _, subject, detail)] = outbound_tables.unsent_alerts(store.read())
    assert subject == "rakuten へのファイルが 30 分以上届いていません"
    assert detail.startswith("rakuten-stock-2.csv (")
    assert "待っている理由: the previous normal-item.csv is still on ftps rms" in detail


def test_push_immediate_puts_a_new_stock_figure_on_the_server_within_seconds_of_a_sale(site):
    site.set_endpoint(source="yahoo", push={"channel": "yahoo", "immediate": True})
    site.edit(lambda config: config["endpoint"][0].pop("pull"))
    running = Running(site.config_path)
    try:
        running.send(order_mail("rakuten", SampleOrder("402853-20261201-0000000001", [Item("item-a", "商品A", 2, 1000)]),
                                RAKUTEN_TO))
        text = wait_for(lambda: (site.remote / "in" / "quantity.csv").exists()
                        and (site.remote / "in" / "quantity.csv").read_bytes().decode("cp932"), timeout=10)
        assert "item-a" in text
    finally:
        running.stop()


@pytest.mark.parametrize("change, where, message", [
    (lambda ep: ep.pop("password_env"), "endpoint[0]", "password_env is required with protocol ftps"),
    (lambda ep: ep.update(key_file="id_ed25519"), "endpoint[0]", "key_file is for sftp, not ftps"),
    (lambda ep: ep.update(protocol="sftp"), "endpoint[0]", "known_hosts is required with protocol sftp"),
    (lambda ep: ep["push"].update(channel="rakuten-ftp"), "endpoint[0].push.channel", "'rakuten-ftp': no such "
                                                                                       "channel rules"),
])
def test_an_endpoint_missing_what_its_protocol_needs_is_a_config_error(site, capsys, change, where, message):
    site.edit(lambda config: None)
    edit_config(site.config_path, lambda config: change(config["endpoint"][0]))
    capsys.readouterr()
    assert site.cli("check") == 2
    err = capsys.readouterr().err
    assert where in err and message in err


def test_an_endpoint_and_an_sftp_table_of_the_same_name_is_a_config_error(site, capsys):
    edit_config(site.config_path, lambda config: config.update(sftp=[{
        "name": "rms", "host": "127.0.0.1", "user": "shop", "password_env": "X", "known_hosts": "known_hosts",
        "push": {"remote_dir": "in", "source": "rakuten"}}]))
    capsys.readouterr()
    assert site.cli("check") == 2
    assert "sftp[0].name: 'rms' is already used by endpoint[0]" in capsys.readouterr().err
