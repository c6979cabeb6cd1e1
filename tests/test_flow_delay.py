"""SMTP waits before taking a mail while the pipeline is behind (Postfix's in_flow_delay), never otherwise."""
from __future__ import annotations

import smtplib
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from tests.support.net import free_port
from tsunagi.ingest.smtp import FlowDelay, IntakeHandler
from tsunagi.ingest.spool import Spool

MAIL = b"From: a@example.jp\r\nTo: shop@example.jp\r\nSubject: x\r\n\r\nbody\r\n"


@pytest.fixture
def intake(tmp_path):
    """A real aiosmtpd server on loopback with tsunagi's handler; backlog[0] is what the pipeline has waiting."""
    backlog = [0]
    spool = Spool(tmp_path / "spool")
    handler = IntakeHandler(spool, lambda rcpt: "shop", flow=FlowDelay(lambda: backlog[0], limit=64, seconds=0.6))
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, backlog, spool
    controller.stop()


def send(port: int) -> float:
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("a@example.jp", ["shop@example.jp"], MAIL)
    return time.monotonic() - started


def test_a_mail_is_taken_at_once_while_the_pipeline_keeps_up(intake):
    port, backlog, spool = intake
    backlog[0] = 64
    assert send(port) < 0.5
    assert len(spool.waiting()) == 1


def test_a_mail_waits_before_its_250_while_more_wait_than_one_commit_takes_and_is_then_taken(intake):
    port, backlog, spool = intake
    backlog[0] = 65
    assert send(port) >= 0.6
    assert len(spool.waiting()) == 1


def test_the_wait_ends_as_soon_as_the_pipeline_catches_up(intake):
    port, backlog, spool = intake
    backlog[0] = 500
    started = time.monotonic()
    threading.Timer(0.2, lambda: backlog.__setitem__(0, 0)).start()
    send(port)
    assert 0.2 <= time.monotonic() - started < 0.55
