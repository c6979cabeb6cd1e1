"""Numbered schema migrations; a database records the last one applied in PRAGMA user_version."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from tsunagi.oms.searchmigrations import (
    order_search_indexed_by_bigrams,
    order_search_indexed_by_trigrams,
    orders_searchable_by_name_kana_phone,
)

if TYPE_CHECKING:
    from tsunagi.oms.store import Tx

# DDL lives here (the search tables' in searchmigrations.py), where the dialect is known; DML elsewhere is plain SQL.
# Migration 1 is the schema as the last release before numbered migrations left it. Its DDL is frozen:
# a later change is a new numbered step below, never an edit here (a database at 1 has run this text).
V1_SCHEMA = """
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

# Columns the unnumbered releases added to existing tables with ALTER TABLE: (table, column, type).
V1_LATER_COLUMNS = (("orders", "mail_at", "TEXT"), ("orders", "csv_at", "TEXT"),
                    ("products", "tags", "TEXT NOT NULL DEFAULT ''"),
                    ("shipments", "skus", "TEXT NOT NULL DEFAULT ''"),
                    ("orders", "carrier", "TEXT NOT NULL DEFAULT ''"))


def v1_schema(tx: Tx) -> None:
    """The whole schema of the unnumbered releases; what one of their databases lacks is added in place."""
    # IF NOT EXISTS and the column check make this step also the upgrade of a database at version 0
    for statement in V1_SCHEMA.split(";"):
        if statement.strip():
            tx.run(statement)
    for table, column, kind in V1_LATER_COLUMNS:
        if column not in {row[1] for row in tx.all(f"PRAGMA table_info({table})")}:
            tx.run(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


# MIGRATIONS[n - 1] brings a database from version n - 1 to n, inside one transaction. Only append.
def mails_follow_the_outbox(tx: Tx) -> None:
    """Buyer mails became a consumer of the outbox; those of earlier events were queued with them, so the
    consumer starts after the last event (never mailing an old order again)."""
    tx.run("INSERT INTO consumers (name, last_id) SELECT 'mails', COALESCE(MAX(id), 0) FROM outbox WHERE 1 "
           "ON CONFLICT (name) DO NOTHING")


def mails_remember_when_they_began_failing(tx: Tx) -> None:
    """A buyer mail the relay keeps refusing is given up after relay.give_up_hours counted from its first
    temporary failure, which is kept here (none: it has not failed since it was last queued)."""
    tx.run("ALTER TABLE mails ADD COLUMN failing_since TEXT")


def order_versions(tx: Tx) -> None:
    """Other versions of an order: the copy that disagreed when it held the order (pending until a person
    adopts it or keeps the current one), and the lines and amounts an adoption replaced."""
    tx.run("CREATE TABLE IF NOT EXISTS order_versions (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, "
           "at TEXT NOT NULL, source TEXT NOT NULL, digest TEXT NOT NULL, content TEXT NOT NULL, state TEXT NOT NULL, "
           "decided_at TEXT NOT NULL DEFAULT '', decided_by TEXT NOT NULL DEFAULT '')")
    tx.run("CREATE INDEX IF NOT EXISTS order_versions_by_order ON order_versions (order_id, state)")


def csv_files_recorded_row_by_row(tx: Tx) -> None:
    """A CSV file is recorded row by row: the rows a run applied (kept until the file is finished, so a run
    stopped part-way applies none twice) and the rows refused with their reasons (kept until applied)."""
    tx.run("CREATE TABLE IF NOT EXISTS file_runs (sha256 TEXT PRIMARY KEY, item_id TEXT NOT NULL, "
           "updated_at TEXT NOT NULL)")
    tx.run("CREATE TABLE IF NOT EXISTS file_rows (sha256 TEXT NOT NULL, row INTEGER NOT NULL, state TEXT NOT NULL, "
           "reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (sha256, row))")


def mails_record_the_address_they_went_to(tx: Tx) -> None:
    """The address each buyer mail was handed to the relay for (to_addr is only the one a resend asked for);
    earlier mails sent to an asked-for address keep it."""
    tx.run("ALTER TABLE mails ADD COLUMN sent_to TEXT NOT NULL DEFAULT ''")
    tx.run("UPDATE mails SET sent_to = to_addr WHERE to_addr <> '' AND state IN ('sent', 'uncertain')")


def products_found_by_code_in_any_case(tx: Tx) -> None:
    """A product code is looked up in any case (ABC-1 for abc-1) for every products and count row: indexed."""
    tx.run("CREATE INDEX IF NOT EXISTS products_by_lower_sku ON products (lower(sku))")


def stock_remembers_when_it_was_counted(tx: Tx) -> None:
    """Each stock row keeps when its figure was last counted (an absolute count's time, as ISO 8601;
    '' never counted), so an older count arriving late never overwrites a newer one."""
    tx.run("ALTER TABLE stock ADD COLUMN counted_at TEXT NOT NULL DEFAULT ''")


def orders_remember_their_csv_rows(tx: Tx) -> None:
    """The digest of the CSV rows an order was last applied from, and the order's updated_at just after: a
    re-pulled file's order with the same digest, not touched since, is left as it is without being made."""
    tx.run("CREATE TABLE IF NOT EXISTS order_csv_digests (order_id INTEGER PRIMARY KEY, digest TEXT NOT NULL, "
           "stamp TEXT NOT NULL)")


def payments_received(tx: Tx) -> None:
    """Incoming payments (bank statements, settlement files, confirmed by hand): each kept once by its key,
    with the order it paid (none: unmatched) and what became of it (confirmed, partial, over, unmatched,
    ambiguous), for 入金待ち orders and `payment unmatched`."""
    tx.run("CREATE TABLE IF NOT EXISTS payments (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
           "order_id INTEGER, shop TEXT NOT NULL DEFAULT '', paid_on TEXT NOT NULL DEFAULT '', amount INTEGER NOT NULL, "
           "payer TEXT NOT NULL DEFAULT '', reference TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
           "note TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', recorded_at TEXT NOT NULL, "
           "recorded_by TEXT NOT NULL DEFAULT '')")
    tx.run("CREATE INDEX IF NOT EXISTS payments_by_order ON payments (order_id)")
    tx.run("CREATE INDEX IF NOT EXISTS payments_by_state ON payments (state)")


def unsellable_locations(tx: Tx) -> None:
    """Locations whose stock is never reserved nor published (returned damaged units, 返品不良)."""
    tx.run("CREATE TABLE IF NOT EXISTS unsellable_locations (location TEXT PRIMARY KEY)")


def orders_related_by_split_merge_copy(tx: Tx) -> None:
    """Which order a split part, a merge's absorbed order or a re-shipment copy came from (kind split, merge,
    copy), when and by whom: for shipment confirmations and the order's history."""
    tx.run("CREATE TABLE IF NOT EXISTS order_relations (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL, "
           "kind TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL DEFAULT '', PRIMARY KEY (parent_id, child_id))")
    tx.run("CREATE INDEX IF NOT EXISTS order_relations_by_child ON order_relations (child_id)")


def outbound_files_have_a_delivery_state(tx: Tx) -> None:
    """Every file of spool/outbox/<target>/ready/: written, sent (by which endpoint, or by hand), failed (the last
    error) or rejected (the channel's result file said so), with when each happened."""
    tx.run("CREATE TABLE IF NOT EXISTS deliveries (target TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, "
           "state TEXT NOT NULL, written_at TEXT NOT NULL, sent_at TEXT, failed_at TEXT, rejected_at TEXT, "
           "updated_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, sent_by TEXT NOT NULL DEFAULT '', "
           "remote TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '', stale_alerted_at TEXT, "
           "PRIMARY KEY (target, name))")
    tx.run("CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state, written_at)")


def lines_and_parcels_name_their_recipient(tx: Tx) -> None:
    """An order may ship to several recipients (楽天's 複数送付先): each line names its recipient (1 is the order's
    ship_to, 2… the order's more_ship_to), and each parcel the recipient it goes to (0: the whole order's)."""
    tx.run("ALTER TABLE order_lines ADD COLUMN recipient INTEGER NOT NULL DEFAULT 1")
    tx.run("ALTER TABLE shipments ADD COLUMN recipient INTEGER NOT NULL DEFAULT 0")
    # the few orders with a line to another recipient are found at every label export without a scan
    tx.run("CREATE INDEX IF NOT EXISTS order_lines_to_other_recipients ON order_lines (order_id) WHERE recipient <> 1")


def channels_report_their_stock(tx: Tx) -> None:
    """When each shop's feed was last written whole (a resync), and the figures a channel's own stock download
    gave with what tsunagi had published then (a drift where they differ; repush: to be written again)."""
    tx.run("CREATE TABLE IF NOT EXISTS feed_resyncs (shop TEXT PRIMARY KEY, at TEXT NOT NULL)")
    tx.run("CREATE TABLE IF NOT EXISTS channel_stock (shop TEXT NOT NULL, channel_sku TEXT NOT NULL, "
           "qty INTEGER NOT NULL, reported_at TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', published INTEGER, "
           "published_at TEXT, repush INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (shop, channel_sku))")
    tx.run("CREATE INDEX IF NOT EXISTS channel_stock_to_repush ON channel_stock (shop) WHERE repush = 1")


def shops_remember_whether_their_mail_spec_reads(tx: Tx) -> None:
    """Per shop: whether its mail spec has read a mail, the failures in a row since, whether they were
    reported, and the fingerprint of the spec files in use (a switch retries what they refused)."""
    tx.run("CREATE TABLE IF NOT EXISTS mail_spec_health (shop TEXT PRIMARY KEY, worked INTEGER NOT NULL DEFAULT 0, "
           "failing INTEGER NOT NULL DEFAULT 0, alerted INTEGER NOT NULL DEFAULT 0, "
           "failures TEXT NOT NULL DEFAULT '[]', spec TEXT NOT NULL DEFAULT '')")


def console_users_sessions_and_audit(tx: Tx) -> None:
    """The web console's people (name, role, argon2 hash of the password), their logins (a session token's
    sha256, its CSRF token, when it ends) and the audit log of what each did there; orders by time for its
    order list."""
    tx.run("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, "
           "created_at TEXT NOT NULL)")
    tx.run("CREATE TABLE IF NOT EXISTS web_sessions (token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, "
           "csrf TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL)")
    tx.run("CREATE INDEX IF NOT EXISTS web_sessions_by_user ON web_sessions (user_name)")
    tx.run("CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_name TEXT NOT NULL, "
           "action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')")
    # the order list, newest first: all orders, and a status of a shop (its count read off the index alone)
    tx.run("CREATE INDEX IF NOT EXISTS orders_by_time ON orders (ordered_at, id)")
    tx.run("CREATE INDEX IF NOT EXISTS orders_by_status_shop ON orders (status, shop, ordered_at, id)")


def csv_digests_kept_by_order_number(tx: Tx) -> None:
    """order_csv_digests keyed by (shop, order number) and dropped by a trigger when the order is touched
    (its updated_at, number or shop moves): a re-pulled file's orders are then one range read of a narrow
    table, never a probe into orders each."""
    tx.run("ALTER TABLE order_csv_digests RENAME TO order_csv_digests_by_id")
    tx.run("CREATE TABLE order_csv_digests (shop TEXT NOT NULL, order_no TEXT NOT NULL, digest TEXT NOT NULL, "
           "PRIMARY KEY (shop, order_no)) WITHOUT ROWID")
    tx.run("INSERT OR REPLACE INTO order_csv_digests (shop, order_no, digest) SELECT o.shop, o.order_no, d.digest "
           "FROM order_csv_digests_by_id d JOIN orders o ON o.id = d.order_id AND o.updated_at = d.stamp")
    tx.run("DROP TABLE order_csv_digests_by_id")
    forget = "DELETE FROM order_csv_digests WHERE shop = old.shop AND order_no = old.order_no;"
    tx.run("CREATE TRIGGER IF NOT EXISTS order_csv_digests_on_update AFTER UPDATE ON orders "
           "WHEN new.updated_at IS NOT old.updated_at OR new.order_no IS NOT old.order_no "
           f"OR new.shop IS NOT old.shop BEGIN {forget} END")
    tx.run(f"CREATE TRIGGER IF NOT EXISTS order_csv_digests_on_delete AFTER DELETE ON orders BEGIN {forget} END")


def mails_keep_what_they_said(tx: Tx) -> None:
    """mail_contents: each buyer mail's subject and text (zlib) as handed to the relay, so the log shows
    what the buyer got, not what the templates would say today."""
    tx.run("CREATE TABLE IF NOT EXISTS mail_contents (mail_id INTEGER PRIMARY KEY, subject TEXT NOT NULL, "
           "body BLOB NOT NULL)")


def deleted_products_leave_the_feeds_once_told(tx: Tx) -> None:
    """A shop's unsent stock file and the files merged into it are one chain (feed_chains: its number and the
    file it was last written to); each published figure names the chain it went into and the figure before that
    chain (what the channel holds until the file is read). A deleted product's codes wait in feed_retired until
    each shop's channel holds 0 for them, or never held more."""
    have = {r[1] for r in tx.all("PRAGMA table_info(feed_state)")}     # run again safely (a test replays it)
    for column in ("chain", "prior"):
        if column not in have:
            tx.run(f"ALTER TABLE feed_state ADD COLUMN {column} INTEGER")
    tx.run("CREATE TABLE IF NOT EXISTS feed_chains (shop TEXT PRIMARY KEY, chain INTEGER NOT NULL, file TEXT NOT NULL)")
    tx.run("CREATE TABLE IF NOT EXISTS feed_retired (shop TEXT NOT NULL, channel_sku TEXT NOT NULL, "
           "sku TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', PRIMARY KEY (shop, channel_sku))")


MIGRATIONS: tuple[Callable[[Tx], None], ...] = (v1_schema, mails_follow_the_outbox,
                                                 mails_remember_when_they_began_failing, order_versions,
                                                 csv_files_recorded_row_by_row,
                                                 mails_record_the_address_they_went_to,
                                                 products_found_by_code_in_any_case,
                                                 stock_remembers_when_it_was_counted,
                                                 orders_remember_their_csv_rows,
                                                 payments_received, unsellable_locations,
                                                 orders_related_by_split_merge_copy,
                                                 outbound_files_have_a_delivery_state,
                                                 lines_and_parcels_name_their_recipient,
                                                 channels_report_their_stock,
                                                 shops_remember_whether_their_mail_spec_reads,
                                                 console_users_sessions_and_audit,
                                                 orders_searchable_by_name_kana_phone,
                                                 csv_digests_kept_by_order_number,
                                                 order_search_indexed_by_trigrams,
                                                 mails_keep_what_they_said,
                                                 deleted_products_leave_the_feeds_once_told,
                                                 order_search_indexed_by_bigrams)
LATEST = len(MIGRATIONS)
