"""A cumulative order CSV pulled again: orders whose rows did not change are counted as unchanged and left
untouched without being made; every other order goes through the store as before."""
from __future__ import annotations

import io
import json
import shutil

import pytest

from tests.support.configs import RAKUTEN_TO
from tests.support.daemon import Running, wait_for
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms.store import Store
from tsunagi.parsers import csvfile, csvlayout, csvread


def order(no: int, *items: Item) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{no:010d}", list(items) or [Item("item-a", "商品A", 1, 1000)])


def run(config_path, capsys, *args) -> str:
    capsys.readouterr()
    cli.main(["-c", str(config_path), *args])
    return capsys.readouterr().out


def pull(config_path, tmp_path, capsys, orders: list[SampleOrder], name: str, **kw) -> str:
    """Import the orders as the cart's CSV; the import's summary line."""
    path = tmp_path / name
    path.write_bytes(order_csv("rakuten-rms", orders, **kw))
    return run(config_path, capsys, "import", str(path), "--shop", "rakuten")


def state(config_path, o: SampleOrder) -> tuple:
    """Everything of the order the store keeps: its row (updated_at included), lines and history."""
    tx = Store(config_path.parent / "var" / "tsunagi.db").read()
    row = tx.one("SELECT * FROM orders WHERE order_no = ?", o.order_no)
    return (row, tx.all("SELECT * FROM order_lines WHERE order_id = ? ORDER BY line_no", row[0]),
            tx.all("SELECT * FROM order_history WHERE order_id = ? ORDER BY id", row[0]))


def view(config_path, capsys, o: SampleOrder) -> dict:
    return json.loads(run(config_path, capsys, "order", "rakuten", o.order_no, "--json"))


def test_orders_pulled_again_unchanged_are_counted_unchanged_and_left_untouched(config_path, tmp_path, capsys):
    first = pull(config_path, tmp_path, capsys, [order(1), order(2)], "a.csv")
    assert "created: 2" in first
    before = state(config_path, order(1)), state(config_path, order(2))
    again = pull(config_path, tmp_path, capsys, [order(1), order(2), order(3)], "b.csv")   # other bytes
    assert "unchanged: 2" in again and "created: 1" in again and "updated" not in again
    assert (state(config_path, order(1)), state(config_path, order(2))) == before    # not even updated_at moved
    assert view(config_path, capsys, order(3))["status"] == "confirm"


def test_a_changed_order_in_the_same_file_is_applied_as_before(config_path, tmp_path, capsys):
    pull(config_path, tmp_path, capsys, [order(4), order(5)], "a.csv")
    more = order(5, Item("item-a", "商品A", 3, 1000))
    again = pull(config_path, tmp_path, capsys, [order(4), more, order(24)], "b.csv")    # in the middle: read first
    assert "unchanged: 1" in again and "conflict: 1" in again and "created: 1" in again
    v = view(config_path, capsys, order(5))
    assert v["status"] == "hold" and "item-a×1 / 受注CSV item-a×3" in v["hold_reason"]


def test_an_order_cancelled_in_a_pulled_again_file_is_cancelled(config_path, tmp_path, capsys):
    pull(config_path, tmp_path, capsys, [order(6)], "a.csv")
    again = pull(config_path, tmp_path, capsys, [order(6)], "b.csv", status="キャンセル確定")
    assert "cancelled: 1" in again
    assert view(config_path, capsys, order(6))["status"] == "cancelled"
    again = pull(config_path, tmp_path, capsys, [order(6), order(15)], "c.csv", status="キャンセル確定")
    assert "unchanged: 1" in again


def test_an_order_corrected_by_the_operator_goes_through_the_store_again(config_path, tmp_path, capsys):
    pull(config_path, tmp_path, capsys, [order(7)], "a.csv")
    email = view(config_path, capsys, order(7))["buyer"]["email"]
    assert email
    run(config_path, capsys, "order-set", "rakuten", order(7).order_no, "buyer.email=",
        "ship_to.address=丸の内1-1 訂正ビル")
    again = pull(config_path, tmp_path, capsys, [order(16), order(7), order(18)], "b.csv")
    v = view(config_path, capsys, order(7))
    # as before: a blank is filled from the channel's copy, a correction is kept
    assert "updated: 1" in again and v["buyer"]["email"] == email and v["ship_to"]["address"] == "丸の内1-1 訂正ビル"
    assert "unchanged: 3" in pull(config_path, tmp_path, capsys, [order(16), order(7), order(18), order(17)], "c.csv")


