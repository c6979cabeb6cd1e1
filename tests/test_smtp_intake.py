"""The real SMTP receiver on loopback, driven by smtplib and by swaks."""
from __future__ import annotations

import json
import shutil
import smtplib
import subprocess

import pytest

from tests.support.configs import EC_TO, RAKUTEN_TO, YAHOO_TO, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import queries, stock


def rakuten(order_no="402853-20260612-0000000001", items=None) -> bytes:
    return order_mail("rakuten", SampleOrder(order_no, items or [Item("item-a", "商品A", 2, 1000)]), RAKUTEN_TO)


def test_an_order_mail_becomes_a_new_order_that_reserves_stock(running):
    running.send(rakuten())
    running.wait_idle()
    tx = running.store.read()
    view = queries.order_view(tx, queries.find_order(tx, "rakuten", "402853-20260612-0000000001"))
    assert view["status"] == "new" and view["status_label"] == "新規受付"
    assert view["lines"][0]["sku"] == "item-a" and view["lines"][0]["qty"] == 2
    assert {r["sku"]: r for r in stock.rows(tx)}["item-a"] == {"sku": "item-a", "on_hand": 10, "reserved": 2, "free": 8}


def test_250_comes_only_after_the_mail_and_its_meta_are_in_the_spool(running):
    running.daemon.items.put([])  # keep the pipeline busy-free; we inspect the spool right after 250
    raw = rakuten()
    running.send(raw)
    # Right after 250 the item exists durably, in new/, cur/ or done/ — never only in tmp/. (Looked for a
    # few times: the pipeline may be moving it from one folder to the next between two looks.)
    def spooled():
        for pattern in ("new/*.meta.json", "cur/*.meta.json", "done/*/*.meta.json"):
            for path in running.spool.root.glob(pattern):
                try:
                    return json.loads(path.read_text(encoding="utf-8"))
                except FileNotFoundError:      # moved on between the glob and the read: look again
                    continue
        return None
    meta = wait_for(spooled, timeout=1)
    assert meta["shop"] == "rakuten" and meta["rcpt_tos"] == [RAKUTEN_TO]
    assert meta["mail_from"] == "cart@example.jp" and meta["peer"] == "127.0.0.1"
    import hashlib
    assert meta["sha256"] == hashlib.sha256(raw).hexdigest()
    assert not list(running.spool.dir("tmp").iterdir())


def test_an_unknown_recipient_is_refused_with_550(running):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        running.send(rakuten(), rcpt="nobody@orders.example.jp")
    assert err.value.recipients["nobody@orders.example.jp"][0] == 550


def test_a_mail_over_the_size_limit_is_refused_with_552(tmp_path):
    path = write_config(tmp_path, smtp={"max_message_bytes": 50_000})
    seed(path)
    r = Running(path)
    big = rakuten() + b"x" * 76 + (b"\r\n" + b"x" * 76) * 800
    try:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:   # SIZE declared at MAIL FROM
            r.send(big)
        assert err.value.smtp_code == 552
        with smtplib.SMTP("127.0.0.1", r.port) as smtp:         # no SIZE declared: refused after DATA
            smtp.ehlo()
            assert smtp.mail("cart@example.jp")[0] == 250
            assert smtp.rcpt(RAKUTEN_TO)[0] == 250
            assert smtp.data(big)[0] == 552
        assert not r.spool.waiting() and not r.failed()
    finally:
        r.stop()


