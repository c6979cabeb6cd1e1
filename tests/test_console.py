"""The web console over real HTTP on loopback: logins, sessions, CSRF, roles, the audit log, and the
dashboard, order list and order page showing what mail brought in."""
from __future__ import annotations

import html
import ssl
import time
from datetime import timedelta

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.console import PASSWORD, REVIEW_OVER
from tests.support.daemon import wait_for
from tests.support.sites import mod7
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, SampleOrder, order_mail
from tsunagi.oms import audit
from tsunagi.web import nav
from tsunagi.web.operations import ORDER_OPERATIONS

SCRIPT = "<script>alert(1)</script>"


def rakuten(n: int, sku: str = "item-a", **kw) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{n:010d}", [Item(sku, "商品", 1, 1000)], **kw)


def arrive(console, o: SampleOrder) -> int:
    """Sends the order's mail over SMTP and waits until it is applied; its id in the store."""
    console.running.send(order_mail("rakuten", o, RAKUTEN_TO))
    return wait_for(lambda: console.running.store.read().value("SELECT id FROM orders WHERE order_no = ?",
                                                               o.order_no))


def held(console, n: int) -> int:
    """An order over the review amount: held for a person (要確認) until released."""
    o = SampleOrder(rakuten(n).order_no, [Item("item-a", "商品A", 1, REVIEW_OVER + 1000)])
    order_id = arrive(console, o)
    wait_for(lambda: status_of(console, order_id) == "hold")
    return order_id


def status_of(console, order_id: int) -> str:
    return console.running.store.read().value("SELECT status FROM orders WHERE id = ?", order_id)


def test_no_page_answers_without_a_login(console):
    browser = console.client()
    for path in [p for p, _ in nav.PAGES] + ["/orders/1", "/dashboard/counts", "/orders/1/mail/purchase"]:
        answer = browser.get(path)
        assert answer.status == 303 and answer.location.startswith("/login?next="), (path, answer.status)


def test_no_action_is_done_without_a_login(console):
    order_id = held(console, 1)
    stranger = console.client()
    for path in [f"/orders/{order_id}/{name}" for name in ORDER_OPERATIONS] + ["/orders/bulk"]:
        answer = stranger.post(path, {"csrf": "x", "order": str(order_id), "bulk": "cancel"})
        assert answer.status == 303 and answer.location.startswith("/login"), path
    assert status_of(console, order_id) == "hold"
    assert audit.recent(console.running.store.read()) == []


def test_htmx_asking_without_a_login_is_sent_to_the_login_page(console):
    answer = console.client().get("/dashboard/counts", headers={"HX-Request": "true"})
    assert answer.status == 401 and answer.headers["hx-redirect"] == "/login"


def test_a_login_sets_an_httponly_strict_cookie_that_ends(console):
    browser = console.client()
    answer = browser.login("staff")
    assert answer.status == 303 and answer.location == "/"
    line = next(c for c in browser.set_cookie_lines if c.startswith("tsunagi_session="))
    assert "HttpOnly" in line and "SameSite=strict" in line and "Max-Age=28800" in line
    assert "Secure" not in line          # plain HTTP on loopback; under TLS or behind_proxy it is Secure
    assert browser.get("/").status == 200


def test_a_wrong_password_is_refused(console):
    answer = console.client().login("staff", "not the password")
    assert answer.status == 401 and "ユーザー名かパスワードが違います" in answer.text


def test_repeated_failed_logins_are_slowed_down(console):
    browser = console.client()
    for _ in range(3):
        assert browser.login("admin", "guess").status == 401
    started = time.monotonic()
    assert browser.login("admin", "guess").status == 401
    assert time.monotonic() - started >= 1.0


def test_the_login_form_without_its_token_is_refused(console):
    answer = console.client().post("/login", {"name": "staff", "password": PASSWORD})
    assert answer.status == 403


def test_a_login_never_sends_the_browser_to_another_site(console):
    browser = console.client()
    token = browser.csrf("/login?next=//evil.example/")
    answer = browser.post("/login", {"csrf": token, "name": "staff", "password": PASSWORD, "next": "//evil.example/"})
    assert answer.status == 303 and answer.location == "/"


