"""Bad input over real SMTP: each ends in failed/ or on hold with a clear reason; the daemon goes on."""
from __future__ import annotations

import base64


from tests.support.configs import RAKUTEN_TO
from tsunagi.demo.mails import Item, SampleOrder, build_mail, order_mail, rakuten_body
from tsunagi.oms import queries, stock

GOOD = SampleOrder("402853-20260612-0000000100", [Item("item-a", "商品A", 1, 1000)])
SUBJECT = "【楽天市場】注文内容ご確認（自動配信メール）"
SENDER = "楽天市場 <order@rakuten.co.jp>"


def good(order_no: str) -> bytes:
    return order_mail("rakuten", SampleOrder(order_no, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO)


def corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (raw mail, what the reason must say)."""
    body = rakuten_body(GOOD)
    b64 = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    heads = (f"From: order@rakuten.co.jp\r\nTo: {RAKUTEN_TO}\r\nSubject: =?UTF-8?B?"
             + base64.b64encode(SUBJECT.encode()).decode() + "?=\r\nMIME-Version: 1.0\r\n")
    no_number = SampleOrder("", GOOD.items)
    bad_total = SampleOrder("402853-20260612-0000000102", GOOD.items, total_override=123)
    return {
        "broken MIME (no closing boundary, garbage parts)": (
            (heads + 'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n'
             "\r\n\x00\x01garbage\r\n--zz\r\nContent-Type: \r\n").encode("latin-1"), "order_no not found"),
        "truncated base64": (
            (heads + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
            + b64[: len(b64) // 3], "not found"),
        "no order number": (order_mail("rakuten", no_number, RAKUTEN_TO), "order_no not found"),
        "a total that does not add up": (order_mail("rakuten", bad_total, RAKUTEN_TO), "total is 123"),
        "5 MB attachment, no order in it": (five_mb_attachment(), "no order spec"),
        # A subject carrying CR LF in an encoded word must not become a header, nor an order.
        "header injection in the subject": (
            build_mail(rakuten_body(SampleOrder("402853-20260612-0000000104", GOOD.items, total_override=7)),
                       SUBJECT + "\r\nBcc: victim@example.jp", SENDER, RAKUTEN_TO), "total is 7"),
        "wrong charset label (says ISO-8859-1, is CP932)": (
            (heads + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
            + base64.encodebytes(rakuten_body(SampleOrder("402853-20260612-0000000105", GOOD.items, total_override=1))
                                 .encode("cp932")), "total is 1"),
        "bounce": (good("402853-20260612-0000000106"), "bounce"),
        "auto-reply": (order_mail("rakuten", GOOD, RAKUTEN_TO, extra_headers={"Auto-Submitted": "auto-replied"}),
                       "auto-reply"),
    }


def five_mb_attachment() -> bytes:
    payload = base64.encodebytes(b"\x89PNG" + b"\x00" * (5 * 1024 * 1024)).replace(b"\n", b"\r\n")
    return (f"From: someone@example.jp\r\nTo: {RAKUTEN_TO}\r\nSubject: photo\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
            '--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="a.png"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + payload + b"\r\n--b--\r\n"


def test_every_bad_mail_is_quarantined_with_its_reason_and_the_daemon_keeps_serving(running):
    cases = corpus()
    for name, (raw, _) in cases.items():
        sender = "" if name == "bounce" else "order@rakuten.co.jp"
        running.send(raw, sender=sender)
    running.send(good("402853-20260612-0000000199"))  # the daemon still serves after all of it
    running.wait_idle(timeout=60)
    reasons = running.failed()
    assert len(reasons) == len(cases), [r["message"] for r in reasons]
    messages = " | ".join(r["message"] for r in reasons)
    for name, (_, expected) in cases.items():
        assert expected in messages, f"{name}: no reason saying {expected!r} in {messages}"
    for r in reasons:
        assert r["stage"] and r["kind"] and r["message"] and r["shop"] == "rakuten"
        assert (running.spool.dir("failed") / f"{r['id']}.eml").exists()  # nothing lost
    tx = running.store.read()
    assert [r[0] for r in tx.all("SELECT order_no FROM orders")] == ["402853-20260612-0000000199"]
    assert {r["sku"]: r["reserved"] for r in stock.rows(tx)}["item-a"] == 1  # nothing half-applied


def test_not_an_order_mails_are_counted_by_kind(running, capsys):
    running.send(good("402853-20260612-0000000300"), sender="")
    running.wait_idle()
    assert running.cli("spool", "list") == 0
    assert "not_an_order: 1" in capsys.readouterr().out


def test_an_unknown_sku_puts_the_order_on_hold_with_the_code(running):
    running.send(order_mail("rakuten", SampleOrder("402853-20260612-0000000400", [Item("zz-9", "謎", 1, 100)]),
                            RAKUTEN_TO))
    running.wait_idle()
    tx = running.store.read()
    view = queries.order_view(tx, queries.find_order(tx, "rakuten", "402853-20260612-0000000400"))
    assert view["status"] == "hold" and "zz-9" in view["hold_reason"]
    assert view["reserved"] == []


def test_a_fixed_spec_or_master_lets_spool_retry_apply_the_item(running, capsys):
    o = SampleOrder("402853-20260612-0000000500", [Item("item-a", "商品A", 1, 1000)], total_override=5)
    running.send(order_mail("rakuten", o, RAKUTEN_TO))
    running.wait_idle()
    (reason,) = running.failed()
    assert reason["field"] == "total"
    # The operator corrects the file (here: the total) and runs it again.
    path = running.spool.dir("failed") / f"{reason['id']}.eml"
    fixed = order_mail("rakuten", SampleOrder(o.order_no, o.items), RAKUTEN_TO)
    path.write_bytes(fixed)
    import hashlib, json
    meta_path = running.spool.dir("failed") / f"{reason['id']}.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(fixed).hexdigest()
    meta_path.write_text(json.dumps(meta))
    assert running.cli("spool", "retry", reason["id"]) == 0
    running.daemon.items.put([reason["id"]])
    running.wait_idle()
    assert queries.find_order(running.store.read(), "rakuten", o.order_no)
    assert not running.failed()


def test_a_spool_file_changed_on_disk_is_refused_as_corrupt(running):
    running.daemon.stop()
    running.thread.join(timeout=15)
    item = running.spool.put(good("402853-20260612-0000000600"), {"kind": "order_mail", "shop": "rakuten"})
    item.data_path.write_bytes(b"tampered")
    from tsunagi.app.wiring import open_parts
    _, _, pipeline = open_parts(running.cfg)
    assert pipeline.process(item.id) == "corrupt"
    assert running.failed()[0]["kind"] == "corrupt"
