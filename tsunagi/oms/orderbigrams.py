"""The order list's search for 2 characters answered from order_search_bigrams: the newest keys of the typed
piece read backwards and counted, without reading every order's text."""
from __future__ import annotations

from tsunagi.oms import ordersearch
from tsunagi.oms.store import Tx

TABLE = "order_search_bigrams"      # (bigram, key): key is the trigram index's (time above id)
ID_BITS = ordersearch.ID_BITS
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _findable(word: str) -> bool:
    """What the table holds: 2 characters, no space, one beyond ASCII (an all-ASCII word, such as 2 digits of a
    phone or an order number, is left to the LIKE scan)."""
    return len(word) == 2 and not any(c.isspace() for c in word) and any(ord(c) > 127 for c in word)


def usable(tx: Tx, words: list[str]) -> bool:
    """True when every word is one the table holds and this database has the table."""
    if not all(_findable(w) for w in words):
        return False
    if "has_bigrams" not in tx.memo:
        tx.memo["has_bigrams"] = tx.value("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                          TABLE) is not None
    return tx.memo["has_bigrams"]


def ids(tx: Tx, words: list[str], where: str, params: list, limit: int, offset: int) -> tuple[list[int], int]:
    """One page of the orders whose text has any of the words and that pass the filters, newest first, and
    their count (LIKE compares ASCII letters in any case: the table and the words are lower-cased alike)."""
    grams = sorted({w.translate(_ASCII_LOWER) for w in words})
    keys = " UNION ".join([f"SELECT key FROM {TABLE} WHERE bigram = ?"] * len(grams))
    matches = _count(tx, grams, keys)
    if not where:
        return [r[0] & ID_BITS for r in tx.all(f"{keys} ORDER BY key DESC LIMIT ? OFFSET ?",
                                               *grams, limit, offset)], matches
    found = f"(SELECT key & {ID_BITS} AS match_id FROM ({keys}))"       # each match once, as UNION leaves them
    return ordersearch.filtered(tx, found, grams, matches, where, params, limit, offset)


def _count(tx: Tx, grams: list[str], keys: str) -> int:
    """How many orders have any of the pieces. Two (as typed and in katakana): each one's count less the orders
    with both, looked up from the rarer (often none: names come in katakana), not the union sorted."""
    if len(grams) != 2:
        return tx.value(f"SELECT COUNT(*) FROM ({keys})", *grams)
    counts = {g: tx.value(f"SELECT COUNT(*) FROM {TABLE} WHERE bigram = ?", g) for g in grams}
    rare, common = sorted(grams, key=counts.get)
    if not counts[rare]:
        return counts[common]
    return counts[rare] + counts[common] - tx.value(
        f"SELECT COUNT(*) FROM {TABLE} AS a WHERE a.bigram = ? AND EXISTS "
        f"(SELECT 1 FROM {TABLE} AS b WHERE b.bigram = ? AND b.key = a.key)", rare, common)
