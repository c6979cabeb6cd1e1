"""The store: one narrow interface over SQLite (WAL) with portable SQL, one transaction per apply."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tsunagi.common.clock import timestamp

# DDL is the one place that knows the dialect; DML elsewhere is plain SQL with ? markers.
SCHEMA = """
CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS set_components (
    set_sku TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, PRIMARY KEY (set_sku, sku));
CREATE INDEX IF NOT EXISTS set_components_by_sku ON set_components (sku);
CREATE TABLE IF NOT EXISTS channel_skus (
    shop TEXT NOT NULL, channel_sku TEXT NOT NULL, sku TEXT NOT NULL, PRIMARY KEY (shop, channel_sku));
CREATE INDEX IF NOT EXISTS channel_skus_by_sku ON channel_skus (sku);
CREATE TABLE IF NOT EXISTS locations (location TEXT PRIMARY KEY, priority INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stock (
    sku TEXT NOT NULL, location TEXT NOT NULL, lot TEXT NOT NULL,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, PRIMARY KEY (sku, location, lot));
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    lot TEXT NOT NULL, d_on_hand INTEGER NOT NULL, d_reserved INTEGER NOT NULL,
    cause TEXT NOT NULL, ref TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, shop TEXT NOT NULL, order_no TEXT NOT NULL, status TEXT NOT NULL,
    hold_kind TEXT NOT NULL DEFAULT '', hold_reason TEXT NOT NULL DEFAULT '',
    ordered_at TEXT NOT NULL, total INTEGER NOT NULL, source TEXT NOT NULL, data TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, mail_at TEXT, csv_at TEXT, UNIQUE (shop, order_no));
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, ordered_at);
CREATE INDEX IF NOT EXISTS orders_by_shop ON orders (shop, ordered_at);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, channel_sku TEXT NOT NULL,
    sku TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, options TEXT NOT NULL, qty INTEGER NOT NULL, unit_price INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no));
CREATE TABLE IF NOT EXISTS reservations (
    order_id INTEGER NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL, lot TEXT NOT NULL,
    qty INTEGER NOT NULL, PRIMARY KEY (order_id, sku, location, lot));
CREATE INDEX IF NOT EXISTS reservations_by_slot ON reservations (sku, location, lot);
CREATE TABLE IF NOT EXISTS order_history (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, at TEXT NOT NULL,
    from_status TEXT NOT NULL, to_status TEXT NOT NULL, note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_history_by_order ON order_history (order_id);
CREATE TABLE IF NOT EXISTS applied_items (
    sha256 TEXT PRIMARY KEY, item_id TEXT NOT NULL, applied_at TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL,
    payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_topic ON outbox (topic, id);
CREATE TABLE IF NOT EXISTS consumers (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shipments (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, carrier TEXT NOT NULL, state TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '', exported_at TEXT NOT NULL, file TEXT NOT NULL DEFAULT '',
    tracking TEXT NOT NULL DEFAULT '', ship_date TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS shipment_orders (
    shipment_id INTEGER NOT NULL, order_id INTEGER NOT NULL, PRIMARY KEY (shipment_id, order_id));
CREATE INDEX IF NOT EXISTS shipment_orders_by_order ON shipment_orders (order_id);
CREATE TABLE IF NOT EXISTS confirmations (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, shop TEXT NOT NULL, tracking TEXT NOT NULL,
    file TEXT NOT NULL, written_at TEXT NOT NULL, pushed_at TEXT);
CREATE INDEX IF NOT EXISTS confirmations_by_file ON confirmations (file);
CREATE TABLE IF NOT EXISTS wms_orders (
    order_id INTEGER NOT NULL, wms TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, wms));
CREATE TABLE IF NOT EXISTS mail_stages (
    shop TEXT NOT NULL, stage TEXT NOT NULL, enabled_at TEXT NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (shop, stage));
CREATE TABLE IF NOT EXISTS mails (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, shop TEXT NOT NULL, stage TEXT NOT NULL,
    state TEXT NOT NULL, to_addr TEXT NOT NULL DEFAULT '', due_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT NOT NULL DEFAULT '', answer TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, resend INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS mails_once ON mails (order_id, stage) WHERE resend = 0;
CREATE INDEX IF NOT EXISTS mails_due ON mails (state, due_at);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,
    sent_at TEXT);
CREATE TABLE IF NOT EXISTS outbound_files (
    folder TEXT NOT NULL, name TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (folder, name));
CREATE TABLE IF NOT EXISTS feed_state (
    shop TEXT NOT NULL, channel_sku TEXT NOT NULL, qty INTEGER NOT NULL, published_at TEXT NOT NULL,
    PRIMARY KEY (shop, channel_sku));
"""


class Tx:
    """A transaction's cursor: run, one, all, value. Everything the domain does goes through it."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.memo: dict = {}     # lookups that cannot change while this transaction does not change them

    def run(self, sql: str, *params) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def many(self, sql: str, rows) -> None:
        self._conn.executemany(sql, rows)

    def one(self, sql: str, *params):
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, *params) -> list:
        return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def savepoint(self) -> Iterator["Tx"]:
        """A unit inside the transaction that rolls back alone (one spool item of a batch)."""
        self._conn.execute("SAVEPOINT item")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK TO item")
            self._conn.execute("RELEASE item")
            self.memo.clear()      # what was looked up or noted inside may have been rolled back
            raise
        self._conn.execute("RELEASE item")

    def value(self, sql: str, *params, default=None):
        row = self._conn.execute(sql, params).fetchone()
        return default if row is None or row[0] is None else row[0]


class Store:
    """One SQLite database file; one connection per thread; writes in BEGIN IMMEDIATE transactions."""

    def __init__(self, path: Path | str, synchronous: str = "FULL"):
        self.path = str(path)
        self.synchronous = synchronous
        self._local = threading.local()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as tx:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    tx.run(statement)
            _add_columns(tx)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")    # 64 MB: imports touch orders, lines and stock at random
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self) -> Tx:
        """For queries outside a write transaction (each statement sees a consistent snapshot)."""
        return Tx(self._conn())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# Columns added after a table was first created: (table, column, type), added where missing.
LATER_COLUMNS = (("orders", "mail_at", "TEXT"), ("orders", "csv_at", "TEXT"),
                 ("products", "tags", "TEXT NOT NULL DEFAULT ''"),
                 ("shipments", "skus", "TEXT NOT NULL DEFAULT ''"),
                 ("orders", "carrier", "TEXT NOT NULL DEFAULT ''"))


def _add_columns(tx: Tx) -> None:
    for table, column, kind in LATER_COLUMNS:
        if column not in {row[1] for row in tx.all(f"PRAGMA table_info({table})")}:
            tx.run(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def already_applied(tx: Tx, sha256: str) -> bool:
    return tx.one("SELECT 1 FROM applied_items WHERE sha256 = ?", sha256) is not None


def record_applied(tx: Tx, sha256: str, item_id: str, outcome: str) -> None:
    tx.run("INSERT INTO applied_items (sha256, item_id, applied_at, outcome) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (sha256) DO NOTHING", sha256, item_id, timestamp(), outcome)
