"""SFTP pull and push against a real OpenSSH server the suite starts on loopback with its own keys."""
from __future__ import annotations

import os
from datetime import datetime

import pytest

from tests.support.configs import edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.sshd import Relay, keygen
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder
from tsunagi.app.schedule import next_run
from tsunagi.common.sftp import SftpError, session
from tsunagi.app.transfers import run_endpoint
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store
from tsunagi.common.clock import JST


@pytest.fixture
def site(tmp_path, sshd):
    """A shop whose cart offers its order CSVs over SFTP and takes stock files back."""
    remote = tmp_path / "remote"
    for d in ("out", "done", "in"):
        (remote / d).mkdir(parents=True)
    return Site(tmp_path, sshd, remote)


class Site:
    def __init__(self, folder, sshd, remote, port=None):
        self.folder, self.sshd, self.remote = folder, sshd, remote
        self.config_path = write_config(folder)
        seed(self.config_path)
        self.set_endpoint(port or sshd.port)

    def set_endpoint(self, port: int, processed: str | None = None, known_hosts: str | None = None) -> None:
        """The one endpoint "rms": pull orders from remote/out, push what is ready for rakuten to remote/in."""
        kh = self.sshd.known_hosts(self.folder / "known_hosts", port) if known_hosts is None else known_hosts
        endpoint = {"name": "rms", "host": "127.0.0.1", "port": port, "user": self.sshd.user,
                    "key_file": str(self.sshd.user_key), "known_hosts": str(kh), "timeout": 10,
                    "pull": {"remote_dir": str(self.remote / "out"), "into": "rakuten", "pattern": "*.csv",
                             "after": "move", "processed_dir": str(processed or self.remote / "done")},
                    "push": {"remote_dir": str(self.remote / "in"), "source": "rakuten"}}
        self.edit(lambda config: config.update(sftp=[endpoint]))

    def edit(self, change) -> None:
        """Changes the config file (see edit_config) and reloads it."""
        edit_config(self.config_path, change)
        self.cfg = config_mod.load(self.config_path)
        self.spool = Spool(self.cfg.spool_dir)

    def run(self) -> dict:
        return run_endpoint(self.cfg, self.spool, self.cfg.endpoint("rms"))

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def orders(self) -> list:
        return Store(self.cfg.db_path).read().all("SELECT order_no, status FROM orders ORDER BY order_no")


def _orders_csv(n: int, first: int = 1, items: int = 1) -> bytes:
    return order_csv("rakuten-rms", [SampleOrder(f"402853-20260612-{i:010d}", [Item("item-c", "商品C", 1, 300)] * items)
                                     for i in range(first, first + n)])


def test_pull_spools_each_remote_file_then_moves_it_to_the_processed_folder(site):
    (site.remote / "out" / "orders-0901.csv").write_bytes(_orders_csv(2))
    (site.remote / "out" / "readme.txt").write_text("not matched by the pattern")
    assert site.cli("sftp", "run", "rms") == 0
    assert sorted(os.listdir(site.remote / "out")) == ["readme.txt"]
    assert os.listdir(site.remote / "done") == ["orders-0901.csv"]
    assert [s for _, s in site.orders()] == ["confirm", "confirm"]


def test_push_uploads_under_a_temporary_name_and_moves_the_local_file_to_sent(site):
    ready = site.spool.dir("outbox") / "rakuten" / "ready"
    ready.mkdir(parents=True)
    (ready / "normal-item-1.csv").write_bytes("コントロールカラム,商品管理番号\r\n".encode("cp932"))
    out = site.run()
    assert out["sent"] == ["normal-item-1.csv"]
    assert os.listdir(site.remote / "in") == ["normal-item-1.csv"]
    assert (site.remote / "in" / "normal-item-1.csv").read_bytes() == "コントロールカラム,商品管理番号\r\n".encode("cp932")
    assert not list(ready.iterdir())
    assert os.listdir(site.spool.dir("outbox") / "rakuten" / "sent") == ["normal-item-1.csv"]