def test_an_order_held_for_a_difference_is_reported_held_again_by_the_same_rows(config_path, tmp_path, capsys):
    o = order(8)
    path = tmp_path / "8.eml"
    path.write_bytes(order_mail("rakuten", o, RAKUTEN_TO))
    run(config_path, capsys, "ingest", str(path), "--shop", "rakuten")
    other = order(8, Item("item-a", "商品A", 2, 1000))
    assert "mismatch: 1" in pull(config_path, tmp_path, capsys, [other], "a.csv")
    again = pull(config_path, tmp_path, capsys, [order(25), other, order(9)], "b.csv")
    # as before: the same copy offered again holds the order again (now a conflict: the CSV was seen) and says so
    assert "conflict: 1" in again and "unchanged" not in again and "rows of orders on hold: 1" in again
    assert view(config_path, capsys, o)["status"] == "hold"


def test_an_order_held_for_an_unknown_sku_stays_held_and_is_unchanged(config_path, tmp_path, capsys):
    o = order(10, Item("no-such-sku", "謎", 1, 100))
    assert "held: 1" in pull(config_path, tmp_path, capsys, [o], "a.csv")
    before = state(config_path, o)
    again = pull(config_path, tmp_path, capsys, [order(26), o, order(11)], "b.csv")
    assert "unchanged: 1" in again and "created: 2" in again and "保留" not in again
    assert state(config_path, o) == before and view(config_path, capsys, o)["hold_kind"] == "unknown_sku"


def test_the_digests_outlive_a_restart_a_daemon_started_later_skips_what_the_cli_applied(config_path, tmp_path,
                                                                                        capsys):
    pull(config_path, tmp_path, capsys, [order(12), order(13)], "a.csv")
    before = state(config_path, order(12))
    running = Running(config_path)
    try:
        (running.spool.dir("drop") / "rakuten" / "b.csv").write_bytes(
            order_csv("rakuten-rms", [order(12), order(13), order(14)]))
        outcomes = wait_for(lambda: running.store.read().all("SELECT outcome FROM applied_items WHERE item_id <> ("
                                                             "SELECT MIN(item_id) FROM applied_items)"))
    finally:
        running.stop()
    assert "unchanged 2" in outcomes[0][0] and "created 1" in outcomes[0][0]
    assert state(config_path, order(12)) == before


def test_a_file_whose_numbers_spread_wide_looks_each_order_up_by_itself(config_path, tmp_path, capsys, monkeypatch):
    from tsunagi.oms import csvdigests
    pull(config_path, tmp_path, capsys, [order(30), order(31), order(32), order(33)], "a.csv")
    monkeypatch.setattr(csvdigests, "RANGE_SPREAD", 0)      # the range read gives up at once: each number probed
    monkeypatch.setattr(csvdigests, "BATCH", 1)
    again = pull(config_path, tmp_path, capsys, [order(30), order(33), order(34)], "b.csv")
    assert "unchanged: 2" in again and "created: 1" in again


def test_digests_made_before_the_upgrade_still_count_and_stale_ones_are_dropped(config_path, tmp_path, capsys):
    from tsunagi.oms import migrations
    pull(config_path, tmp_path, capsys, [order(40), order(41)], "a.csv")
    path = config_path.parent / "var" / "tsunagi.db"
    store = Store(path)
    with store.transaction() as tx:        # the table as the release before kept it: by order id and updated_at
        rows = tx.all("SELECT o.id, d.digest, o.updated_at FROM order_csv_digests d JOIN orders o "
                      "ON o.shop = d.shop AND o.order_no = d.order_no ORDER BY o.order_no")
        tx.run("DROP TRIGGER order_csv_digests_on_update")
        tx.run("DROP TRIGGER order_csv_digests_on_delete")
        tx.run("DROP TABLE order_csv_digests")
        tx.run("CREATE TABLE order_csv_digests (order_id INTEGER PRIMARY KEY, digest TEXT NOT NULL, stamp TEXT NOT NULL)")
        tx.many("INSERT INTO order_csv_digests VALUES (?, ?, ?)", [rows[0], (rows[1][0], rows[1][1], "touched")])
        tx.run(f"PRAGMA user_version = {migrations.MIGRATIONS.index(migrations.csv_digests_kept_by_order_number)}")
    store.close()
    kept = Store(path).read().all("SELECT order_no, digest FROM order_csv_digests ORDER BY order_no")
    assert kept == [(order(40).order_no, rows[0][1])]      # order 41 was touched after its digest: forgotten
    again = pull(config_path, tmp_path, capsys, [order(40), order(41), order(42)], "b.csv")
    assert "unchanged: 2" in again and "created: 1" in again