def test_smtputf8_and_8bitmime_are_offered_and_accepted(running):
    with smtplib.SMTP("127.0.0.1", running.port) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8") and smtp.has_extn("8bitmime")
        raw = order_mail("rakuten", SampleOrder("402853-20260612-0000000002", [Item("item-a", "商品A", 1, 1000)]),
                         RAKUTEN_TO, cte="8bit")
        smtp.sendmail("注文@example.jp", [RAKUTEN_TO], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    running.wait_idle()
    assert queries.find_order(running.store.read(), "rakuten", "402853-20260612-0000000002")


def test_the_same_mail_sent_twice_makes_one_order_and_one_reservation(running):
    raw = rakuten()
    running.send(raw)
    running.send(raw)
    running.wait_idle()
    tx = running.store.read()
    assert tx.value("SELECT COUNT(*) FROM orders") == 1
    assert {r["sku"]: r["reserved"] for r in stock.rows(tx)}["item-a"] == 2


def test_a_re_sent_copy_with_new_headers_updates_and_never_reserves_twice(running):
    running.send(rakuten())
    running.send(order_mail("rakuten", SampleOrder("402853-20260612-0000000001", [Item("item-a", "商品A", 2, 1000)]),
                            RAKUTEN_TO, charset="iso-2022-jp", cte="7bit"))
    running.wait_idle()
    tx = running.store.read()
    assert tx.value("SELECT COUNT(*) FROM orders") == 1
    assert {r["sku"]: r["reserved"] for r in stock.rows(tx)}["item-a"] == 2


def test_each_shop_gets_its_own_mail_by_recipient(running):
    running.send(order_mail("yahoo", SampleOrder("store-1", [Item("item-b", "B", 1, 100)]), YAHOO_TO), rcpt=YAHOO_TO)
    running.send(order_mail("ec-cube", SampleOrder("77", [Item("item-c", "C", 1, 100)]), EC_TO), rcpt=EC_TO)
    running.wait_idle()
    tx = running.store.read()
    assert queries.find_order(tx, "yahoo", "store-1") and queries.find_order(tx, "ec", "77")


def test_swaks_delivers_an_order_mail(running, tmp_path):
    swaks = shutil.which("swaks")
    assert swaks, "swaks is installed by .ci/run"
    eml = tmp_path / "order.eml"
    eml.write_bytes(rakuten("402853-20260612-0000000003"))
    out = subprocess.run([swaks, "--server", f"127.0.0.1:{running.port}", "--from", "cart@example.jp",
                          "--to", RAKUTEN_TO, "--data", f"@{eml}", "--suppress-data"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "250 2.0.0 OK queued as" in out.stdout
    running.wait_idle()
    assert queries.find_order(running.store.read(), "rakuten", "402853-20260612-0000000003")


def test_swaks_to_an_unknown_recipient_gets_550(running):
    out = subprocess.run([shutil.which("swaks"), "--server", f"127.0.0.1:{running.port}", "--from", "a@b.jp",
                          "--to", "nobody@orders.example.jp"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "550 5.1.1" in out.stdout


def test_a_stock_feed_file_follows_an_order_within_a_second(running):
    [initial] = wait_for(lambda: list(running.spool.dir("outbox").glob("yahoo/ready/*")))  # the initial feed
    (running.spool.dir("outbox") / "yahoo" / "sent").mkdir(exist_ok=True)
    initial.rename(running.spool.dir("outbox") / "yahoo" / "sent" / initial.name)    # as a push does
    before = set(running.spool.dir("outbox").glob("yahoo/ready/*"))
    running.send(rakuten(items=[Item("item-a", "商品A", 6, 1000)]))
    new = wait_for(lambda: set(running.spool.dir("outbox").glob("yahoo/ready/*")) - before, timeout=2)
    text = next(iter(new)).read_bytes().decode("cp932")
    lines = text.split("\r\n")
    assert lines[0] == "code,sub-code,quantity,mode,allow-overdraft,stock-close"
    # Only what changed: item-a (10 - 6 - safety 1 = 3) and the set holding it (min(3, 9 // 2) = 3,
    # was 4); item-b and item-c did not change and are not in the file.
    assert sorted(lines[1:-1]) == ["item-a,,3,,0,", "set-ab,,3,,0,"]


def test_a_re_delivered_mail_is_filed_as_a_duplicate_without_being_parsed_again(running):
    raw = rakuten()
    running.send(raw)
    running.wait_idle()
    running.daemon.stop()
    running.thread.join(timeout=15)
    from tsunagi.app.wiring import open_parts
    _, _, pipeline = open_parts(running.cfg)
    pipeline.shop_specs = {}  # were it parsed again, the shop would be unknown and it would fail
    item = running.spool.put(raw, {"kind": "order_mail", "shop": "rakuten"})
    assert pipeline.process(item.id) == "duplicate (already applied)"
    assert not running.failed()


def test_a_mail_with_bare_line_feeds_and_long_lines_is_taken_byte_for_byte(running):
    raw = b"From: order@rakuten.co.jp\nSubject: bare\n\n" + (b"x" * 3000 + b"\n") * 10 + b"end\n"
    running.send(raw)
    running.wait_idle()
    [meta] = [json.loads(p.read_text(encoding="utf-8")) for p in running.spool.root.glob("*/*/*.meta.json")] or \
        [json.loads(p.read_text(encoding="utf-8")) for p in running.spool.root.glob("*/*.meta.json")]
    import hashlib
    assert meta["sha256"] == hashlib.sha256(raw + b"\r\n").hexdigest()      # smtplib ends the data with CRLF
