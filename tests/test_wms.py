"""Warehouse exchange: instructions for tagged lines, results, cancels after instruction, the in-process
lock, and stock snapshots for the warehouse's location."""
from __future__ import annotations

from tests.support.sites import ShipSite, mod7, order
from tsunagi.demo.mails import Item
from tsunagi.oms.store import Store

PRODUCTS = """sku,name,components,channel_sku,shop,tags
item-a,商品A,,,,wms fragile
item-b,商品B,,,,
item-c,商品C,,,,wms
set-ab,AとBのセット,item-a*1;item-b*2,,,
"""


# The warehouse at 外部倉庫 takes lines of products tagged wms, once their order is ready.
WMS = {"name": "logi", "location": "外部倉庫", "statuses": ["ready"], "tag": "wms", "packaging_tags": ["fragile"]}


class WmsSite(ShipSite):
    """A ShipSite whose 外部倉庫 is a warehouse run by someone else (logi), exchanging files."""

    def __init__(self, folder, capsys):
        super().__init__(folder, capsys)
        self.edit(lambda config: config.update(wms=[dict(WMS)]))
        (folder / "products.csv").write_text(PRODUCTS, encoding="utf-8")
        assert self.cli("products", "import", str(folder / "products.csv")) == 0

    def send(self) -> list[str]:
        self.cli("wms", "send", "logi")
        return sorted(p.name for p in (self.spool.dir("outbox") / "logi" / "ready").glob("*"))

    def lines(self, name: str) -> list[list[str]]:
        data = (self.spool.dir("outbox") / "logi" / "ready" / name).read_bytes().decode("cp932")
        return [[c.strip('"') for c in r.split('","')] for r in data.split("\r\n")[1:] if r]

    def published(self, code: str) -> int | None:
        """The latest figure Yahoo's stock feed files published for code (None if never)."""
        figure = None
        for path in sorted((self.spool.dir("outbox") / "yahoo" / "ready").glob("*")):
            for row in path.read_bytes().decode("cp932").split("\r\n")[1:]:
                cells = row.split(",")
                if cells[0] == code:
                    figure = int(cells[2])
        return figure

    def stock(self, sku: str) -> tuple[int, int]:
        """(on hand, reserved) of sku over every location."""
        return Store(self.folder / "var" / "tsunagi.db").read().one(
            "SELECT SUM(on_hand), SUM(reserved) FROM stock WHERE sku = ?", sku)

    def wms_results(self, rows: list[str], name="wms.csv") -> int:
        (self.folder / name).write_bytes(("出荷指示番号,状態,追跡番号,出荷日\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932"))
        return self.cli("import", str(self.folder / name), "--carrier", "logi")


def test_only_tagged_lines_are_instructed_with_their_packaging_and_the_rest_goes_on_a_label(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    whole, mixed = order(1, Item("item-c", "C", 1, 100)), order(2, Item("item-a", "A", 1, 100), Item("item-b", "B", 2, 50))
    site.orders_csv([whole, mixed])
    [name] = site.send()
    rows = site.lines(name)
    assert [(r[0], r[13], r[15], r[16]) for r in rows] == [("W00000001", "item-c", "1", ""), ("W00000002", "item-a", "1", "fragile")]
    label = site.export()[0].read_bytes().decode("cp932").split("\r\n")[1:]
    assert [r.split(",")[0] for r in label if r] == ["T00000002"]          # only the mixed order's other line
    assert "商品B" in label[0] and "商品A" not in label[0]
    assert site.send() == [name]                                          # nothing is instructed twice


def test_a_warehouse_result_ships_the_order_and_a_mixed_order_waits_for_both_parcels(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    whole, mixed = order(1, Item("item-c", "C", 1, 100)), order(2, Item("item-a", "A", 1, 100), Item("item-b", "B", 2, 50))
    site.orders_csv([whole, mixed])
    site.send()
    site.export()
    assert site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13",
                             f"W00000002,出荷済,{mod7('52345678902')},2026/06/13"]) == 0
    assert site.status(whole) == "shipped" and site.status(mixed) == "ready"
    site.results([f"T00000002,0,0,{mod7('62345678901')},2026/06/13"])
    assert site.status(mixed) == "shipped"
    assert site.view(mixed)["warehouse"][0]["state"] == "shipped"


