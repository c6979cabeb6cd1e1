"""Whole sites a test drives as the operator does: ShipSite ships Rakuten orders with one carrier,
MailSite sends buyer mails through a relay; and the shipping order builder they share."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from tests.support.configs import EC_TO, base_config, edit_config, read_config, seed, shop, write_config
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store

# The carrier service each label layout maps the channel's 宅配便 to.
SERVICE = {"yamato-b2": "宅急便", "sagawa-ehiden2": "飛脚宅配便", "sagawa-ehiden3": "飛脚宅配便",
           "japanpost-yupurir": "ゆうパック", "japanpost-clickpost": "クリックポスト"}
RESULTS = {"yamato-b2": ["yamato-b2-result", "yamato-b2-result-noheader"],
           "sagawa-ehiden2": ["sagawa-ehiden2-result"]}
SHIPPER = {"name": "つなぎ商店", "postal_code": "100-0001", "address": "東京都千代田区千代田1-1 つなぎビル3F",
           "phone": "03-1234-5678"}
# Two locations for item-c, so that an order for three of it ships in two parcels.
SHIP_COUNTS = "sku,location,lot,qty\nitem-a,本店倉庫,1,10\nitem-b,本店倉庫,1,10\nitem-c,本店倉庫,1,1\nitem-c,外部倉庫,1,5\n"


def mod7(eleven: str) -> str:
    """A twelve-digit tracking number: eleven digits and their check digit (mod 7)."""
    return eleven + str(int(eleven) % 7)


def order(n: int, *items: Item, **kw) -> SampleOrder:
    """Rakuten order number n, one 商品A at 1,000円 unless items are given."""
    return SampleOrder(f"402853-20260612-{n:010d}", list(items) or [Item("item-a", "商品A", 1, 1000)], **kw)


def shipping(layout: str, confirm: str) -> dict:
    """The Rakuten shop's shipping table: its names mapped to what the layout's carrier knows."""
    clickpost = layout == "japanpost-clickpost"          # no cash on delivery, no time slots
    return {"delivery": {"宅配便": SERVICE[layout]},
            "payment": ({} if clickpost else {"代金引換": "cod"}) | {"クレジットカード": "prepaid"},
            "time": {} if clickpost else {"午前中": "午前中", "14:00～16:00": "14-16"},
            "confirm_layout": confirm}


def carrier(layout: str, merge: bool) -> dict:
    """The [[carrier]] table named "carrier" printing labels in layout."""
    return {"name": "carrier", "layout": layout, "result_layouts": RESULTS.get(layout, ["tracking-generic"]),
            "shipper": dict(SHIPPER),
            "account": {"billing_code": "012345678901", "freight_no": "01", "customer_code": "123456789012"},
            "merge": merge}


class ShipSite:
    """A shop on Rakuten whose orders ship with one carrier; commands run as the operator runs them."""

    def __init__(self, folder: Path, capsys, layout: str = "yamato-b2", merge: bool = False,
                 confirm: str = "rakuten-shipping", csv_settings: dict | None = None):
        self.folder, self.capsys, self.layout = folder, capsys, layout
        data = base_config()
        shop(data, "rakuten")["shipping"] = shipping(layout, confirm)
        data["csv"].update(csv_settings or {})
        data["carrier"] = [carrier(layout, merge)]
        self.config_path = write_config(folder, data)
        seed(self.config_path, counts=SHIP_COUNTS)
        self.spool = Spool(folder / "var" / "spool")

    def edit(self, change: Callable[[dict], None]) -> None:
        """Changes the config file (see edit_config)."""
        edit_config(self.config_path, change)

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def orders_csv(self, orders, name="orders.csv", **kw) -> int:
        (self.folder / name).write_bytes(order_csv("rakuten-rms", orders, **kw))
        return self.cli("import", str(self.folder / name), "--shop", "rakuten")

    def export(self) -> list[Path]:
        self.capsys.readouterr()
        self.cli("ship", "export", "carrier", "--date", "2026-06-13")
        return sorted((self.spool.dir("outbox") / "carrier" / "ready").glob("*"))

    def results(self, rows: list[str], name="result.csv") -> int:
        (self.folder / name).write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
        return self.cli("import", str(self.folder / name), "--carrier", "carrier")

    def status(self, o: SampleOrder) -> str:
        return Store(self.folder / "var" / "tsunagi.db").read().value(
            "SELECT status FROM orders WHERE order_no = ?", o.order_no)

    def view(self, o: SampleOrder) -> dict:
        self.capsys.readouterr()
        self.cli("order", "rakuten", o.order_no, "--json")
        return json.loads(self.capsys.readouterr().out)

    def confirmations(self) -> list[Path]:
        """The Rakuten shop's confirmation files, waiting or delivered, oldest first."""
        folder = self.spool.dir("outbox") / "rakuten"
        return sorted([*folder.glob("ready/*shipconfirm*"), *folder.glob("sent/*shipconfirm*")], key=lambda p: p.name)

    def deliver(self) -> None:
        """The operator uploads every waiting confirmation file by hand and records it (outbox mark-sent)."""
        for path in sorted((self.spool.dir("outbox") / "rakuten" / "ready").glob("*shipconfirm*")):
            assert self.cli("outbox", "mark-sent", path.name) == 0


