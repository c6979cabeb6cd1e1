"""Every outbound file's delivery, tracked to the end: written, sent by a push or by hand, failed, and what
waits for whom since when; a shipment confirmation closes its orders only once it is delivered."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.net import free_port, listening
from tests.support.sinks import Sink
from tests.support.sites import ShipSite, mod7, order
from tests.support.sshd import Relay
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms.store import Store


class PushSite:
    """The three sample shops; the endpoint "ys" pushes what is ready for yahoo to remote/in on the real sshd."""

    def __init__(self, folder, sshd, port=None, **endpoint):
        self.folder, self.sshd = folder, sshd
        self.remote = folder / "remote" / "in"
        self.remote.mkdir(parents=True)
        self.config_path = write_config(folder)
        seed(self.config_path)
        self.endpoint(port or sshd.port, **endpoint)

    def endpoint(self, port: int, **extra) -> None:
        kh = self.sshd.known_hosts(self.folder / "known_hosts", port)
        ep = {"name": "ys", "host": "127.0.0.1", "port": port, "user": self.sshd.user, "timeout": 10,
              "key_file": str(self.sshd.user_key), "known_hosts": str(kh),
              "push": {"remote_dir": str(self.remote), "source": "yahoo"}, **extra}
        edit_config(self.config_path, lambda config: config.update(sftp=[ep]))
        self.cfg = config_mod.load(self.config_path)
        self.ready = self.cfg.spool_dir / "outbox" / "yahoo" / "ready"

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def listing(self, capsys, *args) -> list[dict]:
        capsys.readouterr()
        assert self.cli("outbox", "list", "--json", *args) == 0
        return json.loads(capsys.readouterr().out)

    def put(self, name: str, data: bytes = b"code,quantity\r\nitem-a,3\r\n") -> None:
        """A file in yahoo's ready/ (as a writer leaves one)."""
        self.ready.mkdir(parents=True, exist_ok=True)
        (self.ready / name).write_bytes(data)


@pytest.fixture
def site(tmp_path, sshd):
    return PushSite(tmp_path, sshd)


def _sale(running: Running, n: int = 1) -> None:
    """A Rakuten order mail: yahoo's stock file is written within a moment."""
    raw = order_mail("rakuten", SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1000)]),
                     RAKUTEN_TO)
    assert running.send(raw) == {}


