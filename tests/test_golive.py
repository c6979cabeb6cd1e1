"""Go-live and history: orders the cart has already shipped, completed or cancelled are imported closed or
cancelled with no stock, label or buyer mail; tsunagi orders close-before closes older open orders."""
from __future__ import annotations

import getpass

import pytest

from tests.support.configs import shop
from tests.support.sinks import Sink
from tests.support.sites import STAGES, ShipSite, mail_table, order
from tsunagi.demo.mails import Item, SampleOrder
from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.demo.csvs import order_csv
from tsunagi.oms.store import Store
from tsunagi.parsers import csvlayout
from tsunagi.parsers.csvfile import parse_file


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture
def site(tmp_path, capsys, sink):
    """A Rakuten shop shipping with one carrier and mailing its buyers at every stage through the sink."""
    s = ShipSite(tmp_path, capsys)

    def mailing(data: dict) -> None:
        data["relay"] = {"host": "127.0.0.1", "port": sink.port, "security": "none",
                         "message_id_domain": "mail.tsunagi.example"}
        shop(data, "rakuten")["mail"] = mail_table("utf-8", STAGES)
    s.edit(mailing)
    return s


def history_csv(*pairs) -> bytes:
    """One Rakuten order CSV of (order, channel status) pairs: the header once."""
    parts = [order_csv("rakuten-rms", [o], status=word) for o, word in pairs]
    return parts[0] + b"".join(p.split(b"\r\n", 1)[1] for p in parts[1:])


def reserved(site: ShipSite) -> int:
    return Store(site.folder / "var" / "tsunagi.db").read().value("SELECT COALESCE(SUM(qty), 0) FROM reservations")


def sent(site: ShipSite) -> set[str]:
    """Order numbers of the mails the relay took."""
    cfg = config_mod.load(site.config_path)
    mailer = wiring.mailer(cfg, Store(cfg.db_path))
    while mailer.send_due():
        pass
    store = Store(cfg.db_path).read()
    return {r[0] for r in store.all("SELECT o.order_no FROM mails m JOIN orders o ON o.id = m.order_id "
                                    "WHERE m.state = 'sent'")}


def history_notes(site: ShipSite, o) -> str:
    return "\n".join(r[0] for r in Store(site.folder / "var" / "tsunagi.db").read().all(
        "SELECT h.note FROM order_history h JOIN orders o ON o.id = h.order_id WHERE o.order_no = ?", o.order_no))


def test_old_completed_shipped_and_cancelled_rows_are_history_with_no_stock_label_or_mail(site, sink):
    done, shipped, cancelled, today = order(1), order(2), order(3), order(4)
    (site.folder / "orders.csv").write_bytes(history_csv((done, "完了"), (shipped, "発送済"),
                                                         (cancelled, "キャンセル確定"), (today, "")))
    assert site.cli("import", str(site.folder / "orders.csv"), "--shop", "rakuten") == 0
    assert [site.status(o) for o in (done, shipped, cancelled, today)] == ["closed", "closed", "cancelled", "ready"]
    assert reserved(site) == 1                                     # today's order only
    labels = b"".join(p.read_bytes() for p in site.export()).decode("cp932")
    assert today.order_no in labels and not any(o.order_no in labels for o in (done, shipped, cancelled))
    assert sent(site) == {today.order_no}
    assert "稼働前の注文" in history_notes(site, done)


def test_an_open_order_the_channel_later_says_shipped_is_closed_and_its_stock_released(site):
    o = order(5)
    site.orders_csv([o])
    assert site.status(o) == "ready" and reserved(site) == 1
    site.orders_csv([o], name="later.csv", status="発送済")
    assert site.status(o) == "closed" and reserved(site) == 0
    assert "受注CSVでチャネル発送済み: 引当を解除して完了" in history_notes(site, o)


def test_an_order_in_a_label_file_the_channel_says_shipped_is_held_naming_the_label(site):
    o = order(6)
    site.orders_csv([o])
    assert site.export()
    site.orders_csv([o], name="later.csv", status="発送済")
    v = site.view(o)
    assert v["status"] == "hold" and v["hold_kind"] == "channel_shipped"
    assert "送り状" in v["hold_reason"] and "出力済み" in v["hold_reason"]


