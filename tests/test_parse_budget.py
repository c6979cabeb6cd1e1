"""Parsing runs in worker processes with a time budget: a slow mail is set aside, SMTP keeps answering."""
from __future__ import annotations

import smtplib
import threading
import time

from tests.support.configs import RAKUTEN_TO, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.demo.mails import Item, SampleOrder, order_mail


def slow_mail() -> bytes:
    """Two million blank lines: linear to read, but longer than a half-second budget."""
    return (b"From: order@rakuten.co.jp\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + b"\r\n" * 2_000_000)


def test_a_mail_over_the_parse_budget_is_set_aside_as_too_slow_while_smtp_answers_throughout(tmp_path):
    path = write_config(tmp_path, pipeline={"parse_timeout_seconds": 0.5})
    seed(path)
    running = Running(path)
    try:
        answers: list[float] = []
        done = threading.Event()

        def probe():
            with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as smtp:
                while not done.is_set():
                    started = time.monotonic()
                    smtp.noop()
                    answers.append(time.monotonic() - started)
                    time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        running.send(slow_mail())        # two million lines arrive, are spooled, then parsed
        wait_for(lambda: running.failed(), timeout=60)
        good = SampleOrder("402853-20260612-0000000900", [Item("item-a", "商品A", 1, 1000)])
        running.send(order_mail("rakuten", good, RAKUTEN_TO))      # the next mail is applied as usual
        running.wait_idle(30)
        done.set()
        prober.join()
        [reason] = running.failed()
        assert reason["kind"] == "too_slow" and "parse_timeout_seconds" in reason["message"]
        assert running.store.read().value("SELECT COUNT(*) FROM orders") == 1
        assert answers and max(answers) < 1.0
    finally:
        running.stop()