def test_a_changed_host_key_refuses_the_connection(site, tmp_path):
    other = keygen(tmp_path / "impostor")
    site.set_endpoint(site.sshd.port, known_hosts=str(site.sshd.known_hosts(tmp_path / "kh", site.sshd.port, other)))
    (site.remote / "out" / "a.csv").write_bytes(_orders_csv(1))
    with pytest.raises(SftpError, match="CHANGED"):
        site.run()
    assert os.listdir(site.remote / "out") == ["a.csv"] and not site.spool.waiting()


def test_an_unknown_host_key_is_not_added_and_refuses_the_connection(site, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    site.set_endpoint(site.sshd.port, known_hosts=str(empty))
    with pytest.raises(SftpError, match="is not in"):
        site.run()
    assert empty.read_text() == ""
    assert site.cli("sftp", "run", "rms") == 1


def test_a_connection_cut_mid_download_spools_nothing_and_the_next_run_takes_the_file(site):
    relay = Relay(site.sshd.port)
    site.set_endpoint(relay.port)
    big = _orders_csv(3000, items=2)
    assert len(big) > 2_000_000
    (site.remote / "out" / "big.csv").write_bytes(big)
    relay.cut_after(600_000, "down")
    with _anything():
        out = site.run()
        assert out["pull_errors"] and not out["pulled"]
    assert relay.cut.is_set()
    assert not site.spool.waiting() and not list(site.spool.dir("tmp").iterdir())
    assert os.listdir(site.remote / "out") == ["big.csv"]
    relay.cut_after(None)
    out = site.run()
    assert len(out["pulled"]) == 1 and os.listdir(site.remote / "done") == ["big.csv"]
    assert site.spool.load("new", out["pulled"][0]).read() == big
    relay.close()


def test_a_connection_cut_mid_upload_leaves_no_file_under_the_final_name_and_it_is_retried(site):
    relay = Relay(site.sshd.port)
    site.set_endpoint(relay.port)
    ready = site.spool.dir("outbox") / "rakuten" / "ready"
    ready.mkdir(parents=True)
    payload = os.urandom(3_000_000)
    (ready / "stock-big.csv").write_bytes(payload)
    relay.cut_after(1_000_000, "up")
    with _anything():
        out = site.run()
        assert out["push_errors"] and not out["sent"]
    assert relay.cut.is_set()
    assert "stock-big.csv" not in os.listdir(site.remote / "in")
    assert (ready / "stock-big.csv").exists()
    relay.cut_after(None)
    out = site.run()
    assert out["sent"] == ["stock-big.csv"]
    assert (site.remote / "in" / "stock-big.csv").read_bytes() == payload
    assert os.listdir(site.remote / "in") == ["stock-big.csv"]      # the temporary name is gone
    relay.close()


def test_a_file_listed_again_after_a_failed_remote_move_is_not_ingested_twice(site):
    site.set_endpoint(site.sshd.port, processed=str(site.remote / "no-such-folder"))
    (site.remote / "out" / "orders.csv").write_bytes(_orders_csv(2))
    first = site.run()
    assert len(first["pulled"]) == 1 and first["pull_errors"]
    second = site.run()
    assert second["pulled"] == [] and second["already_pulled"] == ["orders.csv"]
    assert len(site.spool.waiting()) == 1
    assert site.cli("sftp", "run", "rms") == 1       # still reports the move problem
    assert len(site.orders()) == 2


def test_a_file_changed_on_the_server_under_the_same_name_is_pulled_as_new(site):
    site.set_endpoint(site.sshd.port, processed=str(site.remote / "no-such-folder"))
    (site.remote / "out" / "orders.csv").write_bytes(_orders_csv(1))
    assert len(site.run()["pulled"]) == 1
    (site.remote / "out" / "orders.csv").write_bytes(_orders_csv(2))
    assert len(site.run()["pulled"]) == 1


def test_session_with_the_pinned_key_lists_the_remote_folder(site):
    with session(site.cfg.endpoint("rms")) as sftp:
        assert sorted(sftp.listdir(str(site.remote))) == ["done", "in", "out"]


def test_schedule_at_fixed_times_of_day_and_every_n_minutes():
    t = datetime(2026, 11, 22, 10, 30, tzinfo=JST)
    assert next_run(t, 0, ["09:00", "12:00", "15:00", "18:00"]) == datetime(2026, 11, 22, 12, 0, tzinfo=JST)
    assert next_run(datetime(2026, 11, 22, 18, 0, tzinfo=JST), 0, ["09:00", "18:00"]) == \
        datetime(2026, 11, 23, 9, 0, tzinfo=JST)
    assert next_run(t, 15, []) == datetime(2026, 11, 22, 10, 45, tzinfo=JST)
    assert next_run(t, 0, []) is None


class _anything:
    """A cut connection may surface as an error report or as an exception; both are acceptable."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is not None and issubclass(kind, (SftpError, OSError, EOFError))


def test_a_password_comes_only_from_the_named_environment_variable(site, monkeypatch):
    def password_instead_of_key(config):
        endpoint = config["sftp"][0]
        del endpoint["key_file"]
        endpoint["password_env"] = "TSUNAGI_TEST_SFTP_PASSWORD"
    edit_config(site.config_path, password_instead_of_key)
    monkeypatch.delenv("TSUNAGI_TEST_SFTP_PASSWORD", raising=False)
    cfg = config_mod.load(site.config_path)
    with pytest.raises(SftpError, match="TSUNAGI_TEST_SFTP_PASSWORD"):
        run_endpoint(cfg, site.spool, cfg.endpoint("rms"))
    monkeypatch.setenv("TSUNAGI_TEST_SFTP_PASSWORD", "wrong")
    with pytest.raises(SftpError):          # the server takes keys only: refused, with the server's reason
        run_endpoint(cfg, site.spool, cfg.endpoint("rms"))


def test_the_daemon_pulls_on_its_schedule_and_applies_what_it_pulled(site):
    edit_config(site.config_path, lambda config: config["sftp"][0].update(every_minutes=0.01))
    (site.remote / "out" / "scheduled.csv").write_bytes(_orders_csv(3, first=50))
    running = Running(site.config_path)
    try:
        wait_for(lambda: len(site.orders()) == 3, timeout=20)
        wait_for(lambda: os.listdir(site.remote / "done") == ["scheduled.csv"], timeout=10)
    finally:
        running.stop()


def test_an_endpoint_without_key_or_password_is_a_config_error(site, capsys):
    edit_config(site.config_path, lambda config: config["sftp"][0].pop("key_file"))
    assert site.cli("check") == 2
    assert "sftp[0].key_file" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_key_file_others_can_read_is_refused_naming_the_file_and_the_chmod(config_path, capsys, command):
    key = config_path.parent / "rms_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o640)
    edit_config(config_path, lambda config: config.update(sftp=[{
        "name": "rms", "host": "127.0.0.1", "user": "shop", "key_file": "rms_ed25519", "known_hosts": "known_hosts",
        "push": {"remote_dir": "in", "source": "rakuten"}}]))
    capsys.readouterr()
    assert cli.main(["-c", str(config_path), command]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert str(key) in line and f"chmod 600 {key}" in line
    key.chmod(0o600)
    assert cli.main(["-c", str(config_path), "check"]) == 0


def test_an_endpoint_table_with_protocol_sftp_pulls_like_an_sftp_table(site):
    def as_endpoint(config):
        config["endpoint"] = [dict(config.pop("sftp")[0], protocol="sftp")]
    site.edit(as_endpoint)
    (site.remote / "out" / "orders-0902.csv").write_bytes(_orders_csv(1, first=70))
    assert site.cli("endpoint", "run", "rms") == 0
    assert os.listdir(site.remote / "done") == ["orders-0902.csv"] and len(site.orders()) == 1
