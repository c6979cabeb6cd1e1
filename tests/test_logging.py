"""The daemon's log: one clock (ISO 8601 with the JST offset), level, component and message a line; a file
rotated by size, or stderr; and no password or SMTP AUTH exchange in it, at any level."""
from __future__ import annotations

import base64
import logging
import logging.handlers
import re
import smtplib
import threading
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.support.configs import edit_config, seed, write_config
from tests.support.daemon import Serving, wait_for
from tests.support.sinks import Sink
from tests.support.sites import MailSite
from tsunagi.app import logsetup
from tsunagi.app.logsetup import LineFormatter, SecretMask, secrets_of
from tsunagi.common.clock import JST
from tsunagi.demo.mails import Item, Person, SampleOrder

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00) (DEBUG|INFO|WARNING|ERROR|CRITICAL) +"
                  r"([\w.]+): (.*)$")


def _with_log(config_path, **log) -> None:
    edit_config(config_path, lambda config: config.update(log={"file": "log/tsunagi.log", **log}))


def _lines(folder) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("tsunagi.log*")))


def test_a_log_line_is_iso_8601_time_with_the_jst_offset_level_component_and_message(tmp_path):
    config_path = write_config(tmp_path)
    seed(config_path)
    _with_log(config_path)
    shift = timedelta(days=400)
    daemon = Serving(config_path, env={"TSUNAGI_CLOCK_SHIFT": str(shift.total_seconds())})
    log = tmp_path / "log" / "tsunagi.log"                     # relative to the config file
    try:
        wait_for(lambda: log.exists() and "listening" in log.read_text(encoding="utf-8"))
    finally:
        stderr = daemon.stop()
    [listening] = [m for m in map(LINE.match, log.read_text(encoding="utf-8").splitlines()) if m and "listening" in m[4]]
    at, level, component, message = listening.groups()
    assert level == "INFO" and component == "daemon" and message.startswith("tsunagi listening on 127.0.0.1:")
    assert abs(datetime.fromisoformat(at) - (datetime.now(JST) + shift)) < timedelta(minutes=5)   # the one clock
    assert "listening" not in stderr


def test_the_log_file_is_rotated_at_max_bytes_keeping_log_keep_files(tmp_path):
    config_path = write_config(tmp_path)
    seed(config_path)
    _with_log(config_path, max_bytes=2048, keep=2, level="DEBUG")
    daemon = Serving(config_path)
    try:
        for _ in range(40):                                   # each session logs a few lines at DEBUG
            daemon.probe()
    finally:
        daemon.stop()
    files = sorted(p.name for p in (tmp_path / "log").iterdir())
    assert files == ["tsunagi.log", "tsunagi.log.1", "tsunagi.log.2"]
    assert all((tmp_path / "log" / name).stat().st_size <= 2048 for name in files)
    assert all(LINE.match(line) for line in (tmp_path / "log" / "tsunagi.log.1").read_text().splitlines())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")     # the test relay, on loopback
def test_no_password_nor_smtp_auth_exchange_reaches_the_log_even_at_debug(tmp_path, capsys):
    relay_password, intake_password = "relay-s3cret-pw", "intake-s3cret-pw"
    relay = Sink(login=("shop-relay", relay_password)).start()
    try:
        site = MailSite(tmp_path, capsys, relay.port)
        site.mail_order(SampleOrder("402853-20260612-0000000070", [Item("item-a", "商品A", 1, 1280)],
                                    buyer=Person("山田 太郎", "100-0001", "東京都千代田区", "03-1234-5678",
                                                 "taro@example.jp")))
        site.edit(lambda config: config["relay"].update(user="shop-relay", password_env="RELAY_PASSWORD"))
        _with_log(site.config_path, level="DEBUG")
        daemon = Serving(site.config_path, env={"RELAY_PASSWORD": relay_password, "INTAKE_PASSWORD": intake_password})
        try:
            wait_for(lambda: relay.messages, timeout=20)        # sent, after logging in with the password
            with smtplib.SMTP("127.0.0.1", daemon.port, timeout=10, local_hostname="test") as smtp:
                smtp.ehlo()
                smtp.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0forwarder\0{intake_password}".encode()).decode())
                smtp.docmd("AUTH", "LOGIN")
                smtp.docmd(base64.b64encode(b"forwarder").decode())
                smtp.docmd(base64.b64encode(intake_password.encode()).decode())
        finally:
            stderr = daemon.stop()
    finally:
        relay.stop()
    text = _lines(tmp_path / "log") + stderr
    assert "DEBUG" in text and ">> b'AUTH PLAIN" in text          # the session is logged…
    for secret in (relay_password, intake_password):                                  # …but not the secrets
        assert secret not in text and base64.b64encode(secret.encode()).decode().rstrip("=") not in text
    assert base64.b64encode(f"\0forwarder\0{intake_password}".encode()).decode() not in text


def test_the_mask_covers_messages_arguments_tracebacks_and_base64(tmp_path):
    environ = {"RELAY_PW": "hunter2-relay", "SFTP_KEY_PASSPHRASE": "open-sesame", "HOME": "/home/tsunagi"}
    secrets = secrets_of({"relay": {"password_env": "RELAY_PW"}, "sftp": [{"password_env": ""}]}, environ)
    assert secrets == {"hunter2-relay", "open-sesame"}
    handler = logging.FileHandler(tmp_path / "t.log", encoding="utf-8")
    handler.setFormatter(LineFormatter())
    handler.addFilter(SecretMask(secrets))
    log = logging.getLogger("tsunagi.test-mask")
    log.propagate, log.level = False, logging.DEBUG
    log.addHandler(handler)
    try:
        log.info("login with %s", "hunter2-relay")
        log.debug("AUTH PLAIN %s", base64.b64encode(b"\0shop\0hunter2-relay").decode())
        try:
            raise ValueError("passphrase open-sesame refused")
        except ValueError:
            log.exception("key")
    finally:
        log.removeHandler(handler)
        handler.close()
    text = (tmp_path / "t.log").read_text(encoding="utf-8")
    assert "hunter2" not in text and "open-sesame" not in text and "AHNob3AAaHVudGVy" not in text
    assert text.count("********") == 4 and " test-mask: login with ********" in text


def test_a_thread_ending_on_an_uncaught_exception_is_one_masked_line_of_the_log(tmp_path, monkeypatch):
    """paramiko's prefetch thread ends on EOFError when an SFTP connection is cut mid-download (the download
    itself reports the error): the log shows one line, not a traceback on stderr, and no secret."""
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setenv("RELAY_PASSWORD", "s3cret-pass")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logsetup.configure(SimpleNamespace(file=str(tmp_path / "tsunagi.log"), max_bytes=1 << 20, keep=1,
                                           level="INFO"), {})
        worker = threading.Thread(target=lambda: (_ for _ in ()).throw(EOFError("cut with s3cret-pass")),
                                  name="prefetch")
        worker.start()
        worker.join()
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
            h.close()
        root.setLevel(level)
    lines = (tmp_path / "tsunagi.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and LINE.match(lines[0])
    assert lines[0].endswith("thread: thread prefetch stopped: EOFError: cut with ********")