def _contents(folder):
    """The bytes of the folder's files, None while it has none."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir())) or None


def test_stock_files_the_daemon_writes_are_listed_as_waiting_for_their_endpoint_since_written(site, capsys):
    running = Running(site.config_path)
    try:
        first = wait_for(lambda: site.ready.is_dir() and _contents(site.ready), timeout=15)    # start-up's
        _sale(running)
        running.wait_idle()       # the sale's figure merged into the start-up's file, not yet sent
        wait_for(lambda: _contents(site.ready) not in (None, first), timeout=15)
    finally:
        running.stop()
    rows = site.listing(capsys, "--target", "yahoo")
    assert [r["name"] for r in rows] == sorted(os.listdir(site.ready))
    for row in rows:
        assert row["target"] == "yahoo" and row["name"].startswith("yahoo-stock-") and row["kind"] == "stock"
        assert row["state"] == "written" and row["endpoint"] == "ys" and row["waiting_minutes"] == 0
        assert row["sent_at"] is None and row["attempts"] == 0


def test_a_push_records_each_file_sent_by_its_endpoint_and_the_list_shows_it_no_more(site, capsys):
    site.put("yahoo-stock-1.csv")
    site.put("yahoo-stock-2.csv")
    assert site.cli("sftp", "run", "ys") == 0
    assert sorted(os.listdir(site.remote)) == ["yahoo-stock-1.csv", "yahoo-stock-2.csv"]
    assert site.listing(capsys) == []
    rows = site.listing(capsys, "--all")
    assert [(r["name"], r["state"], r["sent_by"], r["attempts"]) for r in rows] == [
        ("yahoo-stock-1.csv", "sent", "ys", 1), ("yahoo-stock-2.csv", "sent", "ys", 1)]
    assert rows[0]["remote"] == f"{site.remote}/yahoo-stock-1.csv" and rows[0]["sent_at"]


def test_a_push_cut_mid_upload_records_the_file_failed_with_the_error_and_the_next_run_sent(tmp_path, sshd, capsys):
    relay = Relay(sshd.port)
    site = PushSite(tmp_path, sshd, relay.port)
    site.put("yahoo-stock-big.csv", os.urandom(3_000_000))
    relay.cut_after(1_000_000, "up")
    try:
        assert site.cli("sftp", "run", "ys") == 1
        [row] = site.listing(capsys)
        assert row["state"] == "failed" and row["attempts"] == 1 and row["detail"].startswith("ys: ")
        assert "yahoo-stock-big.csv" not in os.listdir(site.remote)
        relay.cut_after(None)
        assert site.cli("sftp", "run", "ys") == 0
        [row] = site.listing(capsys, "--all")
        assert row["state"] == "sent" and row["attempts"] == 2 and row["detail"] == ""
    finally:
        relay.close()


def test_a_confirmation_closes_its_orders_only_once_a_person_marks_it_uploaded(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = order(1), order(2)
    site.orders_csv([a, b])
    site.export()
    site.results([f"T00000001,0,0,{mod7('12345678901')},2026/06/13", f"T00000002,0,0,{mod7('22345678901')},2026/06/13"])
    site.cli("ship", "confirm")
    [confirm] = site.confirmations()
    assert site.status(a) == site.status(b) == "shipped"
    capsys.readouterr()
    assert site.cli("outbox", "list", "--target", "rakuten") == 0
    out = capsys.readouterr().out
    assert confirm.name in out and "written" in out and "手動アップロード" in out
    assert site.cli("outbox", "mark-sent", str(confirm)) == 0
    assert "2 orders closed" in capsys.readouterr().out
    assert site.status(a) == site.status(b) == "closed"
    assert "手動でアップロード" in site.view(a)["history"][-1]["note"]
    assert not confirm.exists() and (confirm.parent.parent / "sent" / confirm.name).exists()
    assert site.cli("outbox", "mark-sent", confirm.name) == 0            # again: said, nothing changes
    assert "already sent (manual" in capsys.readouterr().out


def test_marking_sent_a_file_that_waits_nowhere_is_one_line_and_exit_2(site, capsys):
    capsys.readouterr()
    assert site.cli("outbox", "mark-sent", "no-such.csv") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no-such.csv" in line and "tsunagi outbox list" in line


def test_a_file_waiting_longer_than_feed_stale_minutes_is_alerted_once_naming_it(site, later):
    sink = Sink().start()
    try:
        edit_config(site.config_path, lambda config: config.update(
            relay={"host": "127.0.0.1", "port": sink.port, "security": "none"},
            alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp", "feed_stale_minutes": 30}))
        cfg = config_mod.load(site.config_path)
        site.put("yahoo-stock-1.csv")
        store = Store(cfg.db_path)
        alerts = wiring.alerts(cfg, store, cfg.spool_dir / "outbox")
        alerts.collect()
        assert not alerts.flush(force=True)                 # 0 minutes: nothing to say
        later(timedelta(minutes=31))
        alerts.collect()
        alerts.collect()
        assert alerts.flush(force=True)
        [digest] = [m for m in sink.handler.parsed() if m["To"] == "ops@example.jp"]
        text = digest.get_body(("plain",)).get_content()
        assert text.count("yahoo へのファイルが 30 分以上届いていません") == 1
        assert "yahoo-stock-1.csv" in text and "tsunagi outbox list --target yahoo" in text
        again = wiring.alerts(cfg, store, cfg.spool_dir / "outbox")        # a restarted daemon: still once
        again.collect()
        assert not again.flush(force=True)
    finally:
        sink.stop()


def test_a_file_recorded_sent_before_a_crash_is_moved_at_the_next_run_and_never_uploaded_again(site, monkeypatch):
    from tsunagi.outbound import delivery

    def killed(path):
        raise SystemExit("killed after the record, before the move out of ready/")
    site.put("yahoo-stock-1.csv")
    monkeypatch.setattr(delivery, "move_to_sent", killed)
    with pytest.raises(SystemExit):
        site.cli("sftp", "run", "ys")
    monkeypatch.undo()
    assert (site.ready / "yahoo-stock-1.csv").exists()
    os.remove(site.remote / "yahoo-stock-1.csv")          # the channel took it meanwhile
    assert site.cli("sftp", "run", "ys") == 0
    assert os.listdir(site.remote) == []                    # not uploaded a second time
    assert not (site.ready / "yahoo-stock-1.csv").exists()
    assert (site.ready.parent / "sent" / "yahoo-stock-1.csv").exists()


def _serve(config_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_while_pushing_never_records_a_file_sent_unsent_nor_uploads_one_recorded_sent_again(tmp_path, sshd):
    """The daemon pushes 120 files (and its own feed) on its schedule and is SIGKILLed at random moments. While it is down the
    channel takes every file from the server. Each file recorded sent had reached the server; none recorded
    sent is ever uploaded again; at the end every file is delivered and recorded sent."""
    port = free_port()
    site = PushSite(tmp_path, sshd, every_minutes=0.005)
    edit_config(site.config_path, lambda config: (config["smtp"].update(listen=f"127.0.0.1:{port}"),
                                                  config["store"].update(synchronous="FULL")))
    files = {f"yahoo-stock-{n:03d}.csv": os.urandom(20_000 + n) for n in range(120)}
    for name, data in files.items():
        site.put(name, data)
    consumed: list[tuple[int, str]] = []          # (round, name) of each copy the channel took
    recorded_before: dict[str, int] = {}          # name -> the round before which it was recorded sent
    db = site.cfg.db_path
    rng = random.Random(20261201)
    proc = _serve(site.config_path)
    kills = 0
    try:
        for round_no in range(1, 6):
            wait_for(lambda: listening(port), timeout=30)
            # killed while pushing, while anything is left to push (a quick machine may have sent it all already)
            if round_no < 5 and any(site.ready.iterdir()):
                wait_for(lambda: any(site.remote.iterdir()), timeout=30)       # pushing now
                time.sleep(rng.uniform(0.0, 0.3))
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            else:
                wait_for(lambda: not any(site.ready.iterdir()), timeout=60)
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            tx = Store(db).read()
            sent = {r[0] for r in tx.all("SELECT name FROM deliveries WHERE state = 'sent'")}
            on_server = {p.name: p.read_bytes() for p in site.remote.iterdir() if not p.name.startswith(".")}
            taken = {name for _, name in consumed}
            for name in sent:               # recorded sent: it reached the server, whole
                assert name in on_server or name in taken, name
                assert on_server.get(name, _local(site, name)) == _local(site, name)
            for name in on_server:          # the channel takes what is there
                consumed.append((round_no, name))
                os.remove(site.remote / name)
            for name in sent:
                recorded_before.setdefault(name, round_no)
            if round_no < 5:
                proc = _serve(site.config_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert kills >= 1                       # at least one kill came while files were still going out
    for round_no, name in consumed:         # uploaded after it was recorded sent: never
        assert not (name in recorded_before and round_no > recorded_before[name]), (name, round_no)
    delivered = set(os.listdir(site.ready.parent / "sent"))      # ours, and the feed the daemon wrote at start
    assert set(files) <= delivered and not os.listdir(site.ready)
    assert {name for _, name in consumed} == set(recorded_before) == delivered


def _local(site: PushSite, name: str) -> bytes:
    """The bytes of an outbox file, in ready/ or sent/."""
    path = site.ready / name
    return path.read_bytes() if path.exists() else (site.ready.parent / "sent" / name).read_bytes()


def test_a_waiting_file_that_leaves_ready_unsent_is_withdrawn_and_no_longer_listed(site, capsys):
    site.put("yahoo-stock-1.csv")
    site.put("yahoo-stock-2.csv")
    assert [r["name"] for r in site.listing(capsys)] == ["yahoo-stock-1.csv", "yahoo-stock-2.csv"]
    os.remove(site.ready / "yahoo-stock-1.csv")          # merged into the newer one, or removed by a person
    assert [r["name"] for r in site.listing(capsys)] == ["yahoo-stock-2.csv"]
    assert [(r["name"], r["state"]) for r in site.listing(capsys, "--all")] == [
        ("yahoo-stock-1.csv", "withdrawn"), ("yahoo-stock-2.csv", "written")]


def test_a_manual_upload_recorded_before_a_crash_leaves_ready_when_the_daemon_starts(tmp_path, capsys, monkeypatch):
    from tsunagi.outbound import delivery
    site = ShipSite(tmp_path, capsys)
    site.orders_csv([order(1)])
    [label] = site.export()

    def killed(path):
        raise SystemExit("killed after the record, before the move out of ready/")
    monkeypatch.setattr(delivery, "move_to_sent", killed)
    with pytest.raises(SystemExit):
        site.cli("outbox", "mark-sent", label.name)
    monkeypatch.undo()
    assert label.exists()
    running = Running(site.config_path)
    try:
        wait_for(lambda: not label.exists(), timeout=15)
    finally:
        running.stop()
    assert (label.parent.parent / "sent" / label.name).exists()
    capsys.readouterr()
    assert site.cli("outbox", "list", "--json", "--target", "carrier") == 0
    assert json.loads(capsys.readouterr().out) == []
