"""連携 over real HTTP: the outbox's files with their state, download, marking one uploaded, a feed's resync."""
from __future__ import annotations

from tests.support.daemon import wait_for


def feed_file(console):
    """A stock change through the console; the Rakuten feed file it makes, once written to ready/."""
    console.client("staff").act("/stock", "/stock/count", {"sku": "item-c", "location": "本店倉庫", "qty": "4"})
    ready = console.running.spool.dir("outbox") / "rakuten" / "ready"

    def settled():      # unsent figures merge into one file: the one left holding item-c's new figure
        files = sorted(ready.glob("*")) if ready.is_dir() else []
        rows = files[0].read_bytes().decode("cp932").splitlines() if len(files) == 1 else []
        return files[0] if any("item-c" in row and row.endswith('"4"') for row in rows) else None
    return wait_for(settled)


def test_a_waiting_file_is_listed_and_downloads_as_written(console):
    path = feed_file(console)
    guest = console.client("guest")
    page = guest.get("/links")
    assert f'data-file="rakuten/{path.name}"' in page.text and "送信待ち" in page.text
    answer = guest.get(f"/links/rakuten/ready/{path.name}")
    assert answer.status == 200 and path.name in answer.headers["content-disposition"]
    assert int(answer.headers["content-length"]) == path.stat().st_size       # the bytes as written (cp932)
    assert answer.text.endswith(path.read_bytes().decode("cp932").splitlines(keepends=True)[-1])


def test_a_file_outside_the_outbox_is_not_served(console):
    guest = console.client("guest")
    for path in ("/links/rakuten/ready/..%2F..%2F..%2Fconfig.toml", "/links/rakuten/tmp/x", "/links/..%2F..%2Fvar/ready/tsunagi.db"):
        assert guest.get(path).status == 404, path


def test_marking_a_file_uploaded_moves_it_to_sent(console):
    path = feed_file(console)
    after = console.client("staff").act("/links", f"/links/rakuten/ready/{path.name}/sent")
    assert f"rakuten/{path.name}: アップロード済にしました" in after.text
    assert not path.exists() and (path.parent.parent / "sent" / path.name).exists()
    assert "送信済" in after.text.split(f'data-file="rakuten/{path.name}"')[1].split("</tr>")[0]


def test_a_resync_publishes_every_figure_again(console):
    ready = feed_file(console).parent
    wait_for(lambda: console.running.store.read().value(
        "SELECT qty FROM feed_state WHERE shop = 'rakuten' AND channel_sku = 'item-c'") == 4)
    for path in ready.glob("*"):
        path.unlink()
    after = console.client("staff").act("/links", "/links/resync", {"shop": "rakuten"})
    assert "テスト楽天店: 全 4 商品の在庫数を出し直します" in after.text
    again = wait_for(lambda: sorted(ready.glob("*")))
    text = again[-1].read_bytes().decode("cp932")
    assert all(sku in text for sku in ("item-a", "item-b", "item-c")), (text, [p.name for p in again])


def test_a_viewer_can_neither_mark_nor_resync(console):
    path = feed_file(console)
    guest = console.client("guest")
    token = guest.csrf("/links")
    assert guest.post(f"/links/rakuten/ready/{path.name}/sent", {"csrf": token}).status == 403
    assert guest.post("/links/resync", {"csrf": token, "shop": "rakuten"}).status == 403
    assert path.exists()
