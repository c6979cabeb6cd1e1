"""The domain's promises: allocation rules, sets, absolute counts, and invariants under any sequence."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tsunagi.oms import catalog, counting, orders, stock
from tsunagi.oms.records import OrderLine, OrderRecord, ProductRecord, StockRecord
from tsunagi.oms.store import Store
from tsunagi.common.clock import JST

T0 = datetime(2026, 6, 1, tzinfo=JST)


def fresh(tmp_path, name="t.db") -> Store:
    store = Store(tmp_path / name, synchronous="OFF")
    with store.transaction() as tx:
        stock.set_locations(tx, ["main", "annex"])
        for sku in ("A", "B"):
            catalog.upsert_product(tx, ProductRecord(sku, sku))
        catalog.upsert_product(tx, ProductRecord("AB", "set", components=(("A", 1), ("B", 2)), channel_sku="ab-set"))
    return store


def order(no: str, *lines: tuple[str, int], minutes: int = 0) -> OrderRecord:
    ls = tuple(OrderLine(code, code, qty, 100) for code, qty in lines)
    return OrderRecord("shop", no, T0 + timedelta(minutes=minutes), ls, sum(l.qty * 100 for l in ls))


def reservations(tx, no):
    oid = tx.value("SELECT id FROM orders WHERE order_no = ?", no)
    return tx.all("SELECT sku, location, lot, qty FROM reservations WHERE order_id = ? ORDER BY sku, location, lot", oid)


def test_reservation_takes_locations_by_priority_then_lots_ascending(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        for loc, lot, qty in [("annex", "1", 9), ("main", "10", 2), ("main", "9", 2)]:
            counting.apply_count(tx, StockRecord("A", loc, lot, qty), "t")
        orders.apply_order(tx, order("1", ("A", 5)))
        assert reservations(tx, "1") == [("A", "annex", "1", 1), ("A", "main", "10", 2), ("A", "main", "9", 2)]
        assert [r[2] for r in stock.free_slots(tx, "A")] == [8]


def test_a_short_line_reserves_nothing_and_waits(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        counting.apply_count(tx, StockRecord("A", "main", "", 5), "t")
        counting.apply_count(tx, StockRecord("B", "main", "", 1), "t")
        assert orders.apply_order(tx, order("1", ("A", 2), ("B", 2))) == "created"
        assert tx.value("SELECT status FROM orders") == "awaiting_stock"
        assert tx.value("SELECT SUM(reserved) FROM stock") == 0


def test_waiting_orders_are_placed_oldest_first_when_stock_arrives(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        orders.apply_order(tx, order("late", ("A", 1), minutes=5))
        orders.apply_order(tx, order("early", ("A", 1), minutes=1))
        counting.apply_count(tx, StockRecord("A", "main", "", 1), "t")
        orders.retry_waiting(tx)
        assert dict(tx.all("SELECT order_no, status FROM orders")) == {"early": "new", "late": "awaiting_stock"}


def test_a_set_reserves_its_components(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        counting.apply_count(tx, StockRecord("A", "main", "", 5), "t")
        counting.apply_count(tx, StockRecord("B", "main", "", 5), "t")
        orders.apply_order(tx, order("1", ("ab-set", 2)))
        assert {r["sku"]: r["reserved"] for r in stock.rows(tx)} == {"A": 2, "B": 4}


def test_an_unmapped_channel_sku_holds_the_order_and_a_later_master_releases_it(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        counting.apply_count(tx, StockRecord("A", "main", "", 5), "t")
        orders.apply_order(tx, order("1", ("a-red", 1)))
        assert tx.one("SELECT status, hold_kind FROM orders") == ("hold", "unknown_sku")
        catalog.upsert_product(tx, ProductRecord("A", "A", channel_sku="a-red", shop="shop"))
        orders.retry_waiting(tx)
        assert tx.value("SELECT status FROM orders") == "new"


def test_importing_the_same_count_twice_changes_nothing(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        assert counting.apply_count(tx, StockRecord("A", "main", "", 5), "t") is True
        ledger = tx.value("SELECT COUNT(*) FROM ledger")
        assert counting.apply_count(tx, StockRecord("A", "main", "", 5), "t") is False
        assert tx.value("SELECT COUNT(*) FROM ledger") == ledger
        assert stock.rows(tx)[0]["on_hand"] == 5


def test_a_count_below_the_reserved_makes_the_newest_order_give_way(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        counting.apply_count(tx, StockRecord("A", "main", "", 4), "t")
        orders.apply_order(tx, order("old", ("A", 2), minutes=1))
        orders.apply_order(tx, order("new", ("A", 2), minutes=2))
        counting.apply_count(tx, StockRecord("A", "main", "", 3), "t")
        assert dict(tx.all("SELECT order_no, status FROM orders")) == {"old": "new", "new": "awaiting_stock"}
        assert stock.rows(tx)[0] == {"sku": "A", "on_hand": 3, "reserved": 2, "free": 1}


def test_the_same_order_again_never_reserves_twice_and_a_changed_one_goes_on_hold(tmp_path):
    store = fresh(tmp_path)
    with store.transaction() as tx:
        counting.apply_count(tx, StockRecord("A", "main", "", 9), "t")
        assert orders.apply_order(tx, order("1", ("A", 2))) == "created"
        assert orders.apply_order(tx, order("1", ("A", 2))) == "unchanged"
        assert stock.rows(tx)[0]["reserved"] == 2
        assert orders.apply_order(tx, order("1", ("A", 3))) == "conflict"
        status, reason = tx.one("SELECT status, hold_reason FROM orders")
        assert status == "hold" and "A×2" in reason and "A×3" in reason
        assert stock.rows(tx)[0]["reserved"] == 0


steps = st.lists(st.one_of(
    st.tuples(st.just("count"), st.sampled_from("AB"), st.sampled_from(["main", "annex"]),
              st.sampled_from(["1", "2"]), st.integers(0, 8)),
    st.tuples(st.just("order"), st.integers(0, 5), st.sampled_from(["A", "B", "ab-set"]), st.integers(1, 4)),
    st.tuples(st.just("retry"),),
), max_size=30)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_invariants_hold_after_any_sequence(tmp_path_factory, seq):
    store = fresh(tmp_path_factory.mktemp("h"))
    with store.transaction() as tx:
        for n, step in enumerate(seq):
            if step[0] == "count":
                counting.apply_count(tx, StockRecord(step[1], step[2], step[3], step[4]), "h")
            elif step[0] == "order":
                orders.apply_order(tx, order(str(step[1]), (step[2], step[3]), minutes=n))
            else:
                orders.retry_waiting(tx)
        for sku, loc, lot, on_hand, reserved in tx.all("SELECT sku, location, lot, on_hand, reserved FROM stock"):
            assert 0 <= reserved <= on_hand, (sku, loc, lot)
            assert tx.one("SELECT SUM(d_on_hand), SUM(d_reserved) FROM ledger WHERE sku = ? AND location = ? "
                          "AND lot = ?", sku, loc, lot) == (on_hand, reserved)
            held = tx.value("SELECT SUM(qty) FROM reservations WHERE sku = ? AND location = ? AND lot = ?",
                            sku, loc, lot, default=0)
            assert held == reserved
        for row in stock.rows(tx):
            assert row["free"] >= 0
        for status, n in tx.all("SELECT o.status, COUNT(r.order_id) FROM orders o "
                                "LEFT JOIN reservations r ON r.order_id = o.id GROUP BY o.id"):
            assert (n > 0) == (status == "new"), status
