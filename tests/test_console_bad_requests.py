"""Malformed and hostile requests to the console over real HTTP: each gets a clear answer in Japanese (a 4xx the
staff can act on), never a 500 or a traceback, and nothing is changed by them."""
from __future__ import annotations

import socket
import time

from tests.support.console import PASSWORD
from tests.support.daemon import wait_for
from tests.support.forms import multipart, upload

TOO_LONG = "9" * 20          # past what the store's integers hold (2**63 - 1 has 19 digits)


def on_hand(console, sku: str = "item-a") -> int:
    return console.running.store.read().value("SELECT SUM(on_hand) FROM stock WHERE sku = ?", sku)


def test_a_form_sending_its_csrf_token_twice_is_refused(console):
    staff = console.client("staff")
    token = staff.csrf("/stock")
    answer = staff.post("/stock/receive", [("csrf", token), ("csrf", token), ("sku", "item-a"),
                                           ("location", "本店倉庫"), ("qty", "1"), ("reason", "r")])
    assert answer.status == 403 and "フォームの有効期限が切れています" in answer.text
    assert on_hand(console) == 10


def test_a_field_sent_twice_is_refused_not_read_as_one_text(console):
    staff = console.client("staff")
    answer = staff.post("/stock/receive", [("csrf", staff.csrf("/stock")), ("sku", "item-a"), ("sku", "item-b"),
                                           ("location", "本店倉庫"), ("qty", "1"), ("reason", "r")])
    assert answer.status == 400 and "同じ項目 (sku) が 2 回以上送られました" in answer.text
    assert console.running.store.read().value("SELECT SUM(on_hand) FROM stock") == 30


def test_a_csrf_token_sent_as_a_file_is_refused(console):
    staff = console.client("staff")
    body, headers = multipart({"sku": "item-a", "location": "本店倉庫", "qty": "1", "reason": "r"},
                              {"csrf": ("token.txt", staff.csrf("/stock").encode())})
    answer = staff.request("POST", "/stock/receive", body, headers)
    assert answer.status == 403 and "フォームの有効期限が切れています" in answer.text
    assert on_hand(console) == 10


def test_the_login_form_with_its_token_sent_as_a_file_is_refused(console):
    browser = console.client()
    body, headers = multipart({"name": "admin", "password": PASSWORD},
                              {"csrf": ("token.txt", browser.csrf("/login").encode())})
    answer = browser.request("POST", "/login", body, headers)
    assert answer.status == 403 and "フォームの有効期限が切れています" in answer.text


def test_an_order_id_longer_than_the_store_holds_is_no_page(console):
    staff = console.client("staff")
    for path in (f"/orders/{TOO_LONG}", f"/orders/{TOO_LONG}/mail/purchase", f"/mail/{TOO_LONG}"):
        answer = staff.get(path)
        assert answer.status == 404 and "そのページはありません" in answer.text, path


def test_an_action_on_an_order_id_longer_than_the_store_holds_is_no_page(console):
    staff = console.client("staff")
    answer = staff.post(f"/orders/{TOO_LONG}/release", {"csrf": staff.csrf("/orders")})
    assert answer.status == 404 and "そのページはありません" in answer.text


def test_a_page_number_in_other_digits_shows_the_first_page(console):
    answer = console.client("guest").get("/orders?page=%C2%B2")          # ² is a digit to str.isdigit
    assert answer.status == 200 and 'id="total">' in answer.text


def test_a_picking_list_or_delivery_note_for_an_id_the_store_cannot_hold_is_not_found(console):
    guest = console.client("guest")
    for path in ("/shipping/picking", "/shipping/notes"):
        for order in (TOO_LONG, "%C2%B2"):
            answer = guest.get(f"{path}?order={order}")
            assert answer.status == 404 and "その出荷の注文はありません" in answer.text, (path, order)


