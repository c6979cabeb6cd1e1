"""Buyer mails and operator alerts through real SMTP servers on loopback: exact MIME, once each, retries,
rejections, uncertainty, no backfill, templates that cannot have holes."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.net import free_port
from tests.support.sinks import Sink
from tests.support.sites import MailSite, mod7
from tsunagi.app import wiring
from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail
from tsunagi.demo.csvs import order_csv
from tsunagi.common.clock import JST
from tsunagi.common.jcodec import decode_iso2022jp


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


def order(n: int, **kw) -> SampleOrder:
    kw.setdefault("buyer", Person("山田 太郎", "100-0001", "東京都千代田区千代田1-1", "03-1234-5678", "taro@example.jp"))
    return SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品Ａ①", 2, 1280)], **kw)


def body_text(msg) -> str:
    part = msg.get_body(preferencelist=("plain",))
    raw = part.get_payload(decode=True)
    charset = part.get_content_charset()
    return decode_iso2022jp(raw) if charset == "iso-2022-jp" else raw.decode(charset)


def test_a_new_order_gets_its_purchase_mail_once_with_encoded_headers(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    site.mail_order(order(1))
    assert site.send() == 1 and site.send() == 0
    [(mail_from, rcpts, raw)] = sink.messages
    msg = sink.handler.parsed()[0]
    assert mail_from == "shop@example.jp" and rcpts == ["taro@example.jp"]
    assert msg["Subject"] == "【テスト自社サイト】ご注文ありがとうございます（注文番号 402853-20260612-0000000001）"
    assert msg["From"].addresses[0].display_name == "テスト楽天店 (つなぎ)"
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0].lower()          # non-ASCII headers are RFC 2047 words
    assert msg["Reply-To"] == "support@example.jp" and msg["Date"] and msg["To"] == "taro@example.jp"
    assert msg["Message-ID"].endswith("@mail.tsunagi.example>")
    text = body_text(msg)
    assert "山田太郎 様" in text and "商品Ａ①（item-a）" in text and "1,280円 × 2 ＝ 2,560円" in text
    [entry] = site.log()
    assert entry["state"] == "sent" and entry["message_id"] == msg["Message-ID"] and entry["answer"].startswith("250")


def test_iso_2022_jp_for_old_mail_clients(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port, charset="iso-2022-jp")
    site.mail_order(order(2))
    site.send()
    msg = sink.handler.parsed()[0]
    assert msg.get_body(preferencelist=("plain",)).get_content_charset() == "iso-2022-jp"
    assert b"=?ISO-2022-JP?B?" in sink.messages[0][2]
    assert "商品Ａ①" in body_text(msg)                                  # CP50220: ① survives
    assert "注文番号 402853-20260612-0000000002" in str(msg["Subject"])


def _mailing_shops(config: dict) -> list[dict]:
    return [s for s in config["shop"] if "mail" in s]


def _ship(site: MailSite, o: SampleOrder, ship_date: str = "2026/06/13") -> None:
    site.ship(o, ship_date)


def test_shipment_mail_carries_the_tracking_number_link_and_an_escaped_html_part(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(3, ship_to=Person("<b>山田</b> 花子", "530-0001", "大阪府大阪市北区梅田1-1-1", "06-1234-5678", ""))
    _ship(site, o)
    site.send()
    shipment = [m for m in sink.handler.parsed() if "発送しました" in m["Subject"]]
    assert len(shipment) == 1
    msg = shipment[0]
    assert msg.get_content_type() == "multipart/alternative"
    text = body_text(msg)
    assert mod7("12345678901") in text and "ヤマト運輸" in text
    assert f"https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number00=1&number01={mod7('12345678901')}" in text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;山田&lt;/b&gt;" in html and "<b>山田</b>" not in html


def test_no_backfill_a_stage_enabled_later_mails_only_orders_that_reach_it_afterwards(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port, stages={"purchase": {"statuses": ["new", "confirm"]}})
    _ship(site, order(4))
    site.send()

    def enable_shipment_and_post_purchase(config):
        for s in _mailing_shops(config):
            s["mail"].update(shipment={}, post_purchase={"days": 0})
    site.edit(enable_shipment_and_post_purchase)
    _ship(site, order(5), ship_date=datetime.now(JST).strftime("%Y/%m/%d"))
    site.send()
    stages = sorted((r["order_no"][-1], r["stage"]) for r in site.log())
    assert stages == [("4", "purchase"), ("5", "post_purchase"), ("5", "purchase"), ("5", "shipment")]


def test_an_old_ship_date_gets_no_post_purchase_mail(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    _ship(site, order(6), ship_date="2020/01/10")
    assert [r["stage"] for r in site.log()] == ["purchase", "shipment"]


def test_post_purchase_waits_its_days(tmp_path, capsys, sink, later):
    site = MailSite(tmp_path, capsys, sink.port)
    _ship(site, order(7), ship_date=datetime.now(JST).strftime("%Y/%m/%d"))
    site.send()
    # the order shipped before any mail went: its purchase mail is skipped (purchase.skip_after_shipment)
    assert {r["stage"]: r["state"] for r in site.log()} == {"purchase": "cancelled", "shipment": "sent",
                                                            "post_purchase": "queued"}
    later(timedelta(days=7, minutes=1))
    site.send()
    assert {r["stage"]: r["state"] for r in site.log()}["post_purchase"] == "sent"
    assert "レビュー" in body_text(sink.handler.parsed()[-1])


def test_a_temporary_refusal_is_retried_with_back_off_and_sent_once(tmp_path, capsys, later):
    sink = Sink(tempfails=2).start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        site.mail_order(order(8))
        site.send()
        [entry] = site.log()
        assert entry["state"] == "queued" and entry["attempts"] == 1 and entry["answer"].startswith("451")
        assert entry["due_at"] > datetime.now(JST).isoformat()            # backed off
        for _ in range(2):
            later(timedelta(hours=1, seconds=1))      # the longest back-off
            site.send()
        assert site.log()[0]["state"] == "sent" and len(sink.messages) == 1
    finally:
        sink.stop()


def test_a_permanent_refusal_rejects_the_mail(tmp_path, capsys):
    sink = Sink(mode="reject").start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        site.mail_order(order(9))
        site.send()
        [entry] = site.log()
        assert entry["state"] == "rejected" and entry["answer"].startswith("550")
    finally:
        sink.stop()


def test_a_connection_dropped_after_data_leaves_the_mail_uncertain_and_not_resent(tmp_path, capsys):
    sink = Sink(mode="drop").start()
    try:
        site = MailSite(tmp_path, capsys, sink.port)
        site.mail_order(order(10))
        site.send()
        site.send()
        assert len(sink.messages) == 1
        [entry] = site.log("--uncertain")
        assert entry["state"] == "uncertain" and "no answer" in entry["answer"]
    finally:
        sink.stop()


def test_a_crash_while_handing_over_leaves_it_uncertain_at_start_up(tmp_path, capsys, sink):
    from tsunagi.outbound import mailer as mailer_mod
    site = MailSite(tmp_path, capsys, sink.port)
    site.mail_order(order(11))
    with site.store.transaction() as tx:
        tx.run("UPDATE mails SET state = 'sending'")        # as a SIGKILL mid-hand-over leaves it
    assert mailer_mod.recover(site.store) == 1
    assert site.send() == 0 and sink.messages == []
    assert site.log("--uncertain")[0]["state"] == "uncertain"


def test_a_bad_buyer_address_is_rejected_with_the_reason(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(12, buyer=Person("山田", "100-0001", "東京都千代田区", "03-1234-5678", "taro@@example"))
    site.mail_order(o)
    site.send()
    [entry] = site.log()
    assert entry["state"] == "rejected" and "メールアドレスが正しくありません" in entry["answer"] and sink.messages == []


def test_a_name_with_line_breaks_never_makes_a_header(tmp_path, capsys, sink):
    from tsunagi.outbound.mailbuild import Outgoing, build
    data, _ = build(Outgoing("件名\r\nBcc: evil@example.com", "本文", None, "店\r\nX-Evil: 1", "shop@example.jp",
                             "taro@example.jp"), "<1@x>")
    head = data.split(b"\r\n\r\n")[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Evil:" not in head
    with pytest.raises(ValueError):
        build(Outgoing("s", "b", None, "n", "shop@example.jp", "taro@example.jp\r\nBcc: evil@example.com"), "<2@x>")


def test_a_cancelled_order_gets_no_further_mails(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(13)
    site.mail_order(o)
    (tmp_path / "c.csv").write_bytes(order_csv("ec-cube", [o], status="キャンセル"))
    site.cli("import", str(tmp_path / "c.csv"), "--shop", "ec")
    site.send()
    assert site.log()[0]["state"] == "cancelled" and sink.messages == []


def test_resend_to_a_corrected_address_is_recorded_as_a_resend(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(14)
    site.mail_order(o)
    site.send()
    assert site.cli("mail", "resend", "ec", o.order_no, "purchase", "--to", "taro.new@example.jp") == 0
    site.send()
    log = site.log()
    assert [(r["state"], r["resend"], r["to"]) for r in log] == [("sent", 0, ""), ("sent", 1, "taro.new@example.jp")]
    assert sink.messages[1][1] == ["taro.new@example.jp"]


def test_preview_prints_the_rendered_mail(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    site.mail_order(order(15))
    capsys.readouterr()
    assert site.cli("mail", "preview", "ec", order(15).order_no, "purchase") == 0
    out = capsys.readouterr().out
    assert "Subject: 【テスト自社サイト】ご注文ありがとうございます" in out and "山田太郎 様" in out


def test_a_shops_template_with_a_missing_variable_fails_check(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    folder = tmp_path / "my-templates"
    folder.mkdir()
    (folder / "purchase.subject.txt").write_text("{{ shop.name }} {{ order.coupon_code }}", encoding="utf-8")

    def use_my_templates(config):
        for s in _mailing_shops(config):
            s["mail"]["template_dir"] = "my-templates"
    edit_config(site.config_path, use_my_templates)            # no reload: check reads the file itself
    capsys.readouterr()
    assert site.cli("check") == 1
    assert "mail purchase" in capsys.readouterr().err and "coupon_code" in capsys.readouterr().err + "coupon_code"
    (folder / "purchase.subject.txt").write_text("{{ shop.name }}より ご注文 {{ order.order_no }}", encoding="utf-8")
    assert site.cli("check") == 0


def test_a_failing_relay_never_blocks_intake(tmp_path, capsys):
    site = MailSite(tmp_path, capsys, free_port())           # nothing listens there
    for n in (16, 17):
        site.mail_order(order(n))
    assert site.send() == 0
    assert site.store.read().value("SELECT COUNT(*) FROM orders") == 2
    assert {r["state"] for r in site.log()} == {"queued"}
    assert all("connect" in r["answer"] or "refused" in r["answer"].lower() for r in site.log())


def test_operator_alerts_come_as_one_digest_with_the_command_that_shows_more(tmp_path, capsys, sink):
    site = MailSite(tmp_path, capsys, sink.port)
    site.edit(lambda config: config.update(alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp",
                                                   "digest_minutes": 15}))
    (tmp_path / "bad.csv").write_bytes("注文番号,注文日時\r\n1,2024/4/1\r\n".encode("cp932"))
    from tsunagi.app.wiring import open_parts
    spool, store, pipeline = open_parts(site.cfg)
    item = spool.put((tmp_path / "bad.csv").read_bytes(), {"source": "drop", "kind": "csv", "shop": "rakuten", "file": "bad.csv"}, ".csv")
    pipeline.process(item.id)
    site.mail_order(SampleOrder("402853-20260612-0000000099", [Item("no-such", "謎", 1, 100)], buyer=order(1).buyer))
    hold = "tsunagi order ec 402853-20260612-0000000099"
    alerts = wiring.alerts(site.cfg, store, spool.dir("outbox"))
    alerts.collect()
    assert alerts.flush() is True and alerts.flush() is False      # at most one digest per period
    digest = [m for m in sink.handler.parsed() if m["To"] == "ops@example.jp"]
    assert len(digest) == 1 and "2 件のお知らせ" in digest[0]["Subject"]
    text = body_text(digest[0])
    assert f"tsunagi spool show {item.id}" in text and hold in text


def test_a_relay_or_endpoint_failing_too_long_and_an_undelivered_feed_are_alerted_once(tmp_path, capsys, sink):
    import os
    import time as time_mod
    site = MailSite(tmp_path, capsys, sink.port)
    site.edit(lambda config: config.update(alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp",
                                                   "failing_minutes": 0, "feed_stale_minutes": 0}))
    from tsunagi.app.wiring import open_parts
    spool, store, _ = open_parts(site.cfg)
    alerts = wiring.alerts(site.cfg, store, spool.dir("outbox"))
    alerts.pushed = {"rakuten"}
    ready = spool.dir("outbox") / "rakuten" / "ready"
    ready.mkdir(parents=True)
    (ready / "rakuten-stock-1.csv").write_text("x")
    os.utime(ready / "rakuten-stock-1.csv", (time_mod.time() - 120, time_mod.time() - 120))
    for _ in range(2):
        alerts.failed("SFTP rms", "connection refused", "tsunagi sftp run rms")
        alerts.collect()
    assert alerts.flush(force=True)
    text = body_text([m for m in sink.handler.parsed() if m["To"] == "ops@example.jp"][0])
    assert text.count("SFTP rms が") == 1 and "tsunagi sftp run rms" in text
    assert "rakuten へのファイルが" in text and "rakuten-stock-1.csv" in text
    alerts.recovered("SFTP rms")
    assert not alerts.failing


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mails_go_through_a_relay_speaking_tls_whose_certificate_is_verified(tmp_path, capsys, security):
    relay = Sink(tls=security, cert_dir=tmp_path).start()
    try:
        site = MailSite(tmp_path, capsys, relay.port, relay={"security": security, "ca_file": "relay-cert.pem"})
        site.mail_order(order(40))
        site.send()
        assert site.log()[0]["state"] == "sent" and len(relay.messages) == 1
    finally:
        relay.stop()


def test_a_relay_whose_certificate_is_not_trusted_is_not_sent_to(tmp_path, capsys):
    relay = Sink(tls="starttls", cert_dir=tmp_path).start()
    try:
        site = MailSite(tmp_path, capsys, relay.port, relay={"security": "starttls"})
        site.mail_order(order(41))
        site.send()
        entry = site.log()[0]
        assert entry["state"] == "queued" and "certificate" in entry["answer"].lower() and relay.messages == []
    finally:
        relay.stop()


def test_a_mail_waits_for_the_buyer_address_the_order_csv_brings(tmp_path, capsys, sink, later):
    site = MailSite(tmp_path, capsys, sink.port)
    o = order(50)
    path = tmp_path / "r.eml"
    path.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))         # Rakuten's order mail carries no address
    assert site.cli("ingest", str(path), "--shop", "rakuten") == 0
    site.send()
    [entry] = site.log()
    assert entry["state"] == "queued" and "メールアドレス待ち" in entry["answer"] and sink.messages == []
    (tmp_path / "o.csv").write_bytes(order_csv("rakuten-rms", [o]))
    assert site.cli("import", str(tmp_path / "o.csv"), "--shop", "rakuten") == 0
    later(timedelta(minutes=10, seconds=1))        # the next look for the address
    site.send()
    assert site.log()[0]["state"] == "sent" and sink.messages[0][1] == ["taro@example.jp"]


def test_a_mail_whose_buyer_address_never_comes_is_rejected_after_a_day(tmp_path, capsys, sink, later):
    site = MailSite(tmp_path, capsys, sink.port)
    path = tmp_path / "r.eml"
    path.write_bytes(order_mail("rakuten", order(51), RAKUTEN_TO))
    assert site.cli("ingest", str(path), "--shop", "rakuten") == 0
    site.send()
    later(timedelta(hours=24, minutes=11))
    site.send()
    [entry] = site.log()
    assert entry["state"] == "rejected" and "メールアドレス" in entry["answer"] and sink.messages == []


def _states(site: MailSite) -> list[str]:
    return [r["state"] for r in site.log()]


def _retry(site: MailSite, *args: str) -> str:
    site.capsys.readouterr()
    assert site.cli("mail", "retry", "--failed", *args) == 0
    return site.capsys.readouterr().out.strip()


def test_a_relay_down_for_hours_keeps_mails_queued_and_they_go_once_each_when_it_returns(tmp_path, capsys, later):
    relay = Sink()                                  # its port, with nothing listening yet
    site = MailSite(tmp_path, capsys, relay.port)
    for n in (60, 61):
        site.mail_order(order(n))
    site.send()
    for _ in range(6):                              # six hours down: past the two hours that used to fail them
        later(timedelta(hours=1, seconds=1))
        site.send()
    assert _states(site) == ["queued", "queued"] and all(r["attempts"] == 7 for r in site.log())
    relay.start()
    try:
        later(timedelta(hours=1, seconds=1))
        site.send()
        site.send()
        assert _states(site) == ["sent", "sent"] and len(relay.messages) == 2
    finally:
        relay.stop()


def test_after_give_up_hours_mails_fail_and_retry_failed_queues_each_once(tmp_path, capsys, later):
    relay = Sink()
    site = MailSite(tmp_path, capsys, relay.port)
    for n in (62, 63):
        site.mail_order(order(n))
    site.send()
    later(timedelta(hours=71))
    site.send()
    assert _states(site) == ["queued", "queued"]
    later(timedelta(hours=1, seconds=1))            # 72 hours since the first failure (relay.give_up_hours)
    site.send()
    assert _states(site) == ["failed", "failed"]
    assert _retry(site).startswith("2 failed mails queued again")
    assert _retry(site).startswith("0 failed mails queued again")
    relay.start()
    try:
        site.send()
        assert _states(site) == ["sent", "sent"] and len(relay.messages) == 2
        assert _retry(site).startswith("0 ") and site.send() == 0 and len(relay.messages) == 2
    finally:
        relay.stop()


def test_retry_failed_narrows_to_a_shop_and_a_date_and_leaves_a_mail_resent_meanwhile(tmp_path, capsys, later):
    from tsunagi.common import clock
    relay = Sink()
    site = MailSite(tmp_path, capsys, relay.port, relay={"give_up_hours": 0.5})
    for n in (64, 65):
        site.mail_order(order(n))
    site.send()
    later(timedelta(minutes=31))
    site.send()
    assert _states(site) == ["failed", "failed"]
    assert _retry(site, "--shop", "rakuten").startswith("0 ")
    assert _retry(site, "--since", (clock.today() + timedelta(days=1)).isoformat()).startswith("0 ")
    assert site.cli("mail", "resend", "ec", order(64).order_no, "purchase") == 0     # one by one, as before
    relay.start()
    try:
        site.send()
        assert _retry(site, "--shop", "ec", "--since", clock.today().isoformat()).startswith("1 ")
        site.send()
        sent = sorted(str(m["Subject"])[-11:-1] for m in relay.handler.parsed())
        assert sent == ["0000000064", "0000000065"] and _states(site) == ["failed", "sent", "sent"]
    finally:
        relay.stop()


def test_a_sent_mail_is_dated_in_jst_by_the_one_clock(tmp_path, capsys, sink, later):
    from email.utils import parsedate_to_datetime
    from tsunagi.common import clock
    site = MailSite(tmp_path, capsys, sink.port)
    later(timedelta(days=400))
    site.mail_order(order(80))
    site.send()
    date = sink.handler.parsed()[0]["Date"]
    assert date.endswith("+0900")
    assert abs(parsedate_to_datetime(date) - clock.now()) < timedelta(minutes=5)
