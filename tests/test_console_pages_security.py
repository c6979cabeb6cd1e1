"""The pages of 取込, 出荷, 在庫, 連携, メール and 設定 beyond their navigation entry: none answers without a
login, no action is done without one or without the form's CSRF token."""
from __future__ import annotations

from tsunagi.oms import audit

PAGES = ("/intake/20260101T000000.000000-abcdef", "/shipping/picking?file=x", "/shipping/notes?order=1",
         "/shipping/labels/x.csv", "/links/rakuten/ready/x.csv", "/mail/preview?shop=rakuten&order=1&stage=purchase")
ACTIONS = ("/intake/upload", "/intake/20260101T000000.000000-abcdef/retry",
           "/intake/20260101T000000.000000-abcdef/dismiss", "/shipping/carrier/export", "/shipping/results",
           "/stock/receive", "/stock/count", "/links/resync", "/links/rakuten/ready/x.csv/sent", "/mail/retry-failed")


def test_no_page_of_these_answers_without_a_login(console):
    stranger = console.client()
    for path in PAGES:
        answer = stranger.get(path)
        assert answer.status == 303 and answer.location.startswith("/login?next="), (path, answer.status)


def test_no_action_of_these_is_done_without_a_login(console):
    stranger = console.client()
    for path in ACTIONS:
        answer = stranger.post(path, {"csrf": "x", "sku": "item-a", "location": "本店倉庫", "qty": "1", "reason": "r"})
        assert answer.status == 303 and answer.location.startswith("/login"), path
    assert audit.recent(console.running.store.read()) == []


def test_no_action_of_these_is_done_without_the_form_s_csrf_token(console):
    staff = console.client("staff")
    for path in ACTIONS:
        assert staff.post(path, {"sku": "item-a", "location": "本店倉庫", "qty": "1", "reason": "r"}).status == 403, path
    assert console.running.store.read().value("SELECT SUM(on_hand) FROM stock WHERE sku = 'item-a'") == 10
