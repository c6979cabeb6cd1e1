"""The store's promises: numbered migrations that keep every row, refusal of a newer schema, and
read-only access that never waits for a writer and never creates anything."""
from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tsunagi.common.clock import JST
from tsunagi.oms import migrations, orders
from tsunagi.oms.records import OrderLine, OrderRecord
from tsunagi.oms.store import Store, StoreError

SCHEMA_V0 = Path(__file__).parent / "data" / "schema_v0.sql"     # written by tests/data/make_schema_v0.py


def v0_database(path: Path) -> Path:
    """A database as the release before numbered migrations left it: no version, every kind of row."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V0.read_text(encoding="utf-8"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return path


def contents(path: Path) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    conn.close()
    return out


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- migrations --------------------------------------------------------------------------------------

def test_a_new_database_starts_at_the_latest_schema_version(tmp_path):
    store = Store(tmp_path / "var" / "t.db")
    assert store.version() == migrations.LATEST == user_version(tmp_path / "var" / "t.db")


def test_a_database_of_the_release_before_numbered_migrations_is_upgraded_in_place_keeping_every_row(tmp_path):
    path = v0_database(tmp_path / "t.db")
    before = contents(path)
    assert user_version(path) == 0 and before["orders"] and before["reservations"] and before["ledger"]
    assert before["mails"] and before["applied_items"] and before["outbox"] and before["order_lines"]
    Store(path).close()
    assert user_version(path) == migrations.LATEST
    after = contents(path)
    assert after.pop("consumers") == before.pop("consumers") + [("mails", max(r[0] for r in before["outbox"]))]
    # none failing since, none handed to the relay yet (sent_to)
    assert after.pop("mails") == [row + (None, "") for row in before.pop("mails")]
    assert after.pop("order_versions") == []          # a table a later migration added, empty
    assert after.pop("file_runs") == after.pop("file_rows") == []     # and so are these
    assert after.pop("stock") == [row + ("",) for row in before.pop("stock")]     # never counted since
    assert after.pop("order_csv_digests") == []       # another: no order was applied from a CSV since
    assert after.pop("payments") == []                # payments_received: none recorded yet
    assert after.pop("unsellable_locations") == []    # none marked until a config names 返品不良
    assert after.pop("order_relations") == []         # no split, merge or copy yet
    assert after.pop("deliveries") == []              # no file's delivery recorded yet
    # each line goes to recipient 1 (the order's ship_to); each parcel to the order's recipient (0)
    assert after.pop("order_lines") == [row + (1,) for row in before.pop("order_lines")]
    assert after.pop("shipments") == [row + (0,) for row in before.pop("shipments")]
    assert after.pop("feed_resyncs") == after.pop("channel_stock") == []    # no resync, no channel download yet
    assert after.pop("mail_spec_health") == []        # no shop's mail read since
    assert after.pop("users") == after.pop("web_sessions") == after.pop("audit_log") == []    # nobody uses the console yet
    assert after.pop("mail_contents") == []           # what mails said is kept from now on
    search = after.pop("order_search")
    assert sorted(r[0] for r in search) == sorted(r[0] for r in before["orders"])   # searchable
    # and each order's search text in the trigram index (the FTS5 table's content, keyed by time above the id)
    assert sorted((key & 0xFFFFFFFF, text) for key, text in after.pop("order_search_trigrams_content")) == sorted(
        (r[0], r[2]) for r in search)
    for part in ("", "_config", "_data", "_docsize", "_idx"):
        after.pop("order_search_trigrams" + part)
    assert after.pop("feed_chains") == after.pop("feed_retired") == []    # no unsent chain, no product deleted yet
    # and each 2-character piece of a name a 2-character search can find (山田, 花子), under the same key
    assert sorted((piece, key & 0xFFFFFFFF) for piece, key in after.pop("order_search_bigrams")) == sorted(
        (text[i:i + 2], r[0]) for r in search for text in [r[2]] for i in range(len(text) - 1)
        if " " not in text[i:i + 2] and not text[i:i + 2].isascii())
    assert after == before


def test_an_upgraded_database_queues_no_mail_again_for_what_happened_before(tmp_path):
    from tsunagi.outbound import mailqueue
    store = Store(v0_database(tmp_path / "t.db"))
    mails = store.read().value("SELECT COUNT(*) FROM mails")
    mailqueue.drain(store)
    assert store.read().value("SELECT COUNT(*) FROM mails") == mails


def test_an_upgraded_database_takes_new_orders_beside_the_old_ones(tmp_path):
    store = Store(v0_database(tmp_path / "t.db"))
    with store.transaction() as tx:
        late = OrderRecord("shop", "1003", datetime(2026, 6, 2, tzinfo=JST), (OrderLine("A", "商品A", 1, 1000),), 1000)
        assert orders.apply_order(tx, late) == "created"
        assert tx.value("SELECT SUM(reserved) FROM stock WHERE sku = 'A'") == 3
        assert tx.all("SELECT order_no, status FROM orders ORDER BY id") == [
            ("1001", "new"), ("1002", "hold"), ("1003", "new")]


def test_opening_an_upgraded_database_again_changes_nothing(tmp_path):
    path = v0_database(tmp_path / "t.db")
    Store(path).close()
    once = fingerprint(path)
    Store(path).close()
    assert fingerprint(path) == once and user_version(path) == migrations.LATEST


def test_a_database_missing_a_later_column_gets_it_with_its_default(tmp_path):
    path = v0_database(tmp_path / "t.db")
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE orders DROP COLUMN carrier")
    conn.execute("ALTER TABLE products DROP COLUMN tags")
    conn.commit()
    conn.close()
    store = Store(path)
    assert "carrier" in columns(path, "orders") and "tags" in columns(path, "products")
    assert store.read().all("SELECT order_no, carrier FROM orders ORDER BY id") == [("1001", ""), ("1002", "")]
    assert store.read().all("SELECT sku, tags FROM products ORDER BY sku") == [("A", ""), ("B", "")]


def test_a_database_from_a_newer_tsunagi_is_refused_in_one_line_and_left_alone(tmp_path):
    path = v0_database(tmp_path / "t.db")
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    conn.close()
    before = fingerprint(path)
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert (f"written by a newer tsunagi (schema {migrations.LATEST + 1}, this one knows {migrations.LATEST}): "
            "upgrade tsunagi") in message and "\n" not in message
    assert fingerprint(path) == before


def test_migrations_run_in_order_each_in_its_own_transaction(tmp_path, monkeypatch):
    path = tmp_path / "t.db"
    Store(path).close()

    def v2_broken(tx):
        """Adds a table, then fails: the table must not stay."""
        tx.run("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("migration 2 failed")

    def v2(tx):
        """Adds a table."""
        tx.run("CREATE TABLE done (x INTEGER)")

    known = migrations.MIGRATIONS
    monkeypatch.setattr(migrations, "MIGRATIONS", (*known, v2_broken))
    monkeypatch.setattr(migrations, "LATEST", len(known) + 1)
    with pytest.raises(RuntimeError):
        Store(path)
    assert user_version(path) == len(known) and "half_done" not in contents(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*known, v2))
    assert Store(path).version() == len(known) + 1 and "done" in contents(path)


# -- read-only access --------------------------------------------------------------------------------

HOLDER = """
import sys
from tsunagi.oms.store import Store
store = Store(sys.argv[1])
with store.transaction() as tx:
    tx.run("INSERT INTO applied_items (sha256, item_id, applied_at, outcome) VALUES ('x', 'uncommitted', '', '')")
    print("holding", flush=True)
    sys.stdin.readline()          # until the test has read
    raise SystemExit(0)           # leaves without committing: the row never lands
