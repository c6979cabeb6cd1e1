"""Config: a loaded config.toml as the program uses it, with lookups by name."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from tsunagi.app.config.errors import UnknownName
from tsunagi.app.config.mailboxes import ImapEndpoint
from tsunagi.app.config.partners import Carrier, Endpoint, SftpEndpoint, Wms
from tsunagi.app.config.schema import ConfigFile
from tsunagi.app.config.shops import Shop
from tsunagi.outbound.layouts import Layouts
from tsunagi.outbound.settings import AlertSettings, RelaySettings
from tsunagi.parsers import csvlayout
from tsunagi.parsers.mailspec import SPEC_DIR


@dataclass(frozen=True)
class Config:
    path: Path
    file: ConfigFile          # the validated file, shaped like config.toml

    # The sections under the names the program has always used for them.
    shops = property(lambda self: self.file.shop)
    carriers = property(lambda self: self.file.carrier)
    warehouses = property(lambda self: self.file.wms)
    sftp = property(lambda self: self.file.sftp)
    endpoints = property(lambda self: [*self.file.endpoint, *self.file.sftp])    # [[sftp]] is protocol sftp
    imap = property(lambda self: self.file.imap)
    locations = property(lambda self: self.file.locations)
    data_dir = property(lambda self: self.file.data_dir)
    smtp_host = property(lambda self: self.file.smtp.host)
    smtp_port = property(lambda self: self.file.smtp.port)
    max_message_bytes = property(lambda self: self.file.smtp.max_message_bytes)
    feed_coalesce_ms = property(lambda self: self.file.stock_feed.coalesce_ms)
    feed_full_every_hours = property(lambda self: self.file.stock_feed.full_every_hours)
    store_synchronous = property(lambda self: self.file.store.synchronous)
    store_busy_seconds = property(lambda self: self.file.store.busy_timeout_seconds)
    parse_timeout_seconds = property(lambda self: self.file.pipeline.parse_timeout_seconds)
    stock_layouts = property(lambda self: self.file.csv.stock_layouts)
    product_layouts = property(lambda self: self.file.csv.product_layouts)
    sku_case = property(lambda self: self.file.catalog.sku_case)
    mail_within_minutes = property(lambda self: self.file.csv.mail_within_minutes)
    drop_stable_seconds = property(lambda self: self.file.csv.drop_stable_seconds)
    max_line_bytes = property(lambda self: self.file.csv.max_line_bytes)
    csv_inline = property(lambda self: self.file.csv_layout)
    damaged_location = property(lambda self: self.file.returns.damaged_location)

    @property
    def relay(self) -> RelaySettings | None:
        return self.file.relay

    @property
    def alerts(self) -> AlertSettings | None:
        return self.file.alerts

    @property
    def csv_layout_dirs(self) -> tuple[Path, ...]:
        return (self.file.csv.layout_dir,) if self.file.csv.layout_dir else ()

    @property
    def layouts(self) -> Layouts:
        """Outbound layouts: label/, confirm/, wms/, stock/ under csv.layout_dir before the shipped ones."""
        return Layouts(self.csv_layout_dirs)

    @property
    def spec_dirs(self) -> tuple[Path, ...]:
        """Where mail specs are found: mail_spec_dir first, then the shipped ones."""
        return ((self.file.mail_spec_dir,) if self.file.mail_spec_dir else ()) + (SPEC_DIR,)

    @property
    def spec_path(self) -> str:
        """spec_dirs as one search path (os.pathsep between folders), as the parse workers take it."""
        return os.pathsep.join(str(d) for d in self.spec_dirs)

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tsunagi.db"

    def _named(self, items: list, name: str, what: str):
        """The configured item of that name, or an error listing the names there are."""
        for item in items:
            if getattr(item, "id", None) == name or getattr(item, "name", None) == name:
                return item
        known = ", ".join(getattr(i, "id", None) or i.name for i in items) or "none"
        raise UnknownName(f"{self.path} has no {what} {name!r} (known: {known})")

    def shop(self, shop_id: str) -> Shop:
        return self._named(self.shops, shop_id, "shop with id")

    def wms(self, name: str) -> Wms:
        return self._named(self.warehouses, name, "[[wms]]")

    def carrier(self, name: str) -> Carrier:
        return self._named(self.carriers, name, "[[carrier]]")

    def endpoint(self, name: str) -> Endpoint | SftpEndpoint:
        return self._named(self.endpoints, name, "[[endpoint]] or [[sftp]]")

    def mailbox(self, name: str) -> ImapEndpoint:
        return self._named(self.imap, name, "[[imap]] mailbox")

    def carrier_for_service(self, service: str) -> Carrier | None:
        """The configured carrier whose label layout offers this service (宅急便, 飛脚宅配便, …)."""
        for c in self.carriers:
            if service in self.layouts.load("label", c.layout).tables.get("service", {}):
                return c
        return None

    def drop_targets(self) -> set[str]:
        return {s.id for s in self.shops} | {c.name for c in self.carriers} | {w.name for w in self.warehouses}

    def shop_for_recipient(self, address: str) -> Shop | None:
        address = address.lower()
        return next((shop for shop in self.shops if address in shop.order_mail_to), None)

    def csv_layout(self, name: str) -> csvlayout.CsvLayout:
        return csvlayout.load(name, self.csv_layout_dirs, self.csv_inline)

    def _carriers_numbers(self, layout: csvlayout.CsvLayout, carrier: str) -> csvlayout.CsvLayout:
        """A result layout that names no number format checks the carrier's own (its label layout's)."""
        if layout.numbers:
            return layout
        info = self.layouts.load("label", self.carrier(carrier).layout).tables.get("carrier_info", {})
        return dataclasses.replace(layout, number_format=info.get("number_format", ""))

    def untracked(self) -> frozenset[tuple[str, str]]:
        """(carrier, service) pairs whose parcels have no tracking number."""
        return frozenset((c.name, s) for c in self.carriers for s in c.untracked_services)

    def csv_layouts_for(self, meta: dict) -> list[csvlayout.CsvLayout]:
        """The layouts a CSV item may be in: the one it names, else its shop's order layout and the
        stock layouts (told apart by the header)."""
        if meta.get("layout"):
            return [self.csv_layout(meta["layout"])]
        carrier = meta.get("carrier") or meta.get("shop")
        if carrier in {c.name for c in self.carriers}:
            return [self._carriers_numbers(self.csv_layout(n), carrier) for n in self.carrier(carrier).result_layouts]
        if carrier in {w.name for w in self.warehouses}:
            w = self.wms(carrier)
            stock = self.csv_layout(w.stock_layout)
            here = csvlayout.FieldSpec(name="location", type="text", value=w.location)   # its own location, always
            stock = dataclasses.replace(stock, fields={**stock.fields, "location": here})
            return [self.csv_layout(n) for n in w.result_layouts] + [stock]
        names = [s.order_csv.layout for s in self.shops if s.id == meta.get("shop") and s.order_csv]
        names += [s.stock_feed.download_layout for s in self.shops
                  if s.id == meta.get("shop") and s.stock_feed and s.stock_feed.download_layout]
        return [self.csv_layout(n) for n in names + self.stock_layouts]
