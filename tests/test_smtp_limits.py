"""What one SMTP client may hold and send: connection limits, idle time, recipients, bad bytes, clean replies,
and descriptor exhaustion; all against the real daemon on loopback with raw sockets and smtplib."""
from __future__ import annotations

import resource
import smtplib
import socket
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

from tests.support.configs import RAKUTEN_TO, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.net import free_port, listening
from tests.support.rawsmtp import RawSession
from tsunagi.app import config as config_mod
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import queries
from tsunagi.oms.store import Store

ORDER_NO = "402853-20260612-0000000001"


def rakuten(order_no: str = ORDER_NO) -> bytes:
    return order_mail("rakuten", SampleOrder(order_no, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO)


@pytest.fixture
def limited(tmp_path):
    """A daemon allowing 5 sessions in all, 3 from one address, 1 s without progress, 3 recipients a mail."""
    path = write_config(tmp_path, smtp={"max_connections": 5, "max_connections_per_peer": 3,
                                        "idle_timeout_seconds": 1, "max_recipients": 3})
    seed(path)
    r = Running(path)
    yield r
    r.stop()


def greeted(port: int, source: str = "127.0.0.1") -> RawSession:
    session = RawSession(port, source)
    assert session.reply().startswith("220 ")
    return session


def test_a_session_beyond_max_connections_gets_421_and_is_closed(limited):
    with ExitStack() as held:
        for source in ("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"):
            held.callback(greeted(limited.port, source).close)
        extra = RawSession(limited.port, "127.0.0.3")
        assert extra.reply().startswith("421 4.7.0 too many connections")
        assert extra.closed()


def test_a_session_beyond_the_per_peer_limit_gets_421_while_other_peers_are_served(limited):
    with ExitStack() as held:
        for _ in range(3):
            held.callback(greeted(limited.port).close)
        extra = RawSession(limited.port)
        assert extra.reply().startswith("421 4.7.0 too many connections from your address")
        assert extra.closed()
        held.callback(greeted(limited.port, "127.0.0.2").close)


def test_a_slot_freed_by_a_closed_session_takes_a_mail_again(limited):
    sessions = [greeted(limited.port, source) for source in ("127.0.0.1",) * 3 + ("127.0.0.2",) * 2]
    assert RawSession(limited.port).reply().startswith("421 ")
    assert sessions[0].command(b"QUIT").startswith("221 ")
    sessions[0].close()
    wait_for(lambda: RawSession(limited.port).reply().startswith("220 "))
    # wait_for's probes come and go; the freed slot now takes a whole mail
    wait_for(lambda: limited.send(rakuten()) == {}, timeout=5)
    limited.wait_idle()
    assert queries.find_order(limited.store.read(), "rakuten", ORDER_NO)
    for s in sessions[1:]:
        s.close()


def test_noops_do_not_keep_an_idle_session_open(limited):
    session = greeted(limited.port)
    assert session.command(b"EHLO client.example").startswith("250 ")
    started = time.monotonic()
    answers = []
    while True:
        time.sleep(0.3)
        reply = session.command(b"NOOP")
        if not reply.startswith("250"):
            break
        answers.append(reply)
        assert time.monotonic() - started < 5, "NOOPs kept the session open"
    assert len(answers) >= 2                                  # the NOOPs were answered meanwhile
    assert "421 4.4.2 idle too long" in session.replies
    assert session.closed()


def test_rset_help_vrfy_and_a_repeated_ehlo_are_no_progress_either(limited):
    session = greeted(limited.port)
    session.command(b"EHLO client.example")
    started = time.monotonic()
    for line in [b"RSET", b"HELP", b"VRFY someone@example.jp", b"EHLO again.example"] * 10:
        time.sleep(0.2)
        if not session.command(line)[:1] in ("2", "5"):
            break
    assert "421 4.4.2 idle too long" in session.replies
    assert time.monotonic() - started < 3


def test_mail_and_rcpt_keep_a_session_open_past_the_idle_timeout(limited):
    session = greeted(limited.port)
    session.command(b"EHLO client.example")
    assert session.command(b"MAIL FROM:<cart@example.jp>").startswith("250 ")
    for _ in range(6):                                        # progress every 0.5 s, 3 s in all
        time.sleep(0.25)
        assert session.command(b"RSET").startswith("250 ")
        time.sleep(0.25)
        assert session.command(b"MAIL FROM:<cart@example.jp>").startswith("250 ")
    time.sleep(0.25)
    assert session.command(b"RCPT TO:<" + RAKUTEN_TO.encode() + b">").startswith("250 ")
    stopped = time.monotonic()
    assert session.reply() == "421 4.4.2 idle too long"       # and once it stops making progress, it ends
    assert time.monotonic() - stopped < 2


def test_mail_data_still_arriving_is_progress(limited):
    session = greeted(limited.port)
    session.command(b"EHLO client.example")
    session.command(b"MAIL FROM:<cart@example.jp>")
    session.command(b"RCPT TO:<" + RAKUTEN_TO.encode() + b">")
    assert session.command(b"DATA").startswith("354 ")
    raw = rakuten().replace(b"\n", b"\r\n")
    pieces = [raw[i:i + len(raw) // 6 + 1] for i in range(0, len(raw), len(raw) // 6 + 1)]
    for piece in pieces:                                      # six pieces, 0.5 s apart: 3 s in all
        session.send(piece)
        time.sleep(0.5)
    session.send(b"\r\n.\r\n")
    assert session.reply().startswith("250 2.0.0 OK queued as")


def test_a_mail_whose_data_stops_arriving_is_closed_as_idle(limited):
    session = greeted(limited.port)
    session.command(b"EHLO client.example")
    session.command(b"MAIL FROM:<cart@example.jp>")
    session.command(b"RCPT TO:<" + RAKUTEN_TO.encode() + b">")
    assert session.command(b"DATA").startswith("354 ")
    session.send(b"Subject: half a mail\r\n")
    stopped = time.monotonic()
    assert session.reply() == "421 4.4.2 idle too long"
    assert 0.9 < time.monotonic() - stopped < 3
    assert not list(limited.spool.root.glob("new/*.eml"))


def test_the_recipient_after_max_recipients_gets_452_and_the_mail_goes_to_the_others(running):
    with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("cart@example.jp")
        for _ in range(100):
            assert smtp.rcpt(RAKUTEN_TO)[0] == 250
        code, text = smtp.rcpt(RAKUTEN_TO)
        assert (code, text) == (452, b"4.5.3 too many recipients")
        assert smtp.data(rakuten())[0] == 250
    running.wait_idle()
    assert queries.find_order(running.store.read(), "rakuten", ORDER_NO)


@pytest.mark.parametrize("command", [b"EHLO caf\xe9.example", b"HELO caf\xe9.example",
                                     b"MAIL FROM:<caf\xe9@example.jp>", b"RCPT TO:<caf\xe9@orders.example.jp>"])
def test_bytes_that_are_not_utf8_get_501_and_the_session_goes_on(running, command):
    session = greeted(running.port)
    if not command.startswith((b"EHLO", b"HELO")):
        session.command(b"EHLO client.example")
    if command.startswith(b"RCPT"):
        session.command(b"MAIL FROM:<cart@example.jp>")
    reply = session.command(command)
    assert reply.startswith("501 5.5.2 ") and "UTF-8" in reply
    session.command(b"RSET")
    assert session.command(b"EHLO client.example").startswith("250 ")
    assert session.command(b"MAIL FROM:<cart@example.jp>").startswith("250 ")
    assert session.command(b"RCPT TO:<" + RAKUTEN_TO.encode() + b">").startswith("250 ")
    assert session.command(b"DATA").startswith("354 ")
    session.send(rakuten().replace(b"\n", b"\r\n") + b"\r\n.\r\n")
    assert session.reply().startswith("250 2.0.0 OK queued as")


def test_a_command_line_over_1000_bytes_ending_in_a_bare_lf_gets_500_5_5_2_naming_it(running):
    session = greeted(running.port)
    session.send(b"NOOP " + b"x" * 3000 + b"\n")
    assert session.reply().startswith("500 5.5.2 command line too long")
    assert session.command(b"RCPT TO:<" + b"y" * 700 + b"@example.jp>").startswith("500 5.5.2 command line too long")
    assert session.command(b"NOOP").startswith("250 ")


HOSTILE = [b"HELO", b"EHLO \xff\xfe", b"VRFY \xe9t\xe9", b"EXPN \xe9", b"HELP \xe9", b"NOOP \xe9", b"AUTH PLAIN \xe9",
           b"STARTTLS \xe9", b"EHLO client.example", b"MAIL FROM:<a@b> SIZE=\xe9", b"MAIL FROM:<a@b> SIZE=x",
           b"MAIL FROM:<\x00@b>", b"MAIL FROM:<a@example.jp> BODY=\xe9", b"MAIL FROM:<a@example.jp>",
           b"RCPT TO:<\x00>", b"RCPT TO:<" + RAKUTEN_TO.encode() + b"> NOTIFY=\xe9", b"DATA \xe9",
           b"\xe9\xe9", b"\x00", b"", b"RSET \xe9", b"QUIT \xe9"]


def test_no_reply_to_any_hostile_command_carries_a_python_exception(running):
    session = greeted(running.port)
    for line in HOSTILE:
        reply = session.command(line)
        assert reply[:3].isdigit() and reply[3] == " ", (line, reply)
    for reply in session.replies:
        assert "Error: (" not in reply and "Traceback" not in reply and "Exception" not in reply, reply
    assert session.command(b"NOOP").startswith("250 ")


def test_running_out_of_descriptors_is_logged_once_and_the_daemon_serves_again_after(tmp_path):
    port = free_port()
    path = write_config(tmp_path, smtp={"listen": f"127.0.0.1:{port}", "max_connections": 100000,
                                        "max_connections_per_peer": 100000})
    seed(path)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(path), "serve"], stdout=log, stderr=log,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128)))
    try:
        wait_for(lambda: listening(port), timeout=30)
        held = _connections(port, 200)        # more than 128 descriptors: the rest wait in the listen backlog
        wait_for(lambda: "accept" in log_path.read_text(errors="replace"), timeout=15)
        size_before = log_path.stat().st_size
        time.sleep(5)
        text = log_path.read_text(errors="replace")
        assert proc.poll() is None
        about_it = [line for line in text.splitlines() if "accept" in line]
        assert len(about_it) == 1 and "Too many open files" in about_it[0], about_it
        # the workers that meet EMFILE too say so once each and retry; nothing repeats itself meanwhile
        assert log_path.stat().st_size - size_before < 20_000
        for s in held:
            s.close()
        wait_for(lambda: _greets(port), timeout=15)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("cart@example.jp", [RAKUTEN_TO], rakuten())
        store = Store(config_mod.load(path).db_path)
        try:
            wait_for(lambda: queries.find_order(store.read(), "rakuten", ORDER_NO), timeout=30)
        finally:
            store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _connections(port: int, count: int, within: float = 20) -> list[socket.socket]:
    """count connections to port, or as many as were made within that many seconds (a full backlog drops
    a SYN now and then: the client's retry gets in later)."""
    made, end = [], time.monotonic() + within
    while len(made) < count and time.monotonic() < end:
        try:
            made.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
        except OSError:
            pass
    return made


def _greets(port: int) -> bool:
    try:
        return RawSession(port, timeout=2).reply().startswith("220 ")
    except OSError:
        return False
