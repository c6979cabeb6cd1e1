"""出荷 in a real headless Chromium: staff export an order's label, download the file, upload the carrier's
B2 result and see the order shipped; the 出荷 page and a 納品書 are kept as screenshots."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.console import PASSWORD, Console
from tests.support.daemon import wait_for
from tests.support.sites import mod7
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import status

NO = "402853-20260612-0000000951"
SHIPPED = {status.label(code) for code in status.SHIPPED_OR_CLOSED}


@pytest.fixture
def console(config_path):
    """The console's site with the Rakuten shop's registration number and item-b a food (軽減税率, 8 %)."""
    edit_config(config_path, lambda c: next(s for s in c["shop"] if s["id"] == "rakuten").update(
        invoice_number="T1234567890123"))
    (config_path.parent / "food.csv").write_text("sku,name,components,channel_sku,shop,tags\n"
                                                 "item-b,緑茶,,,,軽減税率\n", encoding="utf-8")
    c = Console(config_path)
    assert c.running.cli("products", "import", str(config_path.parent / "food.csv")) == 0
    yield c
    c.stop()


def test_staff_export_a_label_download_it_upload_the_result_and_see_the_order_shipped(console, browser, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    console.running.send(order_mail("rakuten", SampleOrder(NO, [Item("item-a", "商品A", 2, 1000),
                                                             Item("item-b", "緑茶", 1, 648)]), RAKUTEN_TO))
    store = console.running.store
    order_id = wait_for(lambda: store.read().value("SELECT id FROM orders WHERE order_no = ?", NO))
    browser.open("/login")                 # as browser.login, with time for a cold Chromium on a busy machine
    browser.wait_for(By.ID, "name", 30).send_keys("staff")
    browser.driver.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.click(By.ID, "login")
    browser.wait_for(By.CSS_SELECTOR, "header.top .user", 30)
    browser.open("/shipping")
    browser.click(By.ID, "op-export-carrier")
    browser.wait_text(By.CSS_SELECTOR, "p.notice", "送り状を書き出しました", timeout=20)
    browser.screenshot("shipping")
    browser.click(By.ID, "download-1")
    label = wait_for(lambda: next((p for p in downloads.glob("carrier-labels-*") if p.suffix != ".crdownload"),
                                  None), 30)
    assert NO in label.read_bytes().decode("cp932")
    result = tmp_path / "b2-result.csv"
    result.write_bytes(f"T{order_id:08d},0,0,{mod7('12345678951')},2026/06/13\r\n".encode("cp932"))
    browser.driver.find_element(By.ID, "results-file").send_keys(str(result))
    browser.click(By.ID, "op-results")
    browser.wait_text(By.CSS_SELECTOR, "p.notice", "出荷結果として取り込みます", timeout=20)
    wait_for(lambda: store.read().value("SELECT status FROM orders WHERE id = ?", order_id)
             in status.SHIPPED_OR_CLOSED, 30)
    browser.open(f"/orders/{order_id}")
    shown = WebDriverWait(browser.driver, 20).until(
        lambda d: d.find_element(By.ID, "order-status").text in SHIPPED and d.find_element(By.ID, "order-status").text)
    assert shown in SHIPPED              # 出荷確定済, or 請求済 once the confirmation is written
    browser.open("/shipping")
    browser.click(By.ID, "notes-1")
    note = browser.wait_for(By.CSS_SELECTOR, f'section.note[data-order="{NO}"]', 20)
    assert "登録番号: T1234567890123" in note.text and "8% (軽減税率) 648円 48円" in note.text
    browser.screenshot("delivery-note")
