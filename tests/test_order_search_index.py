"""The order list's trigram index and 2-character table in the store: filled when a database is upgraded, kept
as orders change, paging the newest matches first with their count, finding what the LIKE scan finds, and a
LIKE scan where the index cannot be had."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tsunagi.common.clock import JST
from tsunagi.oms import migrations, orderbigrams, orderlist, orders, ordersearch
from tsunagi.oms.records import Address, OrderLine, OrderRecord
from tsunagi.oms.store import Store

START = datetime(2026, 6, 1, 9, 0, tzinfo=JST)
KANA = ["タナカ ハナコ", "スズキ イチロウ", "サトウ ジロウ", "タナカ タロウ"]


def order(k: int) -> OrderRecord:
    buyer = Address(name=f"買手 {k}", phone=f"090-{k:04d}-0000", kana=KANA[k % len(KANA)])
    return OrderRecord("other" if k % 3 == 2 else "shop", f"A-{k:05d}", START + timedelta(minutes=k),
                       (OrderLine("A", "商品A", 1, 1000),), 1000, buyer=buyer, ship_to=buyer)


def filled(path: Path, n: int) -> Store:
    store = Store(path)
    with store.transaction() as tx:
        for k in range(n):
            orders.apply_order(tx, order(k))
    return store


def numbers(store: Store, text: str, limit: int = 50, offset: int = 0) -> tuple[list[str], int]:
    rows, total = orderlist.search(store.read(), orderlist.Filter(text=text), limit, offset)
    return [r.order_no for r in rows], total


def newest_first(ks, make=order) -> list[str]:
    return [make(k).order_no for k in sorted(ks, reverse=True)]


def consistent(store: Store) -> bool:
    """The index holds each order's search text once, under its time and id, and FTS5 agrees with itself."""
    tx = store.read()
    tx.run("INSERT INTO order_search_trigrams (order_search_trigrams) VALUES ('integrity-check')")
    keys = tx.all("SELECT rowid & 4294967295, text FROM order_search_trigrams ORDER BY rowid")
    return keys == tx.all("SELECT order_id, text FROM order_search ORDER BY ordered_at, order_id")


def without_trigrams(store: Store) -> None:
    """What the migration leaves where SQLite has no trigram tokenizer: no index, no triggers feeding it."""
    with store.transaction() as tx:
        for name in ("before_insert", "on_insert", "on_update", "on_delete"):
            tx.run(f"DROP TRIGGER order_search_trigrams_{name}")
        tx.run("DROP TABLE order_search_trigrams")


def test_an_upgraded_database_finds_its_orders_through_the_new_index(tmp_path):
    store = filled(tmp_path / "t.db", 40)
    without_trigrams(store)
    with store.transaction() as tx:
        # as the release before left it: every migration before this one run
        tx.run(f"PRAGMA user_version = {migrations.MIGRATIONS.index(migrations.order_search_indexed_by_trigrams)}")
    store.close()
    store = Store(tmp_path / "t.db")                                 # opening it migrates
    assert consistent(store)
    assert numbers(store, "たなか") == (newest_first(k for k in range(40) if k % 4 in (0, 3)), 20)


def test_many_matches_are_paged_newest_first_with_their_count(tmp_path):
    store = filled(tmp_path / "t.db", 300)
    tanaka = newest_first(k for k in range(300) if k % 4 in (0, 3))          # 150 of 300
    assert numbers(store, "タナカ") == (tanaka[:50], 150)        # the first page: read off the time index
    assert numbers(store, "タナカ", offset=100) == (tanaka[100:], 150)      # deep: the matches sorted
    assert numbers(store, "スズキ イ", limit=10) == (newest_first(k for k in range(300) if k % 4 == 1)[:10], 75)