def test_close_before_closes_older_open_orders_releases_stock_and_the_next_feed_shows_it(site):
    old, new = order(7), order(8)
    old.ordered_at = old.ordered_at.replace(month=5)
    site.orders_csv([old, new])
    assert reserved(site) == 2
    feeds = site.spool.dir("outbox") / "yahoo" / "ready"
    before = set(feeds.iterdir()) if feeds.exists() else set()
    site.capsys.readouterr()
    assert site.cli("orders", "close-before", "2026-06-01", "--shop", "rakuten") == 0
    assert "1 orders ordered before 2026-06-01 closed" in site.capsys.readouterr().out
    assert site.status(old) == "closed" and site.status(new) == "ready" and reserved(site) == 1
    new_files = set(feeds.iterdir()) - before
    assert new_files and any("item-a" in p.read_bytes().decode("cp932") for p in new_files)
    assert f"(操作: {getpass.getuser()})" in history_notes(site, old)


def test_close_before_sends_no_mail_for_the_orders_it_closes(site):
    o = order(9)
    site.orders_csv([o])                               # its purchase mail is queued, not yet sent
    assert site.cli("orders", "close-before", "2026-07-01") == 0
    assert sent(site) == set()
    states = Store(site.folder / "var" / "tsunagi.db").read().all("SELECT stage, state FROM mails")
    assert states == [("purchase", "cancelled")]


def test_close_before_leaves_and_lists_an_order_already_in_a_label_file(site):
    o = order(10)
    site.orders_csv([o])
    assert site.export()
    site.capsys.readouterr()
    assert site.cli("orders", "close-before", "2026-07-01") == 0
    out = site.capsys.readouterr().out
    assert f"left open: {o.order_no}: 送り状" in out and site.status(o) == "ready"


@pytest.mark.parametrize("args, needle", [(["2026-13-45"], "not a date"), (["2026/06/01"], "not a date"),
                                          (["2026-06-01", "--shop", "nosuch"], "nosuch")])
def test_close_before_refuses_a_malformed_date_or_an_unknown_shop_in_one_line(site, args, needle):
    o = order(11)
    site.orders_csv([o])
    site.capsys.readouterr()
    assert site.cli("orders", "close-before", *args) == 2
    err = site.capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert site.status(o) == "ready"


@pytest.mark.parametrize("layout, word, meaning", [
    ("rakuten-rms", "発送済", "shipped"), ("rakuten-rms", "完了", "completed"),
    ("rakuten-rms", "キャンセル確定", "cancelled"), ("yahoo-order", "5", "completed"),
    ("makeshop", "配送", "shipped"), ("ec-cube", "発送済み", "shipped"),
    ("rakuten-rms", "発送待ち", "発送待ち")])    # a word not in the map is kept as read: the order stays open
def test_each_layout_reads_its_carts_shipped_completed_and_cancelled_words(layout, word, meaning, tmp_path):
    (tmp_path / "orders.csv").write_bytes(order_csv(layout, [order(12)], status=word))
    with open(tmp_path / "orders.csv", "rb") as src:
        _, chunks = parse_file(src, csvlayout.load(layout), "shop", tmp_path / "scratch")
        got = [rec.channel_status for c in chunks for rec, _ in c.orders]
    assert got == [meaning]


def by_number(site: ShipSite, order_no: str) -> dict:
    return site.view(SampleOrder(order_no, []))


def test_close_before_closes_a_split_order_with_its_parts_and_leaves_a_persons_copy(site):
    o = order(11, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 1, 500))
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    assert site.cli("order-copy", "rakuten", o.order_no) == 0
    site.capsys.readouterr()
    assert site.cli("orders", "close-before", "2026-07-01") == 0
    assert "2 orders ordered before 2026-07-01 closed" in site.capsys.readouterr().out
    assert site.status(o) == by_number(site, o.order_no + "-bk-1")["status"] == "closed"
    assert by_number(site, o.order_no + "-cp-1")["status"] == "ready" and reserved(site) == 1     # the copy's A


def test_a_split_part_is_closed_with_its_original_when_the_channel_says_the_original_shipped(site):
    o = order(12, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 1, 500))
    site.orders_csv([o])
    assert site.cli("order-split", "rakuten", o.order_no, "--lines", "2") == 0
    site.orders_csv([o], name="later.csv", status="発送済")
    part = by_number(site, o.order_no + "-bk-1")
    assert site.status(o) == part["status"] == "closed" and reserved(site) == 0
    assert "分割元と一緒に" in part["history"][-1]["note"]
