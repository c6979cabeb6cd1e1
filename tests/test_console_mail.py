"""メール over real HTTP: the buyer mail log filtered, failed mails sent again in bulk, a resend, and any
stage's template previewed for any order — buyer text always shown as text."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest

from tests.support.configs import EC_TO, edit_config, shop
from tests.support.console import Console
from tests.support.daemon import wait_for
from tests.support.sinks import Sink
from tests.support.sites import STAGES, mail_table
from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def mailing(config_path):
    """The console's site with the EC-CUBE shop mailing its buyers through a relay that is down until
    mailing.sink.start(); a mail failing for an hour is given up (failed)."""
    sink = Sink()
    edit_config(config_path, lambda c: (c.update(relay={"host": "127.0.0.1", "port": sink.port, "security": "none",
                                                        "message_id_domain": "mail.tsunagi.example",
                                                        "give_up_hours": 1}),
                                        shop(c, "ec").update(mail=mail_table("utf-8", STAGES))))
    c = Console(config_path)
    c.sink = sink
    sink.started = False
    yield c
    c.stop()
    if sink.started:
        sink.stop()


def failed(console, later, *order_ids: int) -> None:
    """The relay down for over an hour: the orders' mails are given up."""
    tried = "SELECT COUNT(*) FROM mails WHERE order_id = ? AND state = 'queued' AND attempts > 0"
    wait_for(lambda: all(console.running.store.read().value(tried, i) == 1 for i in order_ids))
    later(timedelta(hours=1, minutes=5))
    wait_for(lambda: all(mail_states(console, i) == ["failed"] for i in order_ids))


def relay_up(console) -> None:
    console.sink.start()
    console.sink.started = True


def arrive(console, n: int, **kw) -> int:
    o = SampleOrder(f"EC{n:06d}", [Item("item-a", "商品A", 1, 1000)], **kw)
    console.running.send(order_mail("ec-cube", o, EC_TO), rcpt=EC_TO)
    return wait_for(lambda: console.running.store.read().value("SELECT id FROM orders WHERE order_no = ?",
                                                               o.order_no))


def mail_states(console, order_id: int) -> list[str]:
    return [r[0] for r in console.running.store.read().all("SELECT state FROM mails WHERE order_id = ? ORDER BY id",
                                                           order_id)]


def test_the_log_shows_a_failed_mail_and_filters_by_state_and_order(mailing, later):
    order_id = arrive(mailing, 1)
    arrive(mailing, 2)
    failed(mailing, later, order_id)
    guest = mailing.client("guest")
    page = guest.get("/mail?state=failed&order=EC000001")
    rows = page.text.split('id="mails"')[1]
    assert "EC000001" in rows and "EC000002" not in rows and "失敗" in rows
    assert "EC000001" not in guest.get("/mail?state=sent").text.split('id="mails"')[1]


def test_failed_mails_are_sent_again_in_bulk(mailing, later):
    first, second = arrive(mailing, 3), arrive(mailing, 4)
    failed(mailing, later, first, second)
    relay_up(mailing)
    after = mailing.client("staff").act("/mail", "/mail/retry-failed")
    assert "失敗したメール 2 通を送り直します" in after.text
    wait_for(lambda: mail_states(mailing, first) == ["sent"] and mail_states(mailing, second) == ["sent"], 30)


def test_a_mail_is_resent_from_the_log(mailing):
    relay_up(mailing)
    order_id = arrive(mailing, 5)
    wait_for(lambda: mail_states(mailing, order_id) == ["sent"], 30)
    after = mailing.client("staff").act("/mail", f"/orders/{order_id}/resend-mail", {"stage": "purchase"})
    assert "EC000005: " in after.text and "メールを再送します" in after.text
    wait_for(lambda: mail_states(mailing, order_id) == ["sent", "sent"], 30)


def test_any_stage_is_previewed_for_any_order_with_the_buyer_name_as_text(mailing):
    order_id = arrive(mailing, 6, buyer=Person(name=SCRIPT))
    guest = mailing.client("guest")
    answer = guest.get("/mail/preview?shop=ec&order=EC000006&stage=shipment")
    assert answer.status == 303 and answer.location == f"/orders/{order_id}/mail/shipment"
    page = guest.follow(answer)
    assert page.status == 200 and SCRIPT not in page.text and html.escape(SCRIPT) in page.text


def test_a_viewer_cannot_send_failed_mails_again(mailing):
    guest = mailing.client("guest")
    assert guest.post("/mail/retry-failed", {"csrf": guest.csrf("/mail")}).status == 403


def test_a_sent_mail_shows_what_it_said_even_after_the_order_changed(mailing):
    relay_up(mailing)
    order_id = arrive(mailing, 7, buyer=Person(name=SCRIPT))
    wait_for(lambda: mail_states(mailing, order_id) == ["sent"], 30)
    assert mailing.running.cli("order-set", "ec", "EC000007", "buyer.name=訂正 後子") == 0
    mail_id = mailing.running.store.read().value("SELECT id FROM mails WHERE order_id = ?", order_id)
    guest = mailing.client("guest")
    assert f'href="/mail/{mail_id}"' in guest.get("/mail").text
    page = guest.get(f"/mail/{mail_id}")
    said = page.text.split('id="mail-text">')[1].split("</pre>")[0]
    assert page.status == 200 and html.escape(SCRIPT) in said and SCRIPT not in page.text and "訂正 後子" not in said
    assert "訂正 後子" in guest.get(f"/orders/{order_id}/mail/purchase").text       # the preview renders today's


def test_a_mail_sent_before_contents_were_kept_says_so_and_links_the_preview(mailing):
    relay_up(mailing)
    order_id = arrive(mailing, 8)
    wait_for(lambda: mail_states(mailing, order_id) == ["sent"], 30)
    mail_id = mailing.running.store.read().value("SELECT id FROM mails WHERE order_id = ?", order_id)
    with mailing.running.store.transaction() as tx:      # as an upgraded database holds its older mails
        tx.run("DELETE FROM mail_contents WHERE mail_id = ?", mail_id)
    page = mailing.client("guest").get(f"/mail/{mail_id}")
    assert 'id="not-kept"' in page.text and f"/orders/{order_id}/mail/purchase" in page.text
    assert mailing.client("guest").get("/mail/999999").status == 404