def test_filters_give_the_same_page_whether_the_matches_or_the_filters_lead(tmp_path, monkeypatch):
    store = filled(tmp_path / "t.db", 300)                            # every third order of shop "other"
    f = orderlist.Filter(text="たなか", shop="other", ordered_from="2026-06-01", ordered_to="2026-06-01")
    pages = []
    for few in (10_000, 0):                       # the matches looked up one by one; the filters' index walked
        monkeypatch.setattr(ordersearch, "FEW", few)
        rows, total = orderlist.search(store.read(), f, 20, 10)
        pages.append(([r.order_no for r in rows], total))
    expected = newest_first(k for k in range(300) if k % 4 in (0, 3) and k % 3 == 2)
    assert pages[0] == pages[1] == (expected[10:30], len(expected))


def renamed(tmp_path):
    """A store of 8 orders whose order A-00004's buyer and recipient became 渡辺 花子."""
    store = filled(tmp_path / "t.db", 8)
    with store.transaction() as tx:
        order_id = tx.value("SELECT id FROM orders WHERE order_no = 'A-00004'")
        orders.edit(tx, order_id, {"buyer.name": "渡辺 花子", "ship_to.name": "渡辺 花子"})
    return store


def test_an_order_that_changes_is_found_by_its_new_text_only(tmp_path):
    store = renamed(tmp_path)
    assert numbers(store, "渡辺 花") == (["A-00004"], 1)
    assert numbers(store, "買手 4") == ([], 0)
    assert numbers(store, "買手 3") == (["A-00003"], 1)
    assert consistent(store)


def test_an_order_whose_time_moves_is_listed_at_its_new_time(tmp_path):
    store = filled(tmp_path / "t.db", 8)
    with store.transaction() as tx:          # no command moves an order's time today; the index follows if one does
        tx.run("UPDATE orders SET ordered_at = '2026-05-01T09:00:00+09:00' WHERE order_no = 'A-00007'")
    assert numbers(store, "たなか") == (["A-00004", "A-00003", "A-00000", "A-00007"], 4)
    assert consistent(store)


def test_quotes_and_query_syntax_typed_in_the_box_are_searched_as_text(tmp_path):
    store = filled(tmp_path / "t.db", 8)
    assert numbers(store, 'タナカ" OR "スズキ') == ([], 0)
    assert numbers(store, "NEAR(タナカ ハナコ)") == ([], 0)
    assert numbers(store, "タナカ*") == ([], 0)


def test_without_the_trigram_tokenizer_the_search_scans_by_like(tmp_path):
    store = filled(tmp_path / "t.db", 12)
    without_trigrams(store)
    with store.transaction() as tx:
        orders.apply_order(tx, order(12))                     # writing orders needs no index either
    assert numbers(store, "たなか") == (newest_first([0, 3, 4, 7, 8, 11, 12]), 7)
    assert numbers(store, "0900012") == (["A-00012"], 1)


# -- 2 characters: order_search_bigrams -----------------------------------------------------------------

NAMES = [("田中 太郎", "タナカ タロウ"), ("田中　花子", "ﾀﾅｶ ﾊﾅｺ"), ("佐藤一郎", "さとう いちろう"),
         ("鈴木 次郎", "スズキ ジロウ"), ("ＡＢＣ商事 田中", ""), ("Smith 花子", "スミス ハナコ"),
         ("中田 さと", "ナカタ サト"), ("Aさん 様", "エー")]


def named(k: int) -> OrderRecord:
    name, kana = NAMES[k % len(NAMES)]
    buyer = Address(name=name, phone=f"090-{k:04d}-0000", kana=kana)
    ship_to = Address(name=NAMES[(k * 3) % len(NAMES)][0]) if k % 5 == 4 else buyer
    return OrderRecord("other" if k % 3 == 2 else "shop", f"N-{k:05d}", START + timedelta(minutes=k),
                       (OrderLine("A", "商品A", 1, 1000),), 1000, buyer=buyer, ship_to=ship_to)


