"""Buyer mails keep their stages' order: a purchase mail still waiting for the buyer's address when the order
ships is cancelled with its reason (or, with purchase.skip_after_shipment = false, goes before the shipment
mail), and the mail log records the address each mail went to. Real SMTP relay on loopback."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.configs import RAKUTEN_TO
from tests.support.sinks import Sink
from tests.support.sites import STAGES, MailSite
from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


def order(n: int) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1280)],
                       buyer=Person("山田 太郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "taro@example.jp"))


def waiting_then_shipped(site: MailSite, o: SampleOrder) -> None:
    """Rakuten's order mail (no buyer address): the purchase mail waits; then the order CSV brings the
    address and the order ships before the purchase mail looks for its address again."""
    path = site.folder / "r.eml"
    path.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))
    assert site.cli("ingest", str(path), "--shop", "rakuten") == 0
    site.send()
    assert "メールアドレス待ち" in site.log()[0]["answer"]
    site.ship(o)


def subjects(sink: Sink) -> list[str]:
    return [str(m["Subject"]) for m in sink.handler.parsed()]


def test_a_purchase_mail_waiting_when_the_order_ships_is_cancelled_with_its_reason(tmp_path, capsys, sink, later):
    site = MailSite(tmp_path, capsys, sink.port)
    waiting_then_shipped(site, order(1))
    site.send()
    later(timedelta(minutes=10, seconds=1))        # when the purchase mail would have looked again
    site.send()
    assert [(r["stage"], r["state"]) for r in site.log()] == [("purchase", "cancelled"), ("shipment", "sent")]
    assert site.log()[0]["answer"] == "発送済みのため送信しません (purchase.skip_after_shipment)"
    assert len(subjects(sink)) == 1 and "商品を発送しました" in subjects(sink)[0]


def test_without_skipping_the_purchase_mail_goes_before_the_shipment_mail_never_after(tmp_path, capsys, sink, later):
    stages = dict(STAGES, purchase={"statuses": ["new", "confirm"], "skip_after_shipment": False})
    site = MailSite(tmp_path, capsys, sink.port, stages=stages)
    waiting_then_shipped(site, order(2))
    site.send()
    assert sink.messages == []                     # the shipment mail waits for the purchase mail
    assert "先の段階のメールを待っています" in site.log()[1]["answer"]
    later(timedelta(minutes=10, seconds=1))
    site.send()
    assert [(r["stage"], r["state"]) for r in site.log()] == [("purchase", "sent"), ("shipment", "sent")]
    assert ["ご注文ありがとうございます" in s for s in subjects(sink)] == [True, False]
    assert "商品を発送しました" in subjects(sink)[1]


def test_a_purchase_mail_resent_on_purpose_after_shipment_goes(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(3)
    site.ship(o)
    site.send()
    assert site.cli("mail", "resend", "rakuten", o.order_no, "purchase") == 0
    site.send()
    assert [(r["stage"], r["resend"], r["state"]) for r in site.log()] == [
        ("purchase", 0, "cancelled"), ("shipment", 0, "sent"), ("purchase", 1, "sent")]


def test_the_mail_log_records_the_address_each_mail_went_to(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(4)
    site.mail_order(o)                             # EC-CUBE's order mail has the buyer's address
    site.send()
    assert site.cli("mail", "resend", "ec", o.order_no, "purchase", "--to", "taro.new@example.jp") == 0
    site.send()
    assert [(r["to"], r["sent_to"]) for r in site.log()] == [("", "taro@example.jp"),
                                                             ("taro.new@example.jp", "taro.new@example.jp")]
    capsys.readouterr()
    assert site.cli("mail", "log", "--shop", "ec") == 0
    first, resent = [line for line in capsys.readouterr().out.splitlines() if o.order_no in line]
    assert " sent       taro@example.jp " in first and " sent       taro.new@example.jp " in resent


def test_mail_show_prints_a_mail_as_it_was_handed_to_the_relay(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(5)
    site.mail_order(o)
    site.send()
    mail_id = site.log()[0]["id"]
    capsys.readouterr()
    assert site.cli("mail", "show", str(mail_id)) == 0
    out = capsys.readouterr().out
    assert f"ec {o.order_no} " in out and "To: taro@example.jp" in out
    assert f"Subject: {subjects(sink)[0]}\n\n山田太郎 様" in out
    assert site.cli("mail", "show", "999999") == 2
    assert capsys.readouterr().err.strip() == "error: no mail 999999 (the ids are in tsunagi mail log)"
