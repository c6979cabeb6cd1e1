"""出荷 in a real headless Chromium: staff export an order's label, download the file, upload the carrier's
B2 result and see the order shipped; the 出荷 page and a 納品書 are kept as screenshots."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.support.configs import RAKUTEN_TO
from tests.support.console import PASSWORD
from tests.support.daemon import wait_for
from tests.support.sites import mod7
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import status

NO = "402853-20260612-0000000951"


def test_staff_export_a_label_download_it_upload_the_result_and_see_the_order_shipped(console, browser, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    console.running.send(order_mail("rakuten", SampleOrder(NO, [Item("item-a", "商品A", 2, 1000)]), RAKUTEN_TO))
    store = console.running.store
    order_id = wait_for(lambda: store.read().value("SELECT id FROM orders WHERE order_no = ?", NO))
    browser.login("staff", PASSWORD)
    browser.open("/shipping")
    browser.click(By.ID, "op-export-carrier")
    browser.wait_text(By.CSS_SELECTOR, "p.notice", "送り状を書き出しました")
    browser.screenshot("shipping")
    browser.click(By.ID, "download-1")
    label = wait_for(lambda: next((p for p in downloads.glob("carrier-labels-*") if p.suffix != ".crdownload"),
                                  None))
    assert NO in label.read_bytes().decode("cp932")
    result = tmp_path / "b2-result.csv"
    result.write_bytes(f"T{order_id:08d},0,0,{mod7('12345678951')},2026/06/13\r\n".encode("cp932"))
    browser.driver.find_element(By.ID, "results-file").send_keys(str(result))
    browser.click(By.ID, "op-results")
    browser.wait_text(By.CSS_SELECTOR, "p.notice", "出荷結果として取り込みます")
    state = wait_for(lambda: status.label(code) if (code := store.read().value(
        "SELECT status FROM orders WHERE id = ?", order_id)) in status.SHIPPED_OR_CLOSED else None, 30)
    browser.open(f"/orders/{order_id}")
    browser.wait_text(By.ID, "order-status", state)          # 出荷確定済 (or 請求済 once confirmed)
    browser.open("/shipping")
    browser.click(By.ID, "notes-1")
    browser.wait_for(By.CSS_SELECTOR, f'section.note[data-order="{NO}"]')
    browser.screenshot("delivery-note")