def test_a_bulk_selection_of_ids_the_store_cannot_hold_asks_for_a_choice(console):
    after = console.client("staff").act("/orders", "/orders/bulk", {"order": [TOO_LONG, "²"], "bulk": "cancel"})
    assert "できませんでした: 注文を選んでください" in after.text


def test_a_quantity_too_large_for_any_shop_is_refused_saying_so(console):
    after = console.client("staff").act("/stock", "/stock/receive", {"sku": "item-a", "location": "本店倉庫",
                                                                     "qty": TOO_LONG, "reason": "r"})
    assert "できませんでした: 数量が大きすぎます" in after.text
    assert on_hand(console) == 10


def test_an_outbox_file_name_with_a_nul_byte_or_too_long_is_not_found(console):
    staff = console.client("staff")
    for path in ("/links/rakuten/ready/a%00b.csv", "/links/rakuten%00/ready/a.csv", "/links/rakuten/ready/" + "x" * 5000):
        answer = staff.get(path)
        assert answer.status == 404 and "ありません" in answer.text, path[:40]


def test_marking_a_file_with_a_nul_byte_sent_is_refused_saying_so(console):
    after = console.client("staff").act("/links", "/links/rakuten/ready/a%00b.csv/sent")
    assert "できませんでした:" in after.text and "ありません" in after.text


def test_an_unknown_page_is_answered_in_japanese(console):
    answer = console.client("guest").get("/no-such-page")
    assert answer.status == 404 and "そのページはありません" in answer.text


def test_a_get_on_an_action_is_answered_in_japanese(console):
    answer = console.client("staff").get("/stock/receive")
    assert answer.status == 405 and "このページではその操作はできません" in answer.text
    assert answer.headers["allow"] == "POST"


def test_a_form_the_console_cannot_read_is_answered_in_japanese(console):
    staff = console.client("staff")
    answer = staff.request("POST", "/stock/receive", b"csrf=x", {"Content-Type": "multipart/form-data"})
    assert answer.status == 400 and "送られたフォームを読めませんでした" in answer.text


def test_a_field_too_large_to_read_is_answered_in_japanese(console):
    staff = console.client("staff")
    body = f"csrf={staff.csrf('/stock')}&reason=".encode() + b"x" * (1024 * 1024 + 10)     # a field over 1 MB
    answer = staff.request("POST", "/stock/receive", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 400 and "送られたフォームを読めませんでした" in answer.text
    assert on_hand(console) == 10


def test_a_stranger_s_post_is_answered_before_its_body_is_read(console):
    """The body promised is never sent: the answer comes at once, so a stranger's upload never reaches the disk."""
    with socket.create_connection(("127.0.0.1", console.port), timeout=5) as sock:
        sock.sendall(b"POST /intake/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                     b"boundary=b0undary\r\nContent-Length: 50000000\r\n\r\n")
        started = time.monotonic()
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 303") and "location: /login" in head.lower()
    assert time.monotonic() - started < 5


COUNTS = "sku,location,lot,qty\nitem-a,予備倉庫,1,7\n".encode()


def counted(console) -> int | None:
    return console.running.store.read().value(
        "SELECT on_hand FROM stock WHERE sku = 'item-a' AND location = '予備倉庫'")


def test_an_upload_whose_file_name_has_a_nul_byte_is_dropped_and_applied(console):
    after = upload(console.client("staff"), "/intake", "/intake/upload", {"target": "rakuten"},
                   {"file": ("counts\x00.csv", COUNTS)})
    assert "rakuten の取込フォルダに置きました" in after.text
    wait_for(lambda: counted(console) == 7)


def test_an_upload_with_a_long_japanese_file_name_is_dropped_and_applied(console):
    name = "在庫数" * 40 + ".csv"          # 360 bytes in UTF-8: more than a file system takes in one name
    after = upload(console.client("staff"), "/intake", "/intake/upload", {"target": "rakuten"},
                   {"file": (name, COUNTS)})
    assert f"{name}: rakuten の取込フォルダに置きました" in after.text
    wait_for(lambda: counted(console) == 7)