def test_a_form_posted_without_its_csrf_token_is_refused(console):
    order_id = held(console, 2)
    browser = console.client("staff")
    assert browser.post(f"/orders/{order_id}/release", {}).status == 403
    assert browser.post(f"/orders/{order_id}/release", {"csrf": "forged"}).status == 403
    assert status_of(console, order_id) == "hold"


def test_a_viewer_reads_but_cannot_act(console):
    order_id = held(console, 3)
    guest = console.client("guest")
    page = guest.get(f"/orders/{order_id}")
    assert page.status == 200 and 'id="op-release"' not in page.text
    answer = guest.post(f"/orders/{order_id}/release", {"csrf": guest.csrf("/")})
    assert answer.status == 403 and status_of(console, order_id) == "hold"
    entry = audit.recent(console.running.store.read(), user="guest")[0]
    assert (entry.action, entry.outcome) == ("order-release", "refused")


def test_a_release_is_recorded_with_the_users_name_in_the_history_and_the_audit_log(console):
    order_id = held(console, 4)
    browser = console.client("staff")
    page = browser.act(f"/orders/{order_id}", f"/orders/{order_id}/release")
    assert "保留を解除" in page.text and status_of(console, order_id) != "hold"
    assert "(操作: staff)" in page.text        # the order's history, shown on its page
    entry = audit.recent(console.running.store.read(), user="staff")[0]
    assert (entry.action, entry.target, entry.outcome) == ("order-release", f"rakuten/{rakuten(4).order_no}", "done")


def test_a_refused_action_says_why_and_is_audited(console):
    order_id = arrive(console, rakuten(5))
    browser = console.client("staff")
    page = browser.act(f"/orders/{order_id}", f"/orders/{order_id}/release")
    assert "できませんでした" in page.text and "保留ではありません" in page.text
    assert audit.recent(console.running.store.read(), user="staff")[0].outcome == "refused"


def test_a_buyer_name_with_a_script_tag_is_shown_as_text(console):
    order_id = arrive(console, rakuten(6, buyer=Person(name=SCRIPT)))
    browser = console.client("staff")
    for path in ("/orders", f"/orders/{order_id}", "/orders?q=script"):
        page = browser.get(path)
        assert SCRIPT not in page.text and html.escape(SCRIPT) in page.text, path


def test_a_session_ends_after_session_minutes(console, later):
    browser = console.client("staff")
    assert browser.get("/").status == 200
    later(timedelta(minutes=481))
    answer = browser.get("/")
    assert answer.status == 303 and answer.location.startswith("/login")


def test_a_removed_user_is_logged_out_at_once(console):
    browser = console.client("staff")
    assert console.running.cli("user", "remove", "staff") == 0
    assert browser.get("/").status == 303


def test_a_new_order_mail_changes_the_dashboard_counts_within_two_seconds(console):
    browser = console.client("guest")
    assert 'id="count-ready">0<' in browser.get("/dashboard/counts").text
    console.running.send(order_mail("rakuten", rakuten(7), RAKUTEN_TO))
    sent = time.monotonic()
    wait_for(lambda: 'id="count-ready">1<' in browser.get("/dashboard/counts").text, timeout=2)    # 印刷待ち
    assert time.monotonic() - sent < 2
    assert 'id="today-rakuten">' in browser.get("/").text


def test_the_order_list_searches_numbers_kana_in_hiragana_and_phones_without_hyphens(console):
    sato = rakuten(8, buyer=Person(name="佐藤 一郎", kana="サトウ イチロウ", phone="090-1111-2222"))
    path = console.running.config_path.parent / "rms.csv"
    path.write_bytes(order_csv("rakuten-rms", [sato]))        # the cart's CSV carries the buyer's kana
    assert console.running.cli("import", str(path), "--shop", "rakuten", "--layout", "rakuten-rms") == 0
    arrive(console, rakuten(9))
    browser = console.client("guest")

    def found(query: str) -> set[str]:
        page = browser.get(f"/orders?{query}")
        return {no for no in (rakuten(8).order_no, rakuten(9).order_no) if f'data-order="{no}"' in page.text}
    assert found("q=%E3%81%95%E3%81%A8%E3%81%86") == {rakuten(8).order_no}           # さとう
    assert found("q=09011112222") == {rakuten(8).order_no}
    assert found("q=0000000009") == {rakuten(9).order_no}
    assert found("status=ready&shop=rakuten") == {rakuten(8).order_no, rakuten(9).order_no}
    assert found("status=hold") == set() and found("shop=yahoo") == set()
    assert found("ordered_from=2026-06-12&ordered_to=2026-06-12") == {rakuten(8).order_no, rakuten(9).order_no}
    assert found("ordered_from=2026-06-13") == set()


