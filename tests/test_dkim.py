"""DKIM verdicts (tsunagi/ingest/dkimcheck.py) on mails signed with a key the test makes, its public key served
by an injected lookup and by a real DNS server on loopback; and on the running daemon, into meta and spool show."""
from __future__ import annotations

import email.mime.message
import email.mime.multipart
import email.mime.text
import smtplib
import time

import re

import dkim
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.configs import RAKUTEN_TO, seed, write_config
from tests.support.daemon import Running
from tests.support.dnsserver import Silent, TxtServer
from tests.support.keys import dkim_key
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.dkimcheck import DnsTrouble, Resolver, strip_trailing_whitespace, verify
from tsunagi.oms import queries

PRIVATE, TXT = dkim_key()
NAME = "cart2026._domainkey.rakuten.co.jp"


def signed(order_no: str = "402853-20260612-0000000001") -> bytes:
    raw = order_mail("rakuten", SampleOrder(order_no, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO)
    return dkim.sign(raw, b"cart2026", b"rakuten.co.jp", PRIVATE,
                     include_headers=[b"from", b"to", b"subject", b"date"]) + raw


def lookup(name: bytes, timeout: float = 5) -> bytes | None:
    return TXT if name.decode().rstrip(".") == NAME else None


def test_a_good_signature_passes_and_names_its_domain_and_selector():
    assert verify(signed(), lookup) == {"result": "pass", "domain": "rakuten.co.jp", "selector": "cart2026",
                                        "where": "message"}


def test_a_changed_body_fails():
    assert verify(signed() + b"PS: and 100 more\r\n", lookup)["result"] == "fail"


def test_a_mail_without_a_signature_is_none():
    assert verify(order_mail("rakuten", SampleOrder("1", [Item("item-a", "A", 1, 1)]), RAKUTEN_TO), lookup) == \
        {"result": "none"}


def test_a_key_that_does_not_exist_is_a_permerror():
    assert verify(signed(), lambda name, timeout=5: None)["result"] == "permerror"


def test_a_lookup_that_fails_is_a_temperror():
    def down(name, timeout=5):
        raise DnsTrouble("SERVFAIL")
    assert verify(signed(), down)["result"] == "temperror"


def test_the_cart_s_original_attached_to_a_forward_is_the_one_verified():
    outer = email.mime.multipart.MIMEMultipart()
    outer["Subject"] = "Fwd: 注文"
    outer.attach(email.mime.text.MIMEText("転送します"))
    outer.attach(email.mime.message.MIMEMessage(email.message_from_bytes(signed())))
    verdict = verify(outer.as_bytes().replace(b"\n", b"\r\n"), lookup)
    assert verdict["result"] == "pass" and verdict["where"] == "attached"


@given(st.lists(st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b"a"]), max_size=40).map(b"".join))
def test_blanks_before_line_ends_are_stripped_as_dkimpy_strips_them(body):
    assert strip_trailing_whitespace(body) == re.sub(b"[\t ]+\r\n", b"\r\n", body)


def test_a_signed_mail_with_a_megabyte_of_spaces_is_verified_in_linear_time():
    raw = order_mail("rakuten", SampleOrder("1", [Item("item-a", "A", 1, 1)]), RAKUTEN_TO)
    raw += b" " * 1_000_000 + b"x\r\n"
    mail = dkim.sign(raw, b"cart2026", b"rakuten.co.jp", PRIVATE, canonicalize=(b"relaxed", b"relaxed")) + raw
    started = time.monotonic()
    assert verify(mail, lookup)["result"] == "pass"
    assert time.monotonic() - started < 2       # dkimpy's own pattern: hours


def test_the_key_is_read_from_a_real_txt_record_over_dns():
    with TxtServer({NAME: TXT}) as dns_server:
        assert verify(signed(), Resolver(dns_server.address, 2.0))["result"] == "pass"
        assert dns_server.asked == [NAME]


def test_a_dns_server_that_does_not_answer_gives_temperror_within_the_timeout():
    with Silent() as address:
        started = time.monotonic()
        verdict = verify(signed(), Resolver(address, 0.5))
    assert verdict["result"] == "temperror" and time.monotonic() - started < 3


@pytest.fixture
def dns_server():
    with TxtServer({NAME: TXT}) as server:
        yield server


def send(r: Running, raw: bytes) -> str:
    with smtplib.SMTP("127.0.0.1", r.port) as smtp:
        smtp.ehlo()
        smtp.mail("cart@example.jp")
        smtp.rcpt(RAKUTEN_TO)
        code, reply = smtp.data(raw)
    assert code == 250
    return reply.decode().rsplit(" ", 1)[1]


def test_the_daemon_records_the_verdict_in_the_meta_and_spool_show_prints_it(tmp_path, dns_server, capsys):
    path = write_config(tmp_path, smtp={"dkim_dns": dns_server.address, "dkim_timeout_seconds": 2.0})
    seed(path)
    r = Running(path)
    try:
        item_id = send(r, signed())
        r.wait_idle()
        item, _ = r.spool.find(item_id)
        assert item.meta["dkim"]["result"] == "pass" and item.meta["dkim"]["domain"] == "rakuten.co.jp"
        assert queries.find_order(r.store.read(), "rakuten", "402853-20260612-0000000001")
        capsys.readouterr()
        assert r.cli("spool", "show", item_id) == 0
        assert "DKIM: pass d=rakuten.co.jp s=cart2026" in capsys.readouterr().out
    finally:
        r.stop()


@pytest.fixture
def silent_dns():
    with Silent() as address:
        yield address


def test_without_dns_the_order_is_still_taken_and_its_verdict_is_temperror(tmp_path, silent_dns):
    path = write_config(tmp_path, smtp={"dkim_dns": silent_dns, "dkim_timeout_seconds": 0.5})
    seed(path)
    r = Running(path)
    try:
        item_id = send(r, signed("402853-20260612-0000000002"))
        r.wait_idle()
        item, _ = r.spool.find(item_id)
        assert item.meta["dkim"]["result"] == "temperror"
        assert queries.find_order(r.store.read(), "rakuten", "402853-20260612-0000000002")
    finally:
        r.stop()
