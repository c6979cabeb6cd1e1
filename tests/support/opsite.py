"""A ShipSite an operator works on by hand: cancels and line changes, with what they can check afterwards
(the order, the stock, the published feed figure, the label rows, a one-line refusal)."""
from __future__ import annotations

import json

from tests.support.sites import ShipSite
from tsunagi.oms.store import Store

# Tagged wms: 商品C goes to the warehouse logi at 外部倉庫 once its order is ready.
WMS_PRODUCTS = "sku,name,components,channel_sku,shop,tags\nitem-c,商品C,,,,wms\n"
WMS = {"name": "logi", "location": "外部倉庫", "statuses": ["ready"], "tag": "wms", "packaging_tags": []}


class OpSite(ShipSite):
    def stock(self, sku: str) -> tuple[int, int]:
        """(on hand, reserved) of sku over every location."""
        return Store(self.folder / "var" / "tsunagi.db").read().one(
            "SELECT SUM(on_hand), SUM(reserved) FROM stock WHERE sku = ?", sku)

    def ledger(self, cause: str) -> list[tuple[str, int]]:
        """(sku, change of reserved) of the ledger's lines with this cause."""
        return Store(self.folder / "var" / "tsunagi.db").read().all(
            "SELECT sku, d_reserved FROM ledger WHERE cause = ? ORDER BY id", cause)

    def published(self, code: str) -> int | None:
        """The latest figure Yahoo's stock feed files published for code (safety stock 1; None if never)."""
        figure = None
        for path in sorted((self.spool.dir("outbox") / "yahoo" / "ready").glob("*")):
            for row in path.read_bytes().decode("cp932").split("\r\n")[1:]:
                if row.split(",")[0] == code:
                    figure = int(row.split(",")[2])
        return figure

    def label_rows(self) -> list[list[str]]:
        """The rows of the label file the next export writes (none: no file)."""
        before = set(self.export_files())
        new = [p for p in self.export() if p not in before]
        if not new:
            return []
        return [r.split(",") for r in new[-1].read_bytes().decode("cp932").split("\r\n")[1:] if r]

    def export_files(self):
        return sorted((self.spool.dir("outbox") / "carrier" / "ready").glob("*"))

    def refused(self, *args) -> str:
        """The one line a refused command says (exit status 2, no traceback)."""
        self.capsys.readouterr()
        assert self.cli(*args) == 2
        err = self.capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        return err

    def snapshot(self, order_no: str) -> tuple:
        """Everything a refusal must leave as it was: the order (with history), the stock, the outbox."""
        tx = Store(self.folder / "var" / "tsunagi.db").read()
        return (self.view_by_no(order_no), tx.all("SELECT * FROM stock ORDER BY sku, location, lot"),
                tx.value("SELECT MAX(id) FROM ledger"), tx.value("SELECT MAX(id) FROM outbox"),
                tx.all("SELECT key, state FROM shipments ORDER BY key"))

    def view_by_no(self, order_no: str) -> dict:
        self.capsys.readouterr()
        assert self.cli("order", "rakuten", order_no, "--json") == 0
        return json.loads(self.capsys.readouterr().out)

    def with_warehouse(self) -> None:
        """商品C is shipped by the warehouse logi."""
        self.edit(lambda config: config.update(wms=[dict(WMS)]))
        (self.folder / "wms-products.csv").write_text(WMS_PRODUCTS, encoding="utf-8")
        assert self.cli("products", "import", str(self.folder / "wms-products.csv")) == 0

    def wms_files(self) -> list[str]:
        self.cli("wms", "send", "logi")
        return sorted(p.name for p in (self.spool.dir("outbox") / "logi" / "ready").glob("*"))

    def wms_results(self, rows: list[str], name="wms.csv") -> int:
        (self.folder / name).write_bytes(("出荷指示番号,状態,追跡番号,出荷日\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932"))
        return self.cli("import", str(self.folder / name), "--carrier", "logi")