def test_bulk_cancel_cancels_the_chosen_orders_only(console):
    ids = [arrive(console, rakuten(n)) for n in (10, 11)]
    browser = console.client("admin")
    page = browser.act("/orders", "/orders/bulk", {"bulk": "cancel", "order": [str(ids[0])], "reason": "test",
                                                   "next": "/orders"})
    assert "キャンセル" in page.text
    assert [status_of(console, i) for i in ids] == ["cancelled", "ready"]


def test_the_console_beyond_loopback_without_tls_or_a_proxy_is_refused(config_path, capsys):
    edit_config(config_path, lambda c: c.update(web={"listen": "0.0.0.0:8080"}))
    assert cli.main(["-c", str(config_path), "check"]) == 2
    err = capsys.readouterr().err
    assert "web.tls_cert" in err and "behind_proxy" in err


@pytest.mark.parametrize("role", ["boss", ""])
def test_user_add_refuses_an_unknown_role(config_path, role, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["-c", str(config_path), "user", "add", "x", "--role", role])
    assert stop.value.code == 2


def test_over_tls_the_console_speaks_https_and_its_session_cookie_is_secure(tmp_path):
    from tests.support.configs import seed, write_config
    from tests.support.console import Console
    from tests.support.keys import self_signed
    cert, _ = self_signed(tmp_path)
    path = write_config(tmp_path)
    seed(path)
    trust = ssl.create_default_context(cafile=str(cert))
    console = Console(path, tls=trust, tls_cert="cert.pem", tls_key="key.pem")
    try:
        browser = console.client()
        assert browser.login("staff").status == 303
        line = next(c for c in browser.set_cookie_lines if c.startswith("tsunagi_session="))
        assert "Secure" in line and "HttpOnly" in line
        assert browser.get("/").status == 200
    finally:
        console.stop()


def test_logging_out_ends_the_session(console):
    browser = console.client("staff")
    token = browser.csrf("/")
    cookie = dict(browser.cookies)
    assert browser.post("/logout", {"csrf": token}).location == "/login"
    browser.cookies = cookie              # the old cookie, kept by someone: it opens nothing any more
    assert browser.get("/").status == 303


def test_a_mail_preview_shows_the_buyers_name_as_text(console):
    order_id = arrive(console, rakuten(12, buyer=Person(name=SCRIPT)))
    page = console.client("guest").get(f"/orders/{order_id}/mail/purchase")
    assert page.status == 200 and SCRIPT not in page.text and html.escape(SCRIPT) in page.text


def test_changing_a_line_moves_the_total_and_names_the_user_in_the_history(console):
    order_id = arrive(console, rakuten(13))
    page = console.client("staff").act(f"/orders/{order_id}", f"/orders/{order_id}/lines",
                                       {"edit": "set", "line": "1", "qty": "3"})
    assert "明細 1 を変更" in page.text and "(操作: staff)" in page.text
    assert console.running.store.read().value("SELECT total FROM orders WHERE id = ?", order_id) == 3500


def test_a_mistyped_value_is_refused_in_one_line_and_changes_nothing(console):
    order_id = arrive(console, rakuten(14))
    page = console.client("staff").act(f"/orders/{order_id}", f"/orders/{order_id}/lines",
                                       {"edit": "set", "line": "1", "qty": "three"})
    assert "できませんでした: 数量は整数で入力してください" in page.text
    assert console.running.store.read().value("SELECT total FROM orders WHERE id = ?", order_id) == 1500


def test_bulk_export_writes_the_labels_of_the_chosen_orders_only(console):
    chosen, other = arrive(console, rakuten(15)), arrive(console, rakuten(25))
    wait_for(lambda: status_of(console, other) == "ready")
    page = console.client("staff").act("/orders", "/orders/bulk", {"bulk": "export", "order": [str(chosen)]})
    written = sorted((console.running.spool.dir("outbox") / "carrier" / "ready").glob("*"))
    assert len(written) == 1 and written[0].name in page.text
    text = written[0].read_bytes().decode("cp932")
    assert text.count(rakuten(15).order_no) == 1 and rakuten(25).order_no not in text
    assert status_of(console, other) == "ready"          # still to be exported, with the next file