def pieces_kept(store: Store) -> bool:
    """The table holds each order's 2-character pieces with a character beyond ASCII and no space, under
    the key its trigram entry has."""
    tx = store.read()
    lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")      # ASCII only, as LIKE
    texts = tx.all("SELECT rowid, text FROM order_search_trigrams")
    expected = sorted({(piece.translate(lower), key) for key, text in texts
                       for piece in (text[i:i + 2] for i in range(len(text) - 1))
                       if not piece.isascii() and " " not in piece and "\u3000" not in piece})
    return tx.all("SELECT bigram, key FROM order_search_bigrams ORDER BY bigram, key") == expected


def test_two_characters_find_what_the_like_scan_finds(tmp_path, monkeypatch):
    store = Store(tmp_path / "t.db")
    with store.transaction() as tx:
        for k in range(40):
            orders.apply_order(tx, named(k))
    typed = {text[i:i + 2] for name, kana in NAMES for text in (name, kana) for i in range(len(text) - 1)}
    typed |= {"たな", "すず", "ﾀﾅ", "たろ", "ａｂ", "aさ", "Aさ", "AB", "09", "-0", "中　"}
    f = orderlist.Filter(shop="other")
    results, indexed = {}, 0
    for usable in (orderbigrams.usable, lambda tx, words: False):        # the table, then the LIKE scan
        monkeypatch.setattr(orderbigrams, "usable", usable)
        for text in sorted(typed):
            indexed += usable(store.read(), orderlist._words(text.strip()))
            got = (numbers(store, text), numbers(store, text, limit=5, offset=3),
                   orderlist.search(store.read(), orderlist.Filter(text=text, shop=f.shop), 5, 2)[1])
            assert results.setdefault(text, got) == got, text
    assert indexed > 40 and pieces_kept(store)
    tanaka = [k for k in range(40) if "田中" in named(k).buyer.name + named(k).ship_to.name]
    assert numbers(store, "田中") == (newest_first(tanaka, named), len(tanaka)) and len(tanaka) > 10


def test_a_two_character_kana_search_in_hiragana_finds_the_katakana_reading(tmp_path):
    store = filled(tmp_path / "t.db", 12)
    assert numbers(store, "たな") == (newest_first(k for k in range(12) if k % 4 in (0, 3)), 6)
    assert numbers(store, "ずき") == (newest_first(k for k in range(12) if k % 4 == 1), 3)


def test_an_order_renamed_is_found_by_its_new_two_characters_and_not_its_old(tmp_path):
    store = renamed(tmp_path)
    assert numbers(store, "渡辺") == (["A-00004"], 1)
    assert numbers(store, "買手") == (newest_first(k for k in range(8) if k != 4), 7)     # its old name is gone
    assert numbers(store, "たな") == (newest_first([0, 3, 4, 7]), 4)        # its kana, unchanged, is kept
    assert pieces_kept(store)


def test_an_upgraded_database_finds_two_characters_through_the_new_table(tmp_path):
    store = filled(tmp_path / "t.db", 40)
    with store.transaction() as tx:          # as the release before left it: no table, no triggers feeding it
        for name in ("before_insert", "on_update", "on_delete"):
            tx.run(f"DROP TRIGGER order_search_bigrams_{name}")
        tx.run("DROP TABLE order_search_bigrams")
        tx.run(f"PRAGMA user_version = {migrations.MIGRATIONS.index(migrations.order_search_indexed_by_bigrams)}")
    store.close()
    store = Store(tmp_path / "t.db")                                 # opening it migrates
    assert pieces_kept(store)
    assert numbers(store, "たな") == (newest_first(k for k in range(40) if k % 4 in (0, 3)), 20)
    with store.transaction() as tx:                                  # run again, it leaves the table alone
        migrations.order_search_indexed_by_bigrams(tx)
    assert pieces_kept(store)


def test_deleted_orders_leave_no_pieces_behind(tmp_path):
    store = filled(tmp_path / "t.db", 8)
    with store.transaction() as tx:
        tx.run("DELETE FROM orders WHERE order_no = 'A-00004'")
    assert numbers(store, "たな") == (newest_first([0, 3, 7]), 3)
    assert pieces_kept(store)
