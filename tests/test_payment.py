"""Payment: pay-first orders wait in 入金待ち with their stock and no label until their payment is confirmed by
hand or by a bank or settlement file; what matches nothing is listed; unpaid orders are reminded and cancelled."""
from __future__ import annotations

import getpass
from datetime import timedelta

import pytest

from tests.support.configs import shop
from tests.support.daemon import Running, wait_for
from tests.support.sinks import Sink
from tests.support.sites import ShipSite, mail_table, mod7, order
from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.demo.mails import Person
from tsunagi.oms.store import Store

GENERIC = "date,amount,payer_kana,reference\r\n"


def paid_by_transfer(n: int, **kw):
    """Rakuten order n paid by bank transfer: 1,000円 of 商品A and 500円 shipping, 1,500円."""
    return order(n, payment="銀行振込", **kw)


def reserved(site: ShipSite, o) -> int:
    return Store(site.folder / "var" / "tsunagi.db").read().value(
        "SELECT COALESCE(SUM(r.qty), 0) FROM reservations r JOIN orders o ON o.id = r.order_id "
        "WHERE o.order_no = ?", o.order_no)


def notes(site: ShipSite, o) -> str:
    store = Store(site.folder / "var" / "tsunagi.db").read()
    return "\n".join(r[0] for r in store.all(
        "SELECT h.note FROM order_history h JOIN orders o ON o.id = h.order_id WHERE o.order_no = ? ORDER BY h.id",
        o.order_no))


def import_payments(site: ShipSite, text: str, *layout: str, name: str = "payments.csv",
                    encoding: str = "cp932") -> int:
    (site.folder / name).write_bytes(text.encode(encoding))
    site.capsys.readouterr()
    return site.cli("payment", "import", str(site.folder / name), *(["--layout", *layout] if layout else []))


def unmatched(site: ShipSite) -> str:
    site.capsys.readouterr()
    assert site.cli("payment", "unmatched") == 0
    return site.capsys.readouterr().out


