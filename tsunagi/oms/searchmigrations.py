"""The order list's search tables, each made by a migration (migrations.py lists them in order) and kept by
triggers: the search text beside each order, its trigram index and its two-character pieces."""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tsunagi.oms.store import Tx


# What the order list's search box looks in: the number, the buyer's and recipient's names, kana and phones
# (digits only), kept beside each order by triggers, so a search reads a narrow table instead of every order.
_SEARCH_TEXT = ("new.order_no || ' ' || " + " || ' ' || ".join(
    f"coalesce(json_extract(new.data, '$.{who}.{part}'), '')" for who in ("buyer", "ship_to")
    for part in ("name", "kana")) + " || ' ' || " + " || ' ' || ".join(
    f"replace(coalesce(json_extract(new.data, '$.{who}.phone'), ''), '-', '')" for who in ("buyer", "ship_to")))


def orders_searchable_by_name_kana_phone(tx: Tx) -> None:
    """order_search: per order its time and the text the console's search box finds it by, kept by triggers
    on orders (written on insert and on a change of number, time or data; gone with the order)."""
    tx.run("CREATE TABLE IF NOT EXISTS order_search (order_id INTEGER PRIMARY KEY, ordered_at TEXT NOT NULL, "
           "text TEXT NOT NULL)")
    keep = f"INSERT OR REPLACE INTO order_search (order_id, ordered_at, text) VALUES (new.id, new.ordered_at, {_SEARCH_TEXT});"
    tx.run(f"CREATE TRIGGER IF NOT EXISTS order_search_on_insert AFTER INSERT ON orders BEGIN {keep} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_on_update AFTER UPDATE OF order_no, ordered_at, data ON orders "
           f"BEGIN {keep} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_on_delete AFTER DELETE ON orders BEGIN "
           "DELETE FROM order_search WHERE order_id = old.id; END")
    tx.run("INSERT OR REPLACE INTO order_search (order_id, ordered_at, text) SELECT id, ordered_at, "
           + _SEARCH_TEXT.replace("new.", "") + " FROM orders")


# The trigram index's rowid orders its entries by time: the order's time in seconds since 2020 above its id in
# the low 32 bits, so the newest matches of a word are the first its index reads backwards.
_EPOCH = 1577836800          # 2020-01-01T00:00:00Z


def _trigram_key(row: str) -> str:
    return (f"((coalesce(CAST(strftime('%s', {row}ordered_at) AS INTEGER), {_EPOCH}) - {_EPOCH}) << 32) "
            f"+ {row}order_id")


def order_search_indexed_by_trigrams(tx: Tx) -> None:
    """order_search_trigrams: an FTS5 trigram index of order_search's text (any substring of 3 characters or
    more is found without reading every order) keyed by time and id, kept by triggers on order_search. An
    SQLite without the trigram tokenizer (before 3.34) skips it: the order list then searches by LIKE."""
    filled = tx.value("SELECT 1 FROM sqlite_master WHERE name = 'order_search_trigrams'")     # run once before
    try:
        tx.run("CREATE VIRTUAL TABLE IF NOT EXISTS order_search_trigrams USING fts5(text, tokenize = 'trigram')")
    except sqlite3.OperationalError:          # no fts5 or no trigram tokenizer in this SQLite
        return
    old, new = _trigram_key("old."), _trigram_key("new.")
    was = "(SELECT " + _trigram_key("s.") + " FROM order_search AS s WHERE s.order_id = new.order_id)"
    # order_search is written by INSERT OR REPLACE, whose delete fires no trigger: the entry it replaces is
    # found before, and dropped only if its time or text moved (a status or amount change leaves names alone)
    add = (f"INSERT INTO order_search_trigrams (rowid, text) SELECT {new}, new.text "
           f"WHERE NOT EXISTS (SELECT 1 FROM order_search_trigrams WHERE rowid = {new});")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_trigrams_before_insert BEFORE INSERT ON order_search BEGIN "
           f"DELETE FROM order_search_trigrams WHERE rowid = {was} AND (rowid IS NOT {new} OR text IS NOT new.text); "
           "END")
    tx.run(f"CREATE TRIGGER IF NOT EXISTS order_search_trigrams_on_insert AFTER INSERT ON order_search BEGIN {add} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_trigrams_on_update AFTER UPDATE ON order_search BEGIN "
           f"DELETE FROM order_search_trigrams WHERE rowid = {old} AND (rowid IS NOT {new} OR text IS NOT new.text); "
           f"{add} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_trigrams_on_delete AFTER DELETE ON order_search BEGIN "
           f"DELETE FROM order_search_trigrams WHERE rowid = {old}; END")
    if not filled:
        tx.run(f"INSERT INTO order_search_trigrams (rowid, text) SELECT {_trigram_key('')}, text FROM order_search")