@pytest.mark.parametrize("layout", ["shopify-orders", "yahoo-order", "makeshop", "amazon-unshipped"])
def test_each_layout_pulled_again_finds_its_unchanged_orders(config_path, tmp_path, capsys, layout):
    two = [order(20, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500)), order(21), order(22)]
    for name, orders in (("a.csv", two), ("b.csv", two + [order(23)])):
        (tmp_path / name).write_bytes(order_csv(layout, orders))
        out = run(config_path, capsys, "import", str(tmp_path / name), "--shop", "rakuten", "--layout", layout)
    assert "unchanged: 3" in out and "created: 1" in out


def test_an_order_whose_note_holds_a_line_break_is_left_out_unchanged_and_applied_once_it_changes(
        config_path, tmp_path, capsys):
    # a quoted line break makes a record of two lines: that chunk's rows are read by their values
    o = order(30)
    o.note = "午前中に\n届けてください"
    assert "created: 2" in pull(config_path, tmp_path, capsys, [o, order(31)], "a.csv")
    before = state(config_path, o)
    again = pull(config_path, tmp_path, capsys, [o, order(31), order(32)], "b.csv")
    assert "unchanged: 2" in again and "created: 1" in again and state(config_path, o) == before
    more = order(30, Item("item-a", "商品A", 3, 1000))
    more.note = o.note
    again = pull(config_path, tmp_path, capsys, [more, order(31), order(32)], "c.csv")
    assert "unchanged: 2" in again and "conflict: 1" in again


@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "scratch-file"])
def test_orders_cut_by_chunk_ends_are_left_out_whole_and_a_changed_one_applied(config_path, tmp_path, capsys,
                                                                            monkeypatch, in_memory):
    # chunks of a few rows: most orders of two lines are cut by a chunk's end; a big file is decoded
    # to a scratch file instead of memory, read the same way
    monkeypatch.setattr(csvread, "SAMPLE", 3000)
    monkeypatch.setattr(csvread, "BLOCK", 3000)
    if not in_memory:
        monkeypatch.setattr(csvread, "IN_MEMORY", 0)
    orders = [order(40 + n, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500)) for n in range(12)]
    assert "created: 12" in pull(config_path, tmp_path, capsys, orders, "a.csv")
    before = [state(config_path, o) for o in orders]
    again = pull(config_path, tmp_path, capsys, orders + [order(60)], "b.csv")
    assert "unchanged: 12" in again and "created: 1" in again
    assert [state(config_path, o) for o in orders] == before
    orders[9] = order(49, Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 3, 500))    # cut in two
    again = pull(config_path, tmp_path, capsys, orders + [order(60)], "c.csv")
    assert "unchanged: 12" in again and "conflict: 1" in again


def test_the_digests_do_not_depend_on_where_the_layout_file_lives(tmp_path):
    # an installation moved, or a user folder holding a copy of a shipped layout, still knows its orders
    copy = tmp_path / "layouts"
    copy.mkdir()
    shutil.copy(csvlayout.LAYOUT_DIR / "rakuten-rms.toml", copy)
    data = order_csv("rakuten-rms", [order(70), order(71)])
    digests = []
    for layout in (csvlayout.load("rakuten-rms"), csvlayout.load("rakuten-rms", (copy,))):
        _, chunks = csvfile.parse_file(io.BytesIO(data), layout, "rakuten", tmp_path / "scratch")
        digests.append([c.digests for c in chunks])
    assert digests[0] == digests[1] and digests[0][0]


def test_a_bad_byte_in_a_new_row_of_a_pulled_again_file_refuses_the_file_naming_the_byte(config_path, tmp_path,
                                                                                        capsys, monkeypatch):
    # the known orders' rows are not decoded again, the new ones are, before anything is applied
    monkeypatch.setattr(csvread, "SAMPLE", 1200)     # the encoding is told by the file's start only
    pull(config_path, tmp_path, capsys, [order(80), order(81)], "a.csv")
    good = order_csv("rakuten-rms", [order(80), order(81), order(82)])
    at = good.index("サンプル".encode("cp932"), good.index(b"0000000082"))
    assert at > 1200
    (tmp_path / "b.csv").write_bytes(good[:at] + b"\x81\x20" + good[at + 2:])
    capsys.readouterr()
    assert cli.main(["-c", str(config_path), "import", str(tmp_path / "b.csv"), "--shop", "rakuten",
                     "--layout", "rakuten-rms"]) == 1
    assert f"byte {at}: not valid cp932" in capsys.readouterr().err
    assert Store(config_path.parent / "var" / "tsunagi.db").read().value(
        "SELECT COUNT(*) FROM orders WHERE order_no = ?", order(82).order_no) == 0