"""


def test_a_read_only_store_answers_at_once_while_another_process_holds_a_write_transaction(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        reader = Store.open_read_only(path)
        items = reader.read().all("SELECT item_id FROM applied_items")
        assert time.monotonic() - started < 1.0
        assert items == []
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0


def test_a_read_only_store_sees_each_new_commit(tmp_path):
    path = tmp_path / "t.db"
    writer = Store(path)
    reader = Store.open_read_only(path)
    assert reader.read().value("SELECT COUNT(*) FROM applied_items") == 0
    with writer.transaction() as tx:
        tx.run("INSERT INTO applied_items (sha256, item_id, applied_at, outcome) VALUES ('x', 'i', '', '')")
    assert reader.read().value("SELECT COUNT(*) FROM applied_items") == 1


def test_a_read_only_store_reads_a_database_closed_cleanly_without_its_shm_file(tmp_path):
    path = v0_database(tmp_path / "t.db")
    Store(path).close()
    assert not Path(f"{path}-shm").exists() and not Path(f"{path}-wal").exists()
    before = fingerprint(path)
    reader = Store.open_read_only(path)
    assert reader.read().all("SELECT order_no FROM orders ORDER BY id") == [("1001",), ("1002",)]
    reader.close()
    assert fingerprint(path) == before
    with Store(path).transaction() as tx:       # whatever SQLite left beside it, a writer still writes
        tx.run("DELETE FROM applied_items")


def test_a_read_only_store_never_creates_a_database(tmp_path):
    path = tmp_path / "var" / "tsunagi.db"
    with pytest.raises(StoreError, match="no database at .*: start tsunagi serve once, or run tsunagi import"):
        Store.open_read_only(path)
    assert not (tmp_path / "var").exists()


def test_a_read_only_store_refuses_to_write(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    reader = Store.open_read_only(path)
    with pytest.raises(StoreError, match="read-only"):
        with reader.transaction():
            pass
    with pytest.raises(sqlite3.OperationalError):
        reader.read().run("DELETE FROM orders")


def test_a_read_only_store_does_not_migrate_an_older_database_and_says_who_does(tmp_path):
    path = v0_database(tmp_path / "t.db")
    before = fingerprint(path)
    with pytest.raises(StoreError, match="has schema 0, this tsunagi reads .*start tsunagi serve"):
        Store.open_read_only(path)
    assert fingerprint(path) == before and user_version(path) == 0


def test_a_read_only_store_refuses_a_newer_database(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError, match="written by a newer tsunagi"):
        Store.open_read_only(path)
