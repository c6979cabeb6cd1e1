PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '');
INSERT INTO products VALUES('A','商品A','');
INSERT INTO products VALUES('B','商品B','');
CREATE TABLE set_components (
    set_sku TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, PRIMARY KEY (set_sku, sku));
CREATE TABLE channel_skus (
    shop TEXT NOT NULL, channel_sku TEXT NOT NULL, sku TEXT NOT NULL, PRIMARY KEY (shop, channel_sku));
CREATE TABLE locations (location TEXT PRIMARY KEY, priority INTEGER NOT NULL);
INSERT INTO locations VALUES('main',1);
CREATE TABLE stock (
    sku TEXT NOT NULL, location TEXT NOT NULL, lot TEXT NOT NULL,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, PRIMARY KEY (sku, location, lot));
INSERT INTO stock VALUES('A','main','1',10,2);
INSERT INTO stock VALUES('B','main','1',5,1);
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    lot TEXT NOT NULL, d_on_hand INTEGER NOT NULL, d_reserved INTEGER NOT NULL,
    cause TEXT NOT NULL, ref TEXT NOT NULL);
INSERT INTO ledger VALUES(1,'2026-12-01T05:00:47.231651+09:00','A','main','1',10,0,'count','counts.csv');
INSERT INTO ledger VALUES(2,'2026-12-01T05:00:47.231759+09:00','B','main','1',5,0,'count','counts.csv');
INSERT INTO ledger VALUES(3,'2026-12-01T05:00:47.232705+09:00','A','main','1',0,2,'reserve','order:1');
INSERT INTO ledger VALUES(4,'2026-12-01T05:00:47.232783+09:00','B','main','1',0,1,'reserve','order:1');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, shop TEXT NOT NULL, order_no TEXT NOT NULL, status TEXT NOT NULL,
    hold_kind TEXT NOT NULL DEFAULT '', hold_reason TEXT NOT NULL DEFAULT '',
    ordered_at TEXT NOT NULL, total INTEGER NOT NULL, source TEXT NOT NULL, data TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, mail_at TEXT, csv_at TEXT, carrier TEXT NOT NULL DEFAULT '', UNIQUE (shop, order_no));
INSERT INTO orders VALUES(1,'shop','1001','new','','','2026-06-01T10:00:00+09:00',2500,'mail','{"shop": "shop", "order_no": "1001", "ordered_at": "2026-06-01T10:00:00+09:00", "total": 2500, "buyer": {"name": "", "postal_code": "", "prefecture": "", "address": "", "phone": "", "email": ""}, "ship_to": {"name": "山田 花子", "postal_code": "100-0001", "prefecture": "東京都", "address": "千代田区1-1", "phone": "03-1234-5678", "email": ""}, "payment_method": "クレジットカード", "delivery_method": "宅配便", "requested_date": null, "requested_time": "", "shipping_fee": 0, "cod_fee": 0, "discount": 0, "note": "", "source": "mail", "channel_status": ""}','2026-12-01T05:00:47.231954+09:00','2026-12-01T05:00:47.232881+09:00','2026-12-01T05:00:47.231954+09:00',NULL,'');
INSERT INTO orders VALUES(2,'shop','1002','hold','unknown_sku','商品マスタにない商品コード: Z (tsunagi products import で登録)','2026-06-01T11:00:00+09:00',300,'mail','{"shop": "shop", "order_no": "1002", "ordered_at": "2026-06-01T11:00:00+09:00", "total": 300, "buyer": {"name": "", "postal_code": "", "prefecture": "", "address": "", "phone": "", "email": ""}, "ship_to": {"name": "", "postal_code": "", "prefecture": "", "address": "", "phone": "", "email": ""}, "payment_method": "", "delivery_method": "", "requested_date": null, "requested_time": "", "shipping_fee": 0, "cod_fee": 0, "discount": 0, "note": "", "source": "mail", "channel_status": ""}','2026-12-01T05:00:47.233143+09:00','2026-12-01T05:00:47.233336+09:00','2026-12-01T05:00:47.233143+09:00',NULL,'');
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, channel_sku TEXT NOT NULL,
    sku TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, options TEXT NOT NULL, qty INTEGER NOT NULL, unit_price INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no));
INSERT INTO order_lines VALUES(1,1,'A','A','商品A','[]',2,1000);
INSERT INTO order_lines VALUES(1,2,'B','B','商品B','[]',1,500);
INSERT INTO order_lines VALUES(2,1,'Z','','未登録','[]',1,300);
CREATE TABLE reservations (
    order_id INTEGER NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL, lot TEXT NOT NULL,
    qty INTEGER NOT NULL, PRIMARY KEY (order_id, sku, location, lot));
