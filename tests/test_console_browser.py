"""The console in a real headless Chromium: what a member of staff does with an order that just came by mail."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.support.configs import RAKUTEN_TO
from tests.support.console import PASSWORD, REVIEW_OVER
from tsunagi.demo.mails import Item, SampleOrder, order_mail

NO = "402853-20260612-0000000901"


def test_staff_see_a_held_order_arrive_open_it_and_release_it(console, browser):
    browser.login("staff", PASSWORD)
    browser.wait_text(By.ID, "count-hold", "0")
    console.running.send(order_mail("rakuten", SampleOrder(NO, [Item("item-a", "商品A", 1, REVIEW_OVER + 1000)]),
                                    RAKUTEN_TO))
    browser.wait_text(By.ID, "count-hold", "1", timeout=5)          # no reload: htmx asks every second
    browser.screenshot("dashboard")
    browser.click(By.CSS_SELECTOR, 'a.card[data-status="hold"]')
    browser.wait_for(By.CSS_SELECTOR, f'tr[data-order="{NO}"]')
    browser.screenshot("orders")
    browser.click(By.LINK_TEXT, NO)
    browser.wait_text(By.ID, "order-status", "保留")
    browser.screenshot("order")
    browser.click(By.ID, "op-release")
    browser.wait_text(By.CSS_SELECTOR, "p.notice", "保留を解除")
    assert browser.driver.find_element(By.ID, "order-status").text == "印刷待ち"
    assert "(操作: staff)" in browser.driver.find_element(By.ID, "history").text