# The bigram table holds what a 2-character search can find: each 2-character piece of an order's search text
# (lower-cased in ASCII, as LIKE compares) with a character beyond ASCII and no space. A typed 2-character
# word has no space once trimmed, and one all in ASCII (digits of a phone or an order number) is scanned by LIKE.
def _findable(text: str) -> str:
    """The piece of the SQL expression text at i is one to keep (the cheap test first: most are ASCII)."""
    return (f"(unicode(substr({text}, i, 1)) > 127 OR unicode(substr({text}, i + 1, 1)) > 127) AND i < length({text}) "
            f"AND instr(substr({text}, i, 2), ' ') = 0 AND instr(substr({text}, i, 2), char(12288)) = 0")


def _bigrams(text: str, where: str = "1") -> str:
    """A subquery: the 2-character pieces (bigram) of the SQL expression text at each i where where holds."""
    return (f"(WITH RECURSIVE at(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM at WHERE i < length({text}) - 1) "
            f"SELECT DISTINCT lower(substr({text}, i, 2)) AS bigram FROM at WHERE {where})")


def order_search_indexed_by_bigrams(tx: Tx) -> None:
    """order_search_bigrams: per 2-character piece of order_search's text the orders that have it, keyed by time
    and id as the trigram index is, kept by triggers on order_search when an order's text or time moves: a
    search for a 2-character name (田中, さと) reads its newest keys and counts them instead of every order."""
    filled = tx.value("SELECT 1 FROM sqlite_master WHERE name = 'order_search_bigrams'")     # run once before
    tx.run("CREATE TABLE IF NOT EXISTS order_search_bigrams (bigram TEXT NOT NULL, key INTEGER NOT NULL, "
           "PRIMARY KEY (bigram, key)) WITHOUT ROWID")
    old, new, was = _trigram_key("old."), _trigram_key("new."), _trigram_key("s.")
    replaced = "(SELECT {} FROM order_search AS s WHERE s.order_id = new.order_id)"
    add = (f"INSERT OR IGNORE INTO order_search_bigrams (bigram, key) SELECT bigram, {new} "
           f"FROM {_bigrams('new.text', _findable('new.text'))};")
    drop = "DELETE FROM order_search_bigrams WHERE key = {} AND bigram IN (SELECT bigram FROM {});"
    # order_search is written by INSERT OR REPLACE, whose delete fires no trigger: the text it replaces is read
    # before, and the pieces are changed only if the text or time moved (a status change leaves the names alone:
    # one look-up, where splitting the text again would cost more than the rest of the write)
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_bigrams_before_insert BEFORE INSERT ON order_search "
           "WHEN NOT EXISTS (SELECT 1 FROM order_search AS s WHERE s.order_id = new.order_id "
           f"AND s.text IS new.text AND {was} IS {new}) BEGIN "
           + drop.format(replaced.format(was), _bigrams(replaced.format("s.text"))) + f" {add} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_bigrams_on_update AFTER UPDATE ON order_search "
           f"WHEN old.text IS NOT new.text OR {old} IS NOT {new} BEGIN "
           + drop.format(old, _bigrams("old.text")) + f" {add} END")
    tx.run("CREATE TRIGGER IF NOT EXISTS order_search_bigrams_on_delete AFTER DELETE ON order_search BEGIN "
           + drop.format(old, _bigrams("old.text")) + " END")
    if not filled:
        tx.run("INSERT OR IGNORE INTO order_search_bigrams (bigram, key) WITH RECURSIVE at(i) AS (SELECT 1 UNION ALL "
               "SELECT i + 1 FROM at WHERE i < (SELECT max(length(text)) FROM order_search)) "
               f"SELECT lower(substr(text, i, 2)) AS bigram, {_trigram_key('')} AS key FROM order_search JOIN at "
               f"ON {_findable('text')} ORDER BY bigram, key")
