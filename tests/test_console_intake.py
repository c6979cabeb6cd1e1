"""取込 over real HTTP: quarantined mail shown with its reason and as text, retried, dismissed; a CSV uploaded
through the page lands in the drop folder and is applied."""
from __future__ import annotations

import html

from tests.support.daemon import wait_for
from tests.support.forms import multipart, upload
from tsunagi.oms import audit

SCRIPT = "<script>alert(1)</script>"
HOSTILE = (f"From: cart@example.jp\r\nTo: orders@example.jp\r\nSubject: =?utf-8?b?5rOo5paH?=\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{SCRIPT} 注文ではありません\r\n").encode()


def quarantined(console) -> str:
    """A mail no spec reads, sent over SMTP: its id once it sits in failed/."""
    console.running.send(HOSTILE)
    return wait_for(lambda: next(iter(r["id"] for r in console.running.spool.failed()), None))


def test_a_quarantined_mail_is_listed_with_its_reason(console):
    item_id = quarantined(console)
    page = console.client("staff").get("/intake")
    assert page.status == 200 and item_id in page.text
    reason = console.running.spool.failed()[0]["message"]
    assert "no order spec of this shop" in reason and reason in html.unescape(page.text)


def test_a_mail_with_a_script_is_shown_decoded_as_text_never_run(console):
    item_id = quarantined(console)
    page = console.client("guest").get(f"/intake/{item_id}")
    assert page.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 注文ではありません" in page.text    # decoded, escaped
    assert SCRIPT not in page.text
    assert "Subject: 注文" in page.text                                             # the header decoded


def test_retry_puts_the_item_back_and_it_is_run_again(console):
    item_id = quarantined(console)
    first = console.running.spool.failed()[0]["failed_at"]
    after = console.client("staff").act("/intake", f"/intake/{item_id}/retry")
    assert f"{item_id}: 再処理します" in after.text
    # run again, it fails again the same way: back in failed/, failed anew
    wait_for(lambda: [r["failed_at"] for r in console.running.spool.failed() if r["id"] == item_id] > [first])
    assert [(a.user, a.action) for a in audit.recent(console.running.store.read())][:1] == [("staff", "intake-retry")]


def test_dismiss_takes_the_item_out_of_quarantine_and_keeps_it(console):
    item_id = quarantined(console)
    after = console.client("staff").act("/intake", f"/intake/{item_id}/dismiss")
    assert "破棄しました" in after.text and f'data-item="{item_id}"' not in after.text
    item, reason = console.running.spool.find(item_id)
    assert "done" in str(item.folder) and reason["kind"] == "dismissed" and "staff" in reason["message"]


def test_a_viewer_can_neither_retry_nor_dismiss(console):
    item_id = quarantined(console)
    guest = console.client("guest")
    token = guest.csrf("/intake")
    for op in ("retry", "dismiss"):
        assert guest.post(f"/intake/{item_id}/{op}", {"csrf": token}).status == 403
    assert any(r["id"] == item_id for r in console.running.spool.failed())


def test_an_uploaded_stock_csv_takes_the_drop_folder_path_and_is_applied(console):
    staff = console.client("staff")
    csv = "sku,location,lot,qty\nitem-a,予備倉庫,1,7\n".encode()
    after = upload(staff, "/intake", "/intake/upload", {"target": "rakuten"}, {"file": ("counts.csv", csv)})
    assert "counts.csv: rakuten の取込フォルダに置きました" in after.text
    wait_for(lambda: console.running.store.read().value(
        "SELECT on_hand FROM stock WHERE sku = 'item-a' AND location = '予備倉庫'") == 7)
    assert list((console.running.spool.dir("drop") / "rakuten").iterdir()) == []      # taken, as any dropped file


def test_an_upload_without_its_csrf_token_is_refused(console):
    staff = console.client("staff")
    body, headers = multipart({"target": "rakuten"}, {"file": ("x.csv", b"sku,location,lot,qty\n")})
    assert staff.request("POST", "/intake/upload", body, headers).status == 403