def test_a_viewer_is_offered_no_bulk_actions(console):
    arrive(console, rakuten(16))
    page = console.client("guest").get("/orders")
    assert 'name="order"' not in page.text and 'id="bulk-go"' not in page.text


def test_user_audit_lists_what_each_user_did(console, capsys):
    order_id = held(console, 17)
    console.client("staff").act(f"/orders/{order_id}", f"/orders/{order_id}/release")
    capsys.readouterr()
    assert console.running.cli("user", "audit", "--user", "staff") == 0
    out = capsys.readouterr().out
    assert "order-release" in out and f"rakuten/{rakuten(17).order_no}" in out and "done" in out


def shipped(console, n: int) -> tuple[int, str]:
    """An order shipped as the operator ships it: label export, then the carrier's result file; its tracking."""
    order_id = arrive(console, rakuten(n))
    folder = console.running.config_path.parent
    assert console.running.cli("ship", "export", "carrier", "--date", "2026-06-13") == 0
    tracking = mod7("12345678901")
    (folder / "result.csv").write_bytes(f"T00000001,0,0,{tracking},2026/06/13\r\n".encode("cp932"))
    assert console.running.cli("import", str(folder / "result.csv"), "--carrier", "carrier") == 0
    wait_for(lambda: status_of(console, order_id) == "shipped")
    return order_id, tracking


def test_the_order_page_links_a_tracking_number_to_the_carriers_page(console):
    order_id, tracking = shipped(console, 18)
    page = console.client("guest").get(f"/orders/{order_id}")
    assert f'href="https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number00=1&amp;number01={tracking}"' in page.text


def test_unship_from_the_order_page_puts_the_order_back_to_ready(console):
    order_id, _ = shipped(console, 19)
    page = console.client("staff").act(f"/orders/{order_id}", f"/orders/{order_id}/unship")
    assert "出荷を取消" in page.text and status_of(console, order_id) == "ready"


def test_a_console_port_in_use_stops_the_daemon_with_one_line(config_path):
    import socket
    from tests.support.daemon import Running
    from tsunagi.common.errors import TsunagiError
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        edit_config(config_path, lambda c: c.update(web={"listen": f"127.0.0.1:{port}"}))
        with pytest.raises(TsunagiError, match=f"cannot listen on 127.0.0.1:{port} for the web console"):
            Running(config_path)


def test_the_search_follows_a_corrected_name(console):
    arrive(console, rakuten(20))
    assert console.running.cli("order-set", "rakuten", rakuten(20).order_no, "buyer.name=鈴木 次郎") == 0
    page = console.client("guest").get("/orders?q=%E9%88%B4%E6%9C%A8")           # 鈴木
    assert f'data-order="{rakuten(20).order_no}"' in page.text and 'id="total">1 件' in page.text


def test_bulk_ready_readies_the_chosen_orders_only(config_path):
    from tests.support.configs import shop
    from tests.support.console import Console
    console = Console(config_path, change=lambda c: shop(c, "rakuten")["shipping"].update(auto_ready=False))
    try:
        ids = [arrive(console, rakuten(n)) for n in (21, 22)]
        assert [status_of(console, i) for i in ids] == ["new", "new"]        # confirmed by their mail at ready
        page = console.client("staff").act("/orders", "/orders/bulk", {"bulk": "ready", "order": [str(ids[0])]})
        assert "1 件が印刷待ち" in page.text
        assert [status_of(console, i) for i in ids] == ["ready", "new"]
    finally:
        console.stop()


def test_bulk_payment_confirmation_sends_the_chosen_paid_orders_on(console):
    ids = [arrive(console, rakuten(n, payment="銀行振込")) for n in (23, 24)]
    wait_for(lambda: [status_of(console, i) for i in ids] == ["payment", "payment"])
    page = console.client("staff").act("/orders", "/orders/bulk", {"bulk": "confirm-payment", "order": [str(ids[1])]})
    assert "入金確認" in page.text
    assert [status_of(console, i) for i in ids] == ["payment", "ready"]
    assert "(操作: staff)" in console.client("guest").get(f"/orders/{ids[1]}").text
