"""tsunagi status: healthy (0), degraded (1) naming why, not running (3); from the real daemon's heartbeat."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from datetime import timedelta

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.daemon import Running, wait_for
from tests.support.net import free_port
from tests.support.sites import MailSite, order
from tsunagi.app import cli
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.app import config as config_mod

KEYS = {"state", "exit", "problems", "thresholds", "daemon", "workers", "spool", "quarantine", "outbox", "schedules",
        "store_error", "last_order", "last_applied", "relay"}


def status(config_path, capsys) -> tuple[int, dict]:
    """Exit status and the JSON of `tsunagi status --json`."""
    capsys.readouterr()
    code = cli.main(["-c", str(config_path), "status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def status_becomes(config_path, capsys, code: int, timeout: float = 15) -> dict:
    """The report once status exits with code (the heartbeat is rewritten every 2 s)."""
    def reached():
        got, out = status(config_path, capsys)
        return out if got == code else None
    return wait_for(reached, timeout, step=0.2)


def rakuten(order_no: str = "402853-20260612-0000000001") -> bytes:
    return order_mail("rakuten", SampleOrder(order_no, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO)


def test_a_running_daemon_is_healthy_and_says_so_in_stable_json_keys(running, capsys):
    running.send(rakuten())
    running.wait_idle()
    wait_for(lambda: list(running.spool.dir("outbox").glob("yahoo/ready/*")))    # the other channel's feed
    out = status_becomes(running.config_path, capsys, 0)
    assert set(out) == KEYS and out["state"] == "healthy" and out["problems"] == []
    assert out["daemon"]["running"] and out["daemon"]["pid"] == os.getpid()
    assert {w["name"]: w["state"] for w in out["workers"]} == {
        "pipeline": "ok", "files": "ok", "feeds": "ok", "drops": "ok", "schedule": "ok", "mail": "ok", "specs": "ok",
        "unpaid": "ok"}
    assert out["last_order"]["shop"] == "rakuten" and out["last_order"]["order_no"] == "402853-20260612-0000000001"
    assert out["spool"]["waiting"] == 0 and out["quarantine"]["count"] == 0
    assert out["outbox"]["yahoo"] >= 1        # files ready to be fetched, per target


def test_the_human_report_names_the_state_and_the_workers(running, capsys):
    status_becomes(running.config_path, capsys, 0)
    assert running.cli("status") == 0
    text = capsys.readouterr().out
    assert "正常 (healthy)" in text and "worker pipeline" in text and "spool/failed/" in text


def test_a_worker_that_keeps_failing_makes_status_degraded_and_names_it(running, capsys):
    wait_for(lambda: list(running.spool.dir("outbox").glob("rakuten/ready/*")))
    shutil.rmtree(running.spool.dir("outbox") / "rakuten")
    (running.spool.dir("outbox") / "rakuten").write_text("a file where the feed's folder should be")
    running.send(rakuten())          # stock changes: the rakuten feed cannot be written
    out = status_becomes(running.config_path, capsys, 1)
    feeds = next(w for w in out["workers"] if w["name"] == "feeds")
    assert feeds["state"] == "failing" and feeds["failing_since"] and "Error" in feeds["last_error"]
    assert any(p.startswith("worker feeds failing since") for p in out["problems"])
    assert running.cli("status") == 1
    assert "失敗中" in capsys.readouterr().out


def test_a_quarantined_item_is_shown_by_kind_and_degrades_status_for_a_day(running, capsys, later):
    running.send(b"Subject: hello\r\n\r\nnot an order at all\r\n")
    wait_for(lambda: running.failed())
    out = status_becomes(running.config_path, capsys, 1)
    kind = running.failed()[0]["kind"]
    assert out["quarantine"]["count"] == 1 and out["quarantine"]["recent"] == 1
    assert out["quarantine"]["by_kind"] == {kind: 1}
    assert any("quarantined" in p for p in out["problems"])
    later(timedelta(hours=25))       # still in failed/, but no longer news
    code, out = status(running.config_path, capsys)
    assert code == 0 and out["quarantine"] == dict(out["quarantine"], count=1, recent=0)


def test_a_failing_sftp_endpoint_is_named_with_its_error(tmp_path, config_path, capsys, sshd):
    endpoint = {"name": "rms", "host": "127.0.0.1", "port": free_port(), "user": sshd.user,
                "key_file": str(sshd.user_key), "known_hosts": str(sshd.known_hosts(tmp_path / "kh", sshd.port)),
                "timeout": 5, "every_minutes": 0.01, "push": {"remote_dir": "/in", "source": "rakuten"}}
    edit_config(config_path, lambda config: config.update(sftp=[endpoint]))
    r = Running(config_path)
    try:
        out = status_becomes(config_path, capsys, 1)
    finally:
        r.stop()
    job = next(j for j in out["schedules"] if j["name"] == "sftp:rms")
    assert job["failing"] and job["last_failure"] and job["last_success"] is None and job["last_error"]
    assert any(p.startswith("sftp:rms: last run failed") for p in out["problems"])


def test_an_unreachable_relay_is_named_with_the_mails_it_holds_back(tmp_path, capsys):
    site = MailSite(tmp_path, capsys, free_port())           # nothing listens there
    site.mail_order(order(16))
    r = Running(site.config_path)
    try:
        out = status_becomes(site.config_path, capsys, 1)
    finally:
        r.stop()
    relay = out["relay"]
    assert relay["configured"] and relay["failing_since"] and relay["mails"]["queued"] == 1
    assert str(site.cfg.relay.port) in relay["last_error"]["answer"]
    assert any(p.startswith("relay failing since") for p in out["problems"])


def test_a_stopped_daemon_is_not_running(running, capsys):
    status_becomes(running.config_path, capsys, 0)
    running.stop()
    code, out = status(running.config_path, capsys)
    assert code == 3 and out["state"] == "not_running" and not out["daemon"]["running"]
    assert out["workers"] == [] and "stopped" in out["problems"][0]


def test_the_age_of_the_oldest_waiting_item_follows_the_clock(config_path, capsys, later):
    cfg = config_mod.load(config_path)
    item = Spool(cfg.spool_dir).put(rakuten(), {"source": "smtp", "kind": "order_mail", "shop": "rakuten"})
    code, out = status(config_path, capsys)
    assert code == 3 and out["spool"]["waiting"] == 1 and out["spool"]["oldest_waiting"] == item.id
    assert out["spool"]["oldest_waiting_age_seconds"] < 60
    assert not any("waiting" in p for p in out["problems"])
    later(timedelta(minutes=30))
    code, out = status(config_path, capsys)
    assert 1800 <= out["spool"]["oldest_waiting_age_seconds"] < 1860
    assert any("items waiting in spool/new/" in p for p in out["problems"])


def _tsunagi(config_path, *args: str, **kwargs):
    return subprocess.run([sys.executable, "-m", "tsunagi", "-c", str(config_path), *args],
                          capture_output=True, text=True, timeout=60, **kwargs)


def test_status_wait_running_returns_once_a_started_daemon_runs(config_path):
    daemon = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(config_path), "serve"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = _tsunagi(config_path, "status", "--wait-running", "30")
        assert done.returncode == 0 and "正常 (healthy)" in done.stdout
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    assert _tsunagi(config_path, "status").returncode == 3


def test_a_daemon_killed_with_sigkill_is_not_running(config_path):
    daemon = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(config_path), "serve"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _tsunagi(config_path, "status").returncode == 0, timeout=30, step=0.2)
    finally:
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
    done = _tsunagi(config_path, "status", "--json")
    assert done.returncode == 3
    out = json.loads(done.stdout)
    assert out["state"] == "not_running" and out["daemon"]["pid"] == daemon.pid
    assert "holds no lock" in out["problems"][0]


def test_under_systemd_each_heartbeat_tells_it_ready_and_alive(config_path, tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        daemon = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(config_path), "serve"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, NOTIFY_SOCKET=address))
        try:
            beats = [sock.recv(256), sock.recv(256)]       # WatchdogSec restarts a daemon whose beats stop
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    assert beats == [b"READY=1\nWATCHDOG=1"] * 2


def test_a_frozen_daemon_holding_its_lock_is_not_running_once_its_heartbeat_is_stale(config_path):
    daemon = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(config_path), "serve"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _tsunagi(config_path, "status").returncode == 0, timeout=30, step=0.2)
        os.kill(daemon.pid, signal.SIGSTOP)          # as a pattern holding the GIL would: nothing answers
        assert _tsunagi(config_path, "status").returncode == 0      # not yet: a beat is 2 s, stale after 30 s
        done = wait_for(lambda: (d := _tsunagi(config_path, "status", "--json")).returncode == 3 and d,
                        timeout=45, step=1)
    finally:
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
    assert "frozen" in json.loads(done.stdout)["problems"][0]