INSERT INTO reservations VALUES(1,'A','main','1',2);
INSERT INTO reservations VALUES(1,'B','main','1',1);
CREATE TABLE order_history (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, at TEXT NOT NULL,
    from_status TEXT NOT NULL, to_status TEXT NOT NULL, note TEXT NOT NULL);
INSERT INTO order_history VALUES(1,1,'2026-12-01T05:00:47.232881+09:00','','new','');
INSERT INTO order_history VALUES(2,2,'2026-12-01T05:00:47.233336+09:00','','hold','商品マスタにない商品コード: Z (tsunagi products import で登録)');
CREATE TABLE applied_items (
    sha256 TEXT PRIMARY KEY, item_id TEXT NOT NULL, applied_at TEXT NOT NULL, outcome TEXT NOT NULL);
INSERT INTO applied_items VALUES('0000000000000000000000000000000000000000000000000000000000000000','mail-0001','2026-12-01T05:00:47.233416+09:00','created');
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL,
    payload TEXT NOT NULL);
INSERT INTO outbox VALUES(1,'2026-12-01T05:00:47.231338+09:00','stock','A','{}');
INSERT INTO outbox VALUES(2,'2026-12-01T05:00:47.231440+09:00','stock','B','{}');
INSERT INTO outbox VALUES(3,'2026-12-01T05:00:47.231691+09:00','stock','A','{}');
INSERT INTO outbox VALUES(4,'2026-12-01T05:00:47.231776+09:00','stock','B','{}');
INSERT INTO outbox VALUES(5,'2026-12-01T05:00:47.232953+09:00','order','1','{"from": "", "to": "new", "note": ""}');
INSERT INTO outbox VALUES(6,'2026-12-01T05:00:47.233372+09:00','order','2','{"from": "", "to": "hold", "note": "商品マスタにない商品コード: Z (tsunagi products import で登録)"}');
CREATE TABLE consumers (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE shipments (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, carrier TEXT NOT NULL, state TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '', exported_at TEXT NOT NULL, file TEXT NOT NULL DEFAULT '',
    tracking TEXT NOT NULL DEFAULT '', ship_date TEXT NOT NULL DEFAULT '', skus TEXT NOT NULL DEFAULT '');
CREATE TABLE shipment_orders (
    shipment_id INTEGER NOT NULL, order_id INTEGER NOT NULL, PRIMARY KEY (shipment_id, order_id));
CREATE TABLE confirmations (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, shop TEXT NOT NULL, tracking TEXT NOT NULL,
    file TEXT NOT NULL, written_at TEXT NOT NULL, pushed_at TEXT);
CREATE TABLE wms_orders (
    order_id INTEGER NOT NULL, wms TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, wms));
CREATE TABLE mail_stages (
    shop TEXT NOT NULL, stage TEXT NOT NULL, enabled_at TEXT NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (shop, stage));
INSERT INTO mail_stages VALUES('shop','purchase','2026-12-01T05:00:47.231803+09:00','{"statuses": ["new", "confirm"]}');
CREATE TABLE mails (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, shop TEXT NOT NULL, stage TEXT NOT NULL,
    state TEXT NOT NULL, to_addr TEXT NOT NULL DEFAULT '', due_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT NOT NULL DEFAULT '', answer TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, resend INTEGER NOT NULL DEFAULT 0);
INSERT INTO mails VALUES(1,1,'shop','purchase','queued','','2026-12-01T05:00:47.233048+09:00',0,'','','2026-12-01T05:00:47.233058+09:00','2026-12-01T05:00:47.233063+09:00',0);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,
    sent_at TEXT);
CREATE TABLE outbound_files (
    folder TEXT NOT NULL, name TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (folder, name));
CREATE TABLE feed_state (
    shop TEXT NOT NULL, channel_sku TEXT NOT NULL, qty INTEGER NOT NULL, published_at TEXT NOT NULL,
    PRIMARY KEY (shop, channel_sku));
CREATE INDEX set_components_by_sku ON set_components (sku);
CREATE INDEX channel_skus_by_sku ON channel_skus (sku);
CREATE INDEX orders_by_status ON orders (status, ordered_at);
CREATE INDEX orders_by_shop ON orders (shop, ordered_at);
CREATE INDEX reservations_by_slot ON reservations (sku, location, lot);
CREATE INDEX order_history_by_order ON order_history (order_id);
CREATE INDEX outbox_by_topic ON outbox (topic, id);
CREATE INDEX shipment_orders_by_order ON shipment_orders (order_id);
CREATE INDEX confirmations_by_file ON confirmations (file);
CREATE UNIQUE INDEX mails_once ON mails (order_id, stage) WHERE resend = 0;
CREATE INDEX mails_due ON mails (state, due_at);
COMMIT;
