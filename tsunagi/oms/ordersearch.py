"""The order list's search box answered from the trigram index (order_search_trigrams): the matching order ids
of one page, newest first, and how many match in all, without reading every order's text or every match."""
from __future__ import annotations

from tsunagi.oms.store import Tx

INDEX = "order_search_trigrams"     # rowid: the order's time (seconds since 2020) above its id, in the low 32 bits
ID_BITS = 0xFFFFFFFF
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
    found = f"(SELECT rowid & {ID_BITS} AS match_id FROM {INDEX} WHERE {INDEX} MATCH ?)"
    matches = tx.value(f"SELECT COUNT(*) FROM {INDEX} WHERE {INDEX} MATCH ?", match)
    if not where:
        # the index is keyed by time: read backwards, its first entries are the newest matches
        return [r[0] for r in tx.all(f"SELECT rowid & {ID_BITS} FROM {INDEX} WHERE {INDEX} MATCH ? "
                                     "ORDER BY rowid DESC LIMIT ? OFFSET ?", match, limit, offset)], matches
    return filtered(tx, found, [match], matches, where, params, limit, offset)


def filtered(tx: Tx, found: str, found_params: list, matches: int, where: str, params: list, limit: int,
             offset: int) -> tuple[list[int], int]:
    """One page of the matches (found: a subquery of their match_id) that pass the filters, and their count."""
    if matches <= FEW:
        # few matches: each looked up in orders and tested against the filters, then sorted
        filters = where.removeprefix(" WHERE ")
        sql, values = f"FROM {found} AS m CROSS JOIN orders ON id = m.match_id AND {filters}", [*found_params, *params]
    else:
        # many: the filters' index (by status, shop, time) walked newest first, each entry looked up in the
        # matches (the unary + keeps SQLite from driving the walk from the matches instead)
        sql, values = f"FROM orders{where} AND +id IN {found}", [*params, *found_params]
    total = tx.value("SELECT COUNT(*) " + sql, *values)
    return [r[0] for r in tx.all(f"SELECT id {sql} ORDER BY ordered_at DESC, id DESC LIMIT ? OFFSET ?",
                                 *values, limit, offset)], total
