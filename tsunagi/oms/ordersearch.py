"""The order list's search box answered from the trigram index (order_search_trigrams): the matching order ids
of one page, newest first, and how many match in all, without reading every order's text."""
from __future__ import annotations

from tsunagi.oms.store import Tx

INDEX = "order_search_trigrams"
SHORTEST = 3          # a trigram index finds substrings of 3 characters or more; shorter ones match nothing
FEW = 2000            # up to this many matches, filters are tested on each match rather than walked


def usable(tx: Tx, words: list[str]) -> bool:
    """True when every word is long enough and this database has the index (an SQLite without the trigram
    tokenizer migrated without it: the caller then scans by LIKE)."""
    if any(len(w) < SHORTEST for w in words):
        return False
    if "has_trigrams" not in tx.memo:
        tx.memo["has_trigrams"] = tx.value("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                           INDEX) is not None
    return tx.memo["has_trigrams"]


def _match(words: list[str]) -> str:
    """An FTS5 query: any of the words as a phrase (each a substring), quotes doubled."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def ids(tx: Tx, words: list[str], where: str, params: list, limit: int, offset: int) -> tuple[list[int], int]:
    """One page of the orders whose text has any of the words and that pass the filters (where: a WHERE
    clause on orders, or ""), newest first, and their count."""
    match = _match(words)
    found = f"(SELECT rowid AS match_id FROM {INDEX} WHERE {INDEX} MATCH ?)"
    matches = tx.value(f"SELECT COUNT(*) FROM {found}", match)
    if not where:
        return _page(tx, found, match, matches, limit, offset), matches
    if matches <= FEW:
        # few matches: each looked up in orders and tested against the filters, then sorted
        filters = where.removeprefix(" WHERE ")
        sql, values = f"FROM {found} AS m CROSS JOIN orders ON id = m.match_id AND {filters}", [match, *params]
    else:
        # many: the filters' index (by status, shop, time) walked newest first, each entry looked up in the
        # matches (the unary + keeps SQLite from driving the walk from the matches instead)
        sql, values = f"FROM orders{where} AND +id IN {found}", [*params, match]
    total = tx.value("SELECT COUNT(*) " + sql, *values)
    return [r[0] for r in tx.all(f"SELECT id {sql} ORDER BY ordered_at DESC, id DESC LIMIT ? OFFSET ?",
                                 *values, limit, offset)], total


def _page(tx: Tx, found: str, match: str, matches: int, limit: int, offset: int) -> list[int]:
    """A page of all the matches, newest first."""
    if _walk(tx, matches, limit + offset):
        # many matches: the newest come early in the index by time, so the walk stops after a few hundred
        sql = (f"SELECT order_id FROM order_search WHERE +order_id IN {found} "
               "ORDER BY ordered_at DESC, order_id DESC LIMIT ? OFFSET ?")
    else:
        # few matches (or a page deep among them): each looked up by id and sorted, the index by time untouched
        sql = (f"SELECT s.order_id FROM {found} AS m CROSS JOIN order_search AS s ON s.order_id = m.match_id "
               "ORDER BY s.ordered_at DESC, s.order_id DESC LIMIT ? OFFSET ?")
    return [r[0] for r in tx.all(sql, match, limit, offset)]


def _walk(tx: Tx, matches: int, upto: int) -> bool:
    """Whether walking the index by time (about upto × orders / matches entries) costs less than looking up
    and sorting every match; ids are dense enough that the highest stands for the number of orders."""
    orders = tx.value("SELECT MAX(order_id) FROM order_search") or 0
    return matches > 0 and upto * orders < matches * matches