# Which mails each shop sends: on ordering and confirming, on shipping, and a week after, by day.
STAGES = {"purchase": {"statuses": ["new", "confirm"]}, "shipment": {},
          "post_purchase": {"days": 7, "hours": [0, 24]}}


def mail_table(charset: str, stages: dict) -> dict:
    """A shop's mail table: who the buyer mails come from, in which charset, at which stages."""
    return {"sender": "shop@example.jp", "sender_name": "テスト楽天店 (つなぎ)", "reply_to": "support@example.jp",
            "signature": "――――\nテスト楽天店", "charset": charset} | stages


def _ship_with_yamato(config: dict) -> None:
    """The Rakuten shop's 宅配便 goes by Yamato, whose result files have no header."""
    shop(config, "rakuten")["shipping"] = {"delivery": {"宅配便": "宅急便"}, "payment": {"クレジットカード": "prepaid"}}
    config["carrier"] = [{"name": "yamato", "layout": "yamato-b2", "result_layouts": ["yamato-b2-result-noheader"],
                          "shipper": {"name": "つなぎ商店", "postal_code": "100-0001", "address": "東京都千代田区",
                                      "phone": "03-1234-5678"}}]


class MailSite:
    """Rakuten and EC-CUBE shops mailing their buyers through the relay at 127.0.0.1:port."""

    def __init__(self, folder, capsys, port: int, charset="utf-8", stages: dict = STAGES, relay: dict | None = None):
        self.folder, self.capsys = folder, capsys
        data = base_config()
        data["relay"] = {"host": "127.0.0.1", "port": port, "security": "none",
                         "message_id_domain": "mail.tsunagi.example"} | (relay or {})
        for shop_id in ("rakuten", "ec"):      # Rakuten's order mail has no buyer address; EC-CUBE's has
            shop(data, shop_id)["mail"] = mail_table(charset, stages)
        self.config_path = write_config(folder, data)
        seed(self.config_path)
        self.cfg = config_mod.load(self.config_path)
        self.store = Store(folder / "var" / "tsunagi.db")

    def edit(self, change: Callable[[dict], None]) -> None:
        """Changes the config file (see edit_config) and reloads it, as the daemon would on restart."""
        edit_config(self.config_path, change)
        self.cfg = config_mod.load(self.config_path)

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def ship(self, o: SampleOrder, ship_date: str = "2026/06/13") -> None:
        """The order's CSV (with the buyer's address), its Yamato label, and Yamato's result ship it (its first
        parcel with tracking number 1234567890 and its check digit, a second 2234567890…, and so on)."""
        if "carrier" not in read_config(self.config_path):
            self.edit(_ship_with_yamato)
        (self.folder / f"{o.order_no}.csv").write_bytes(order_csv("rakuten-rms", [o]))
        assert self.cli("import", str(self.folder / f"{o.order_no}.csv"), "--shop", "rakuten") == 0
        self.cli("ship", "export", "yamato")
        keys = [r[0] for r in self.store.read().all(
            "SELECT s.key FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id JOIN orders o "
            "ON o.id = so.order_id WHERE o.order_no = ? AND s.state = 'exported' ORDER BY s.key", o.order_no)]
        rows = [f"{key},0,0,{mod7(f'{n}2345678901')},{ship_date}\r\n" for n, key in enumerate(keys, 1)]   # a parcel each
        (self.folder / "r.csv").write_bytes("".join(rows).encode())
        assert self.cli("import", str(self.folder / "r.csv"), "--carrier", "yamato") == 0

    def mail_order(self, o: SampleOrder) -> None:
        path = self.folder / f"{o.order_no}.eml"
        path.write_bytes(order_mail("ec-cube", o, EC_TO))
        assert self.cli("ingest", str(path), "--shop", "ec") == 0

    def send(self) -> int:
        mailer = wiring.mailer(self.cfg, self.store)
        total = 0
        while n := mailer.send_due():
            total += n
        return total

    def log(self, *args) -> list[dict]:
        self.capsys.readouterr()
        assert self.cli("mail", "log", "--json", *args) == 0
        return json.loads(self.capsys.readouterr().out)