def test_a_cancellation_after_instruction_sends_a_cancel_and_the_order_is_never_instructed_again(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 1, 100))
    site.orders_csv([o])
    site.send()
    site.orders_csv([o], "cancel.csv", status="キャンセル確定")
    assert site.status(o) == "cancelled"
    files = site.send()
    cancel = [f for f in files if "cancel" in f]
    assert cancel and site.lines(cancel[0]) == [["W00000001", "402853-20260612-0000000001", "キャンセル"]]
    assert site.wms_results(["W00000001,キャンセル済,,"]) == 0
    assert site.view(o)["warehouse"][0]["state"] == "cancelled"
    with Store(tmp_path / "var" / "tsunagi.db").transaction() as tx:     # whatever happens to it later
        tx.run("UPDATE orders SET status = 'ready' WHERE order_no = ?", o.order_no)
    assert site.send() == files


def test_while_the_warehouse_works_on_an_order_status_changes_are_refused(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 1, 100))
    site.orders_csv([o])
    site.send()
    assert site.wms_results(["W00000001,作業中,,"]) == 0
    assert site.orders_csv([o], "cancel.csv", status="キャンセル確定") == 1
    assert site.status(o) == "ready"
    [report] = site.spool.failed()                 # its only row was refused: the file is quarantined
    assert "倉庫 logi で作業中のためキャンセルにできません" in report["problems"][0]["message"]
    assert site.wms_results([f"W00000001,出荷済,{mod7('72345678901')},2026/06/13"], "shipped.csv") == 0
    assert site.status(o) == "shipped"