def test_a_bank_transfer_order_waits_in_payment_with_its_stock_and_gets_no_label(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(1)
    site.orders_csv([o])
    assert site.status(o) == "payment"
    assert reserved(site, o) == 1
    assert site.export() == []


def test_common_payment_names_map_without_configuration(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    later_pay, convenience, payeasy = order(2, payment="後払い"), order(3, payment="コンビニ決済(前払い)"), \
        order(4, payment="Pay-easy")
    site.orders_csv([later_pay, convenience, payeasy])
    assert [site.status(o) for o in (later_pay, convenience, payeasy)] == ["ready", "payment", "payment"]


def test_the_shops_mapping_overrides_the_common_names(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda data: shop(data, "rakuten")["shipping"]["payment"].update({"銀行振込": "prepaid"}))
    o = paid_by_transfer(5)
    site.orders_csv([o])
    assert site.status(o) == "ready"


def test_confirming_a_payment_moves_the_order_on_to_its_label_with_who_did_it(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(6)
    site.orders_csv([o])
    assert site.cli("payment", "confirm", "rakuten", o.order_no, "--amount", "1500", "--date", "2026-06-14") == 0
    assert site.status(o) == "ready"
    assert "入金確認 1,500円 (2026-06-14)" in notes(site, o) and f"操作: {getpass.getuser()}" in notes(site, o)
    [label] = site.export()
    assert o.order_no in label.read_bytes().decode("cp932")


def test_confirming_an_order_not_awaiting_payment_is_refused_in_one_line(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = order(7)                      # クレジットカード: 印刷待ち at once
    site.orders_csv([o])
    capsys.readouterr()
    assert site.cli("payment", "confirm", "rakuten", o.order_no) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "入金待ちではありません" in err and "印刷待ち" in err
    assert site.status(o) == "ready" and "入金確認" not in notes(site, o)


def test_a_confirmed_amount_short_of_the_total_is_refused(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(8)
    site.orders_csv([o])
    capsys.readouterr()
    assert site.cli("payment", "confirm", "rakuten", o.order_no, "--amount", "1000") == 2
    assert "足りません" in capsys.readouterr().err
    assert site.status(o) == "payment"


def test_a_confirmed_amount_of_many_digits_is_refused_naming_the_limit(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(8)
    site.orders_csv([o])
    capsys.readouterr()
    assert site.cli("payment", "confirm", "rakuten", o.order_no, "--amount", "9" * 25) == 2
    assert f"--amount {'9' * 25} is too large" in capsys.readouterr().err
    assert site.status(o) == "payment"


def test_a_payment_file_confirms_by_the_order_number_the_payer_wrote(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(9)
    site.orders_csv([o])
    assert import_payments(site, GENERIC + f"2026-06-14,1500,ｽｽﾞｷ ｲﾁﾛｳ,{o.order_no}\r\n") == 0
    assert site.status(o) == "ready"
    assert "confirmed 1" in capsys.readouterr().out


def test_a_payment_file_confirms_by_exact_amount_and_the_buyers_kana_as_banks_print_it(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    shota = Person("木戸 翔太", kana="キッド ショウタ")
    o, other = paid_by_transfer(10, buyer=shota), paid_by_transfer(11)
    site.orders_csv([o, other])
    assert import_payments(site, GENERIC + "2026-06-14,1500,ｷﾂﾄﾞ ｼﾖｳﾀ,\r\n") == 0     # no small kana at banks
    assert site.status(o) == "ready" and site.status(other) == "payment"


def test_an_amount_that_matches_two_orders_confirms_neither_and_is_listed_naming_both(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = paid_by_transfer(12), paid_by_transfer(13)          # same buyer, same 1,500円
    site.orders_csv([a, b])
    assert import_payments(site, GENERIC + "2026-06-14,1500,ﾔﾏﾀﾞ ﾀﾛｳ,\r\n") == 0
    out = capsys.readouterr().out
    assert "複数の注文に一致" in out and a.order_no in out and b.order_no in out
    assert site.status(a) == site.status(b) == "payment"
    listed = unmatched(site)
    assert "ambiguous" in listed and a.order_no in listed and b.order_no in listed


def test_partial_over_and_unmatched_payments_are_listed(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    short, over = paid_by_transfer(14), paid_by_transfer(15)
    site.orders_csv([short, over])
    assert import_payments(site, GENERIC + f"2026-06-14,1000,ﾔﾏﾀﾞ ﾀﾛｳ,{short.order_no}\r\n"
                                           f"2026-06-14,2000,ﾔﾏﾀﾞ ﾀﾛｳ,{over.order_no}\r\n"
                                           "2026-06-14,7777,ﾀﾅｶ ﾊﾅｺ,\r\n") == 0
    assert site.status(short) == "payment" and site.status(over) == "ready"
    listed = unmatched(site)
    assert "partial" in listed and "不足 500円" in listed and short.order_no in listed
    assert "over" in listed and "過入金 500円" in listed and over.order_no in listed
    assert "unmatched" in listed and "ﾀﾅｶ ﾊﾅｺ" in listed and "(3 payments)" in listed
    assert import_payments(site, GENERIC + f"2026-06-15,500,ﾔﾏﾀﾞ ﾀﾛｳ,{short.order_no}\r\n", name="rest.csv") == 0
    assert site.status(short) == "ready" and "partial" not in unmatched(site)


def test_a_payment_file_read_twice_confirms_and_records_nothing_more(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(16)
    site.orders_csv([o])
    text = GENERIC + f"2026-06-14,1500,ﾔﾏﾀﾞ ﾀﾛｳ,{o.order_no}\r\n2026-06-14,9999,ﾀﾅｶ ﾊﾅｺ,\r\n"
    assert import_payments(site, text) == 0
    assert import_payments(site, text) == 0
    out = capsys.readouterr().out
    assert "seen 1" in out and "unmatched 1" in out          # the unmatched one is tried again, recorded once
    assert "(1 payments)" in unmatched(site) and notes(site, o).count("入金確認") == 1


def test_a_payment_that_came_before_its_order_is_matched_when_the_order_enters_payment(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(17)
    text = GENERIC + f"2026-06-14,1500,ﾔﾏﾀﾞ ﾀﾛｳ,{o.order_no}\r\n"
    assert import_payments(site, text) == 0
    assert "unmatched" in unmatched(site)
    site.orders_csv([o])
    assert site.status(o) == "ready" and "先に届いた入金" in notes(site, o)
    assert import_payments(site, text) == 0                    # the same file again: seen, nothing more
    assert site.status(o) == "ready" and notes(site, o).count("入金確認") == 1
    assert "unmatched" not in unmatched(site)


def test_a_payment_that_came_while_the_order_was_held_is_matched_when_its_release_lets_it_wait(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda d: shop(d, "rakuten").update(review={"remark": True}))
    kid = Person("木戸 翔太", kana="キッド ショウタ")
    o = paid_by_transfer(18, buyer=kid, note="のしをお願いします")
    site.orders_csv([o])
    assert site.status(o) == "hold"
    assert import_payments(site, GENERIC + "2026-06-14,1500,ｷﾂﾄﾞ ｼﾖｳﾀ,\r\n") == 0   # by amount and kana
    assert "unmatched" in unmatched(site) and site.status(o) == "hold"
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    assert site.status(o) == "ready" and "unmatched" not in unmatched(site)


def test_a_payment_that_came_first_and_fits_two_orders_entering_payment_is_left_for_a_person(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = paid_by_transfer(19), paid_by_transfer(20)       # same buyer, same 1,500円: a payment by name fits both
    assert import_payments(site, GENERIC + "2026-06-15,1500,ﾔﾏﾀﾞ ﾀﾛｳ,\r\n") == 0
    site.orders_csv([a, b])
    assert site.status(a) == site.status(b) == "payment"
    assert "unmatched" in unmatched(site)


def test_malformed_rows_are_refused_one_line_each_and_the_others_applied(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(17)
    site.orders_csv([o])
    assert import_payments(site, GENERIC + "2026-13-40,1500,ﾀﾅｶ,\r\n2026-06-14,abc,ﾀﾅｶ,\r\n"
                                           f"2026-06-14,1500,ﾔﾏﾀﾞ ﾀﾛｳ,{o.order_no}\r\n") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("行 2:") and err[1].startswith("行 3:")
    assert site.status(o) == "ready" and "(0 payments)" in unmatched(site)


def test_an_unknown_layout_is_refused_in_one_line(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    o = paid_by_transfer(18)
    site.orders_csv([o])
    assert import_payments(site, GENERIC + f"2026-06-14,1500,ﾔﾏﾀﾞ ﾀﾛｳ,{o.order_no}\r\n", "mizuho-web") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown payment layout 'mizuho-web'" in err and "zengin" in err
    assert site.status(o) == "payment"


def _zengin_record(*fields: tuple[int, str]) -> bytes:
    """One 200-byte record with these (1-based position, text) fields, spaces elsewhere."""
    record = bytearray(b" " * 200)
    for start, text in fields:
        raw = text.encode("cp932")
        record[start - 1:start - 1 + len(raw)] = raw
    return bytes(record)


def test_a_zengin_statement_confirms_its_deposits_and_skips_withdrawals(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    a, b = paid_by_transfer(19), paid_by_transfer(20, buyer=Person("佐藤 花子", kana="サトウ ハナコ"))
    site.orders_csv([a, b])
    header = _zengin_record((1, "1"), (2, "03"), (3, "0"), (4, "080614"))
    deposit = _zengin_record((1, "2"), (2, "00000001"), (10, "080614"), (16, "080614"), (22, "1"), (23, "11"),
                             (25, "000000001500"), (82, "ｻﾄｳ ﾊﾅｺ"))
    by_number = _zengin_record((1, "2"), (2, "00000002"), (10, "080614"), (16, "080614"), (22, "1"), (23, "11"),
                               (25, "000000001500"), (82, a.order_no.replace("-", "") + " ﾔﾏﾀﾞ ﾀﾛｳ"))
    withdrawal = _zengin_record((1, "2"), (2, "00000003"), (10, "080614"), (22, "2"), (25, "000000001500"),
                                (82, "ﾔﾏﾀﾞ ﾀﾛｳ"))
    trailer, end = _zengin_record((1, "8")), _zengin_record((1, "9"))
    (tmp_path / "zengin.txt").write_bytes(b"".join([header, deposit, by_number, withdrawal, trailer, end]))
    assert site.cli("payment", "import", str(tmp_path / "zengin.txt"), "--layout", "zengin") == 0
    assert site.status(a) == site.status(b) == "ready"
    assert "(2026-06-14)" in notes(site, b) and "(0 payments)" in unmatched(site)


def test_a_warehouse_is_not_instructed_an_unpaid_order(tmp_path, capsys):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda data: data.update(wms=[{"name": "wh", "location": "本店倉庫", "statuses": ["payment", "ready"]}]))
    (tmp_path / "products.csv").write_text("sku,name,components,channel_sku,shop,tags\nitem-a,商品A,,,,wms\n",
                                           encoding="utf-8")
    assert site.cli("products", "import", str(tmp_path / "products.csv")) == 0
    unpaid, by_card = paid_by_transfer(21), order(25)
    site.orders_csv([unpaid, by_card])
    assert site.cli("wms", "send", "wh") == 0
    sent = "".join(p.read_bytes().decode("cp932") for p in (site.spool.dir("outbox") / "wh" / "ready").glob("*"))
    assert by_card.order_no in sent and unpaid.order_no not in sent


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


def _mailing(site: ShipSite, port: int, days: int) -> None:
    def change(data: dict) -> None:
        data["relay"] = {"host": "127.0.0.1", "port": port, "security": "none",
                         "message_id_domain": "mail.tsunagi.example"}
        shop(data, "rakuten")["mail"] = mail_table("utf-8", {"payment_reminder": {"days": days}})
    site.edit(change)


def _send(site: ShipSite) -> int:
    cfg = config_mod.load(site.config_path)
    mailer = wiring.mailer(cfg, Store(cfg.db_path))
    total = 0
    while n := mailer.send_due():
        total += n
    return total


def test_the_payment_reminder_goes_to_a_buyer_unpaid_n_days_and_not_to_one_who_paid(tmp_path, capsys, sink, later):
    site = ShipSite(tmp_path, capsys)
    _mailing(site, sink.port, days=3)
    unpaid, paid = paid_by_transfer(22), paid_by_transfer(23, buyer=Person("佐藤 花子", email="hanako@example.jp"))
    site.orders_csv([unpaid, paid])
    assert site.cli("payment", "confirm", "rakuten", paid.order_no) == 0
    later(timedelta(days=2, hours=23))
    assert _send(site) == 0
    later(timedelta(hours=2))
    assert _send(site) == 1
    [msg] = sink.handler.parsed()
    assert msg["To"] == "taro@example.jp" and "ご入金のお願い" in str(msg["Subject"])
    assert unpaid.order_no in str(msg["Subject"])
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "1,500円" in body and "銀行振込" in body


def published(site: ShipSite, code: str) -> int | None:
    """The latest figure Yahoo's stock feed files published for code (safety stock 1)."""
    figure = None
    for path in sorted((site.spool.dir("outbox") / "yahoo" / "ready").glob("*")):
        for row in path.read_bytes().decode("cp932").split("\r\n")[1:]:
            if row.split(",")[0] == code:
                figure = int(row.split(",")[2])
    return figure


def test_an_unpaid_order_is_cancelled_by_the_daemon_after_m_days_releasing_its_stock_to_the_feeds(tmp_path, capsys, later):
    site = ShipSite(tmp_path, capsys)
    site.edit(lambda data: shop(data, "rakuten")["shipping"].update(unpaid_cancel_days=7))
    o = paid_by_transfer(24)
    site.orders_csv([o])
    assert published(site, "item-a") == 10 - 1 - 1         # 10 in stock, 1 reserved, safety stock 1
    later(timedelta(days=6, hours=23))
    capsys.readouterr()
    assert site.cli("payment", "overdue") == 0 and "(0 cancelled)" in capsys.readouterr().out
    later(timedelta(hours=2))
    running = Running(site.config_path)
    try:
        wait_for(lambda: site.status(o) == "cancelled")
        wait_for(lambda: published(site, "item-a") == 10 - 1)      # the feeds follow the released unit
    finally:
        running.stop()
    assert reserved(site, o) == 0
    assert "入金待ちのまま 7 日を過ぎたため自動キャンセル" in notes(site, o)


def test_a_reminder_sent_never_holds_back_the_shipment_mail_once_the_order_is_paid_and_shipped(tmp_path, capsys, sink,
                                                                                                 later):
    site = ShipSite(tmp_path, capsys)
    _mailing(site, sink.port, days=3)
    site.edit(lambda data: shop(data, "rakuten")["mail"].update(shipment={}))
    o = paid_by_transfer(25)
    site.orders_csv([o])
    later(timedelta(days=3, hours=1))
    assert _send(site) == 1                              # 入金督促
    assert site.cli("payment", "confirm", "rakuten", o.order_no) == 0
    assert len(site.export()) == 1
    oid = Store(site.folder / "var" / "tsunagi.db").read().value("SELECT id FROM orders WHERE order_no = ?", o.order_no)
    assert site.results([f"T{oid:08d},0,0,{mod7('12345678901')},2026/06/16"]) == 0
    assert _send(site) == 1
    subjects = [str(m["Subject"]) for m in sink.handler.parsed()]
    assert "ご入金のお願い" in subjects[0] and "発送" in subjects[1]
