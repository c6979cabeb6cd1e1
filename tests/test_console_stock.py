"""在庫 over real HTTP: figures per SKU and location, receiving with a reason, setting a count, the ledger,
and the figure each channel was last sent."""
from __future__ import annotations

import html

from tests.support.daemon import wait_for


def on_hand(console, sku: str, location: str) -> int:
    return console.running.store.read().value(
        "SELECT SUM(on_hand) FROM stock WHERE sku = ? AND location = ?", sku, location)


def test_the_page_shows_on_hand_reserved_and_free_per_location(console):
    page = console.client("guest").get("/stock?sku=item-a")
    assert page.status == 200
    row = page.text.split('data-slot="item-a@本店倉庫"')[1].split("</tr>")[0]
    assert [c.split(">")[-1] for c in row.split("</td>")[2:5]] == ["10", "0", "10"]


def test_receiving_adds_to_on_hand_with_its_reason_in_the_ledger(console):
    after = console.client("staff").act("/stock", "/stock/receive", {
        "sku": "item-a", "location": "本店倉庫", "qty": "5", "reason": "入荷伝票 <b>A-17</b>"})
    assert "item-a 本店倉庫: +5 入荷しました" in after.text
    assert on_hand(console, "item-a", "本店倉庫") == 15
    assert html.escape("入荷伝票 <b>A-17</b> (操作: staff)") in after.text          # the ledger, as text
    assert "<b>A-17</b>" not in after.text


def test_receiving_without_a_reason_is_refused(console):
    after = console.client("staff").act("/stock", "/stock/receive", {"sku": "item-a", "location": "本店倉庫",
                                                                     "qty": "5"})
    assert "できませんでした: 入荷の理由を入れてください" in after.text
    assert on_hand(console, "item-a", "本店倉庫") == 10


def test_a_count_sets_on_hand_to_what_was_counted(console):
    after = console.client("staff").act("/stock", "/stock/count", {"sku": "item-b", "location": "本店倉庫",
                                                                   "qty": "3"})
    assert "item-b 本店倉庫: 在庫数を 3 にしました" in after.text
    assert on_hand(console, "item-b", "本店倉庫") == 3


def test_a_changed_figure_is_published_and_the_page_says_when(console):
    console.client("staff").act("/stock", "/stock/count", {"sku": "item-c", "location": "本店倉庫", "qty": "4"})
    wait_for(lambda: console.running.store.read().value(
        "SELECT qty FROM feed_state WHERE shop = 'rakuten' AND channel_sku = 'item-c'") == 4)
    page = console.client("guest").get("/stock")
    published = page.text.split('id="published"')[1]
    assert "テスト楽天店" in published and "item-c" in published and '<td class="num">4</td>' in published


def test_a_viewer_cannot_receive_or_count(console):
    guest = console.client("guest")
    token = guest.csrf("/stock")
    for path in ("/stock/receive", "/stock/count"):
        answer = guest.post(path, {"csrf": token, "sku": "item-a", "location": "本店倉庫", "qty": "1", "reason": "x"})
        assert answer.status == 403
    assert on_hand(console, "item-a", "本店倉庫") == 10