def test_a_warehouse_stock_snapshot_sets_its_location_absolutely(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    snapshot = "商品コード,倉庫,ロット,在庫数\r\nitem-a,どこか,1,42\r\nitem-c,,1,7\r\n".encode("cp932")
    (tmp_path / "snap.csv").write_bytes(snapshot)
    for _ in range(2):
        assert site.cli("import", str(tmp_path / "snap.csv"), "--carrier", "logi") == 0
        (tmp_path / "snap.csv").write_bytes(snapshot + b"\r\n")         # another file, the same counts
    tx = Store(tmp_path / "var" / "tsunagi.db").read()
    assert tx.all("SELECT sku, on_hand FROM stock WHERE location = '外部倉庫' ORDER BY sku") == [("item-a", 42), ("item-c", 7)]
    assert tx.value("SELECT on_hand FROM stock WHERE sku = 'item-a' AND location = '外部倉庫' AND lot = '1'") == 42
    assert tx.value("SELECT on_hand FROM stock WHERE sku = 'item-a' AND location = '本店倉庫'") == 10
    assert tx.value("SELECT COUNT(*) FROM ledger WHERE cause = 'count' AND location = '外部倉庫' AND sku = 'item-a'") == 1


# Yahoo publishes free stock less its safety stock of 1: item-c has 6 (1 at 本店倉庫, 5 at 外部倉庫).
def _instructed(site: WmsSite, qty: int = 1):
    o = order(1, Item("item-c", "C", qty, 100))
    site.orders_csv([o])
    site.send()
    assert site.stock("item-c") == (6, qty) and site.published("item-c") == 5 - qty
    return o


def test_a_channel_change_after_instruction_holds_the_order_with_both_versions_and_keeps_its_stock(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    assert site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv") == 0    # held, not refused
    v = site.view(o)
    assert v["status"] == "hold" and "item-c×1" in v["hold_reason"] and "受注CSV item-c×2" in v["hold_reason"]
    assert "倉庫 logi に出荷指示済み" in v["hold_reason"]
    assert site.stock("item-c") == (6, 1) and site.published("item-c") == 4          # never published as free
    assert site.send() == site.send() and site.export() == []                        # no cancel, no label


def test_the_warehouses_shipment_of_a_held_order_ships_it_and_consumes_its_stock(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv")
    assert site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13"]) == 0
    v = site.view(o)
    assert v["status"] == "shipped" and v["warehouse"][0]["state"] == "shipped"
    assert site.stock("item-c") == (5, 0) and site.published("item-c") == 4
    assert "保留中に倉庫が出荷" in v["history"][-1]["note"] and "item-c×2" in v["history"][-1]["note"]


def test_a_released_hold_keeps_the_instruction_and_the_warehouses_result_ships_it(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv")
    assert site.cli("order-release", "rakuten", o.order_no) == 0
    assert site.status(o) == "ready" and site.stock("item-c") == (6, 1)
    assert site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13"]) == 0
    assert site.status(o) == "shipped" and site.stock("item-c") == (5, 0)


def test_a_warehouse_cancel_holds_the_order_and_no_label_is_written_for_it(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    assert site.wms_results(["W00000001,キャンセル済,,"]) == 0
    v = site.view(o)
    assert v["status"] == "hold" and v["hold_kind"] == "wms_cancelled" and "倉庫でキャンセル" in v["hold_reason"]
    assert site.export() == []
    assert site.stock("item-c") == (6, 0) and site.published("item-c") == 5
    assert site.wms_results(["W00000001,キャンセル済,,"], "again.csv") == 0       # told twice: held once
    assert [h["to"] for h in site.view(o)["history"]].count("hold") == 1


def test_an_order_cancelled_after_instruction_keeps_its_stock_until_the_warehouse_cancels(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    site.orders_csv([o], "cancel.csv", status="キャンセル確定")
    assert site.status(o) == "cancelled" and site.stock("item-c") == (6, 1) and site.published("item-c") == 4
    site.send()
    assert site.wms_results(["W00000001,キャンセル済,,"]) == 0
    assert site.status(o) == "cancelled" and site.stock("item-c") == (6, 0) and site.published("item-c") == 5


def test_the_other_version_is_adopted_only_once_the_warehouse_has_cancelled(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv")
    capsys.readouterr()
    assert site.cli("order-adopt", "rakuten", o.order_no) == 2
    assert "倉庫 logi に出荷を指示済み" in capsys.readouterr().err
    site.wms_results(["W00000001,キャンセル済,,"])
    assert site.cli("order-adopt", "rakuten", o.order_no) == 0
    v = site.view(o)
    assert [line["qty"] for line in v["lines"]] == [2] and v["status"] == "ready"
    assert site.stock("item-c") == (6, 2) and site.published("item-c") == 3


def test_an_order_the_warehouse_shipped_while_held_has_nothing_left_to_adopt(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = _instructed(site)
    site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv")
    site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13"])
    capsys.readouterr()
    assert site.cli("order-adopt", "rakuten", o.order_no) == 2
    assert "出荷確定済" in capsys.readouterr().err and site.status(o) == "shipped"


def test_an_order_shipped_by_the_warehouse_while_held_is_alerted(tmp_path, capsys):
    from tsunagi.app import config as config_mod, wiring
    from tsunagi.oms import outbound_tables
    site = WmsSite(tmp_path, capsys)
    site.edit(lambda config: config.update(relay={"host": "127.0.0.1", "port": 2525, "security": "none"},
                                           alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp"}))
    o = _instructed(site)
    site.orders_csv([order(1, Item("item-c", "C", 2, 100))], "changed.csv")
    site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13"])
    store = Store(tmp_path / "var" / "tsunagi.db")
    wiring.alerts(config_mod.load(site.config_path), store, site.spool.dir("outbox")).collect()
    subjects = [subject for _, _, subject, _ in outbound_tables.unsent_alerts(store.read())]
    assert f"保留中の注文 rakuten {o.order_no} が出荷されました" in subjects


def test_a_cancelled_order_the_warehouse_ships_anyway_consumes_only_what_left(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = order(1, Item("item-a", "A", 1, 100), Item("item-b", "B", 2, 50))     # item-a by the warehouse
    site.orders_csv([o])
    site.send()
    site.orders_csv([o], "cancel.csv", status="キャンセル確定")
    assert site.stock("item-a") == (10, 1) and site.stock("item-b") == (10, 2)
    assert site.wms_results([f"W00000001,出荷済,{mod7('52345678901')},2026/06/13"]) == 0
    assert site.status(o) == "cancelled"
    assert site.stock("item-a") == (9, 0) and site.stock("item-b") == (10, 0)
    assert "キャンセル後に倉庫が出荷しました" in site.view(o)["history"][-1]["note"]
