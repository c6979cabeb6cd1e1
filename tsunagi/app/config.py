"""Reading config.toml: every mistake names the file, the key and what is wrong, before anything starts."""
from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.outbound.layouts import Layouts
from tsunagi.outbound.mailer import RelaySettings
from tsunagi.parsers import csvlayout
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts


class ConfigError(Exception):
    pass


@dataclass
class StockFeed:
    layout: str
    safety_stock: int = 0
    location: str = ""      # the channel's own location name, for layouts that carry one


@dataclass
class OrderCsv:
    layout: str
    confirm_within_hours: float = 24.0   # a mail order not in an order CSV after this is listed


@dataclass
class ShopShipping:
    """How a shop's channel names map to tsunagi's: delivery → a carrier service, payment → prepaid or
    cod, time slot → a canonical slot (午前中, 12-14, 14-16, 16-18, 18-20, 19-21, 18-21)."""
    delivery: dict[str, str] = field(default_factory=dict)
    payment: dict[str, str] = field(default_factory=dict)
    time: dict[str, str] = field(default_factory=dict)
    auto_ready: bool = True          # 確認待ち → 印刷待ち as soon as the mapping allows
    confirm_layout: str = ""         # outbound/layouts/confirm/<name>.toml; "" = no confirmation file


@dataclass
class Carrier:
    name: str
    layout: str
    result_layouts: list[str]
    shipper: dict
    account: dict = field(default_factory=dict)
    merge: bool = False
    every_minutes: float = 0.0
    at: list[str] = field(default_factory=list)


@dataclass
class Wms:
    name: str
    location: str                    # the stock location this warehouse's snapshots set
    statuses: list[str]
    tag: str = "wms"
    packaging_tags: list[str] = field(default_factory=list)
    layout: str = "wms-instruction"
    cancel_layout: str = "wms-cancel"
    result_layouts: list[str] = field(default_factory=lambda: ["wms-result"])
    stock_layout: str = "wms-stock"
    every_minutes: float = 5.0
    at: list[str] = field(default_factory=list)


@dataclass
class ShopMail:
    """A shop's buyer mails: sender, signature, templates, and which stages go out when."""
    sender: str
    sender_name: str
    reply_to: str = ""
    bcc: str = ""
    signature: str = ""
    template_dir: Path | None = None
    charset: str = "utf-8"
    stages: dict[str, dict] = field(default_factory=dict)   # stage -> settings, enabled ones only


@dataclass
class Alerts:
    to: list[str]
    sender: str
    digest_minutes: float = 15.0
    failing_minutes: float = 30.0      # an SFTP endpoint or the relay failing this long is reported
    feed_stale_minutes: float = 60.0   # a stock feed file not delivered this long is reported


@dataclass
class Shop:
    id: str
    name: str
    cart: str
    order_mail_to: list[str]
    stock_feed: StockFeed | None = None
    mail_specs: list[str] = field(default_factory=list)
    order_csv: OrderCsv | None = None
    shipping: ShopShipping | None = None
    mail: ShopMail | None = None


@dataclass
class SftpPull:
    remote_dir: str
    into: str                    # the shop whose drop folder the files count as
    pattern: str = "*.csv"
    layout: str = ""             # "" = chosen by the file's header among the shop's layouts
    after: str = "move"          # "move" to processed_dir, or "delete"
    processed_dir: str = ""


@dataclass
class SftpPush:
    remote_dir: str
    source: str                  # outbox/<source>/ready/ is uploaded
    pattern: str = "*"


@dataclass
class SftpEndpoint:
    name: str
    host: str
    user: str
    known_hosts: Path
    port: int = 22
    key_file: Path | None = None
    password_env: str = ""
    every_minutes: float = 0.0
    at: list[str] = field(default_factory=list)     # "HH:MM" times of day
    pull: SftpPull | None = None
    push: SftpPush | None = None
    timeout: float = 30.0


@dataclass
class Config:
    path: Path
    data_dir: Path
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    max_message_bytes: int = 10 * 1024 * 1024
    shops: list[Shop] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    feed_coalesce_ms: int = 200
    store_synchronous: str = "FULL"
    spec_dir: Path = SPEC_DIR
    csv_layout_dirs: tuple[Path, ...] = ()
    csv_inline: dict = field(default_factory=dict)
    stock_layouts: list[str] = field(default_factory=lambda: ["tsunagi-stock", "wms-stock"])
    mail_within_minutes: float = 60.0
    drop_stable_seconds: float = 2.0
    sftp: list[SftpEndpoint] = field(default_factory=list)
    carriers: list[Carrier] = field(default_factory=list)
    warehouses: list[Wms] = field(default_factory=list)
    relay: RelaySettings | None = None
    alerts: Alerts | None = None

    def _named(self, items: list, name: str, what: str):
        """The configured item of that name, or an error listing the names there are."""
        for item in items:
            if getattr(item, "id", None) == name or getattr(item, "name", None) == name:
                return item
        known = ", ".join(getattr(i, "id", None) or i.name for i in items) or "none"
        raise ConfigError(f"{self.path}: no {what} {name!r} (known: {known})")

    def wms(self, name: str) -> Wms:
        return self._named(self.warehouses, name, "[[wms]]")

    def carrier(self, name: str) -> Carrier:
        return self._named(self.carriers, name, "[[carrier]]")

    def carrier_for_service(self, service: str) -> Carrier | None:
        """The configured carrier whose label layout offers this service (宅急便, 飛脚宅配便, …)."""
        for c in self.carriers:
            if service in self.layouts.load("label", c.layout).tables.get("service", {}):
                return c
        return None

    def drop_targets(self) -> set[str]:
        return {s.id for s in self.shops} | {c.name for c in self.carriers} | {w.name for w in self.warehouses}

    def csv_layout(self, name: str) -> csvlayout.CsvLayout:
        return csvlayout.load(name, self.csv_layout_dirs, self.csv_inline)

    def csv_layouts_for(self, meta: dict) -> list[csvlayout.CsvLayout]:
        """The layouts a CSV item may be in: the one it names, else its shop's order layout and the
        stock layouts (told apart by the header)."""
        if meta.get("layout"):
            return [self.csv_layout(meta["layout"])]
        carrier = meta.get("carrier") or meta.get("shop")
        if carrier in {c.name for c in self.carriers}:
            return [self.csv_layout(n) for n in self.carrier(carrier).result_layouts]
        if carrier in {w.name for w in self.warehouses}:
            w = self.wms(carrier)
            stock = self.csv_layout(w.stock_layout)
            here = csvlayout.FieldSpec(name="location", type="text", value=w.location)   # its own location, always
            stock = dataclasses.replace(stock, fields={**stock.fields, "location": here})
            return [self.csv_layout(n) for n in w.result_layouts] + [stock]
        names = [s.order_csv.layout for s in self.shops if s.id == meta.get("shop") and s.order_csv]
        return [self.csv_layout(n) for n in names + self.stock_layouts]

    def endpoint(self, name: str) -> SftpEndpoint:
        return self._named(self.sftp, name, "[[sftp]] endpoint")

    @property
    def layouts(self) -> Layouts:
        """Outbound layouts: label/, confirm/, wms/, stock/ under csv.layout_dir before the shipped ones."""
        return Layouts(self.csv_layout_dirs)

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tsunagi.db"

    def shop(self, shop_id: str) -> Shop:
        return self._named(self.shops, shop_id, "shop with id")

    def shop_for_recipient(self, address: str) -> Shop | None:
        address = address.lower()
        for shop in self.shops:
            if address in shop.order_mail_to:
                return shop
        return None


TOP_KEYS = {"data_dir", "smtp", "shop", "locations", "stock_feed", "store", "csv", "csv_layout", "sftp", "carrier", "wms",
            "relay", "alerts"}
MAIL_KEYS = {"sender", "sender_name", "reply_to", "bcc", "signature", "template_dir", "charset", "purchase",
             "shipment", "post_purchase"}
WMS_KEYS = {"name", "location", "statuses", "tag", "packaging_tags", "layout", "cancel_layout", "result_layouts",
            "stock_layout", "every_minutes", "at"}
SHOP_KEYS = {"id", "name", "cart", "order_mail_to", "stock_feed", "mail_specs", "order_csv", "shipping", "mail"}
CARRIER_KEYS = {"name", "layout", "result_layouts", "shipper", "account", "merge", "every_minutes", "at"}
SHIPPING_KEYS = {"delivery", "payment", "time", "auto_ready", "confirm_layout"}
TIME_SLOTS = {"", "午前中", "12-14", "14-16", "16-18", "18-20", "19-21", "18-21", "20-21"}
CSV_KEYS = {"layout_dir", "stock_layouts", "mail_within_minutes", "drop_stable_seconds"}
SFTP_KEYS = {"name", "host", "port", "user", "key_file", "password_env", "known_hosts", "every_minutes", "at",
             "pull", "push", "timeout"}


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise ConfigError(f"{self.path}: {key}: {problem}")

    def get(self, table: dict, key: str, kind, where: str, default=None, required=False):
        if key not in table:
            if required:
                self.fail(where + key, "is required")
            return default
        value = table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.fail(where + key, f"must be {names}, not {type(value).__name__} ({value!r})")
        return value

    def unknown(self, table: dict, allowed: set, where: str):
        extra = sorted(set(table) - allowed)
        if extra:
            self.fail(where + extra[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")


def load(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (give one with -c CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    r = _Reader(path)
    r.unknown(raw, TOP_KEYS, "")
    data_dir = Path(r.get(raw, "data_dir", str, "", "var"))
    cfg = Config(path=path, data_dir=data_dir if data_dir.is_absolute() else path.parent / data_dir)
    smtp = r.get(raw, "smtp", dict, "", {})
    r.unknown(smtp, {"listen", "max_message_bytes"}, "smtp.")
    listen = r.get(smtp, "listen", str, "smtp.", "127.0.0.1:2525")
    m = re.fullmatch(r"\[?([^\]]+?)\]?:(\d{1,5})", listen)
    if not m or not 0 <= int(m.group(2)) < 65536:
        r.fail("smtp.listen", f"must be host:port (port 0 = any free port), not {listen!r}")
    cfg.smtp_host, cfg.smtp_port = m.group(1), int(m.group(2))
    cfg.max_message_bytes = r.get(smtp, "max_message_bytes", int, "smtp.", cfg.max_message_bytes)
    if cfg.max_message_bytes < 1024:
        r.fail("smtp.max_message_bytes", "must be at least 1024")
    cfg.locations = [str(x) for x in r.get(raw, "locations", list, "", [])]
    feed = r.get(raw, "stock_feed", dict, "", {})
    r.unknown(feed, {"coalesce_ms"}, "stock_feed.")
    cfg.feed_coalesce_ms = r.get(feed, "coalesce_ms", int, "stock_feed.", 200)
    store = r.get(raw, "store", dict, "", {})
    r.unknown(store, {"synchronous"}, "store.")
    cfg.store_synchronous = r.get(store, "synchronous", str, "store.", "FULL").upper()
    if cfg.store_synchronous not in ("FULL", "NORMAL", "EXTRA"):
        r.fail("store.synchronous", "must be FULL, EXTRA or NORMAL")
    shops = r.get(raw, "shop", list, "", [])
    if not shops:
        r.fail("shop", "at least one [[shop]] is needed")
    _csv(r, raw, cfg)
    for n, table in enumerate(r.get(raw, "carrier", list, "", [])):
        cfg.carriers.append(_carrier(r, cfg, table, f"carrier[{n}]."))
    for n, table in enumerate(r.get(raw, "wms", list, "", [])):
        cfg.warehouses.append(_wms(r, cfg, table, f"wms[{n}]."))
    _relay_and_alerts(r, raw, cfg)
    for n, table in enumerate(shops):
        cfg.shops.append(_shop(r, cfg, table, f"shop[{n}]."))
        _shipping(r, cfg, cfg.shops[-1], table, f"shop[{n}].")
        _mail(r, cfg, cfg.shops[-1], table, f"shop[{n}].")
    _check_unique(r, cfg)
    for n, shop in enumerate(cfg.shops):
        if shop.order_csv:
            _layout(r, cfg, shop.order_csv.layout, f"shop[{n}].order_csv.layout", "orders")
    for n, table in enumerate(r.get(raw, "sftp", list, "", [])):
        cfg.sftp.append(_sftp(r, cfg, table, f"sftp[{n}]."))
    return cfg


def _named_table(r: _Reader, table, where: str, kind: str, keys: set[str]) -> str:
    """A [[kind]] table with known keys only, and a name fit for a folder; returns the name."""
    if not isinstance(table, dict):
        r.fail(where.rstrip("."), f"must be a table ([[{kind}]])")
    r.unknown(table, keys, where)
    name = r.get(table, "name", str, where, required=True)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
        r.fail(where + "name", f"{name!r}: use lower-case letters, digits, - and _ (it names folders)")
    return name


def _schedule(r: _Reader, table: dict, where: str, every: float = 0) -> tuple[float, list[str]]:
    """every_minutes and/or at = ["HH:MM", …]."""
    minutes = float(r.get(table, "every_minutes", (int, float), where, every))
    times = [str(t) for t in r.get(table, "at", list, where, [])]
    for t in times:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", t):
            r.fail(where + "at", f"{t!r}: times of day are HH:MM")
    return minutes, times


def _carrier(r: _Reader, cfg: Config, table, where: str) -> Carrier:
    name = _named_table(r, table, where, "carrier", CARRIER_KEYS)
    layout = r.get(table, "layout", str, where, required=True)
    if layout not in cfg.layouts.available("label"):
        r.fail(where + "layout", f"unknown label layout {layout!r} (known: {', '.join(cfg.layouts.available('label'))})")
    shipper = r.get(table, "shipper", dict, where, required=True)
    r.unknown(shipper, {"name", "postal_code", "address", "phone"}, where + "shipper.")
    for key in ("name", "postal_code", "address", "phone"):
        r.get(shipper, key, str, where + "shipper.", required=True)
    carrier = Carrier(name=name, layout=layout,
                      result_layouts=[str(x) for x in r.get(table, "result_layouts", list, where, [])],
                      shipper=shipper, account={k: str(v) for k, v in r.get(table, "account", dict, where, {}).items()},
                      merge=bool(r.get(table, "merge", bool, where, False)))
    carrier.every_minutes, carrier.at = _schedule(r, table, where)
    for n, result in enumerate(carrier.result_layouts):
        _layout(r, cfg, result, f"{where}result_layouts[{n}]", "results")
    return carrier


def _wms(r: _Reader, cfg: Config, table, where: str) -> Wms:
    name = _named_table(r, table, where, "wms", WMS_KEYS)
    statuses = [str(x) for x in r.get(table, "statuses", list, where, ["ready"])]
    for st in statuses:
        if st not in ("confirm", "payment", "ready"):
            r.fail(where + "statuses", f"{st!r}: instruct orders in confirm, payment or ready")
    w = Wms(name=name, location=r.get(table, "location", str, where, required=True), statuses=statuses,
            tag=r.get(table, "tag", str, where, "wms"),
            packaging_tags=[str(x) for x in r.get(table, "packaging_tags", list, where, [])],
            layout=r.get(table, "layout", str, where, "wms-instruction"),
            cancel_layout=r.get(table, "cancel_layout", str, where, "wms-cancel"),
            result_layouts=[str(x) for x in r.get(table, "result_layouts", list, where, ["wms-result"])],
            stock_layout=r.get(table, "stock_layout", str, where, "wms-stock"))
    w.every_minutes, w.at = _schedule(r, table, where, every=5)
    for key in ("layout", "cancel_layout"):
        if getattr(w, key) not in cfg.layouts.available("wms"):
            r.fail(where + key, f"unknown layout {getattr(w, key)!r} (known: {', '.join(cfg.layouts.available('wms'))})")
    for n, result in enumerate(w.result_layouts):
        _layout(r, cfg, result, f"{where}result_layouts[{n}]", "results")
    _layout(r, cfg, w.stock_layout, where + "stock_layout", "stock")
    return w


def _address(r: _Reader, table: dict, key: str, where: str, required: bool = False) -> str:
    value = r.get(table, key, str, where, "", required)
    if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        r.fail(where + key, f"{value!r} is not a mail address")
    return value


def _relay_and_alerts(r: _Reader, raw: dict, cfg: Config) -> None:
    relay = r.get(raw, "relay", dict, "", None)
    if relay is not None:
        r.unknown(relay, {"host", "port", "security", "user", "password_env", "timeout", "message_id_domain", "ca_file"},
                  "relay.")
        cfg.relay = RelaySettings(host=r.get(relay, "host", str, "relay.", required=True),
                          port=r.get(relay, "port", int, "relay.", 587),
                          security=r.get(relay, "security", str, "relay.", "starttls"),
                          user=r.get(relay, "user", str, "relay.", ""),
                          password_env=r.get(relay, "password_env", str, "relay.", ""),
                          timeout=float(r.get(relay, "timeout", (int, float), "relay.", 30)),
                          message_id_domain=r.get(relay, "message_id_domain", str, "relay.", "tsunagi.invalid"))
        ca = r.get(relay, "ca_file", str, "relay.", "")
        if ca:
            ca_path = Path(ca) if Path(ca).is_absolute() else cfg.path.parent / ca
            if not ca_path.is_file():
                r.fail("relay.ca_file", f"{ca_path} does not exist")
            cfg.relay.ca_file = str(ca_path)
        if cfg.relay.security not in ("starttls", "tls", "none"):
            r.fail("relay.security", f"{cfg.relay.security!r}: use starttls, tls or none")
        if cfg.relay.user and not cfg.relay.password_env:
            r.fail("relay.password_env", "with relay.user, name the environment variable that holds the password")
    alerts = r.get(raw, "alerts", dict, "", None)
    if alerts is not None:
        r.unknown(alerts, {"to", "sender", "digest_minutes", "failing_minutes", "feed_stale_minutes"}, "alerts.")
        to = [str(a) for a in r.get(alerts, "to", list, "alerts.", required=True)]
        for a in to:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", a):
                r.fail("alerts.to", f"{a!r} is not a mail address")
        cfg.alerts = Alerts(to=to, sender=_address(r, alerts, "sender", "alerts.", required=True),
                            digest_minutes=float(r.get(alerts, "digest_minutes", (int, float), "alerts.", 15)),
                            failing_minutes=float(r.get(alerts, "failing_minutes", (int, float), "alerts.", 30)),
                            feed_stale_minutes=float(r.get(alerts, "feed_stale_minutes", (int, float), "alerts.", 60)))
        if cfg.relay is None:
            r.fail("alerts", "alerts are mailed through [relay]: add it")


def _mail(r: _Reader, cfg: Config, shop: Shop, table: dict, where: str) -> None:
    raw = r.get(table, "mail", dict, where, None)
    if raw is None:
        return
    where += "mail."
    r.unknown(raw, MAIL_KEYS, where)
    if cfg.relay is None:
        r.fail(where.rstrip("."), "buyer mails are sent through [relay]: add it")
    folder = r.get(raw, "template_dir", str, where, "")
    path = (Path(folder) if Path(folder).is_absolute() else cfg.path.parent / folder) if folder else None
    if path is not None and not path.is_dir():
        r.fail(where + "template_dir", f"{path} is not a folder")
    charset = r.get(raw, "charset", str, where, "utf-8").lower()
    if charset not in ("utf-8", "iso-2022-jp"):
        r.fail(where + "charset", f"{charset!r}: use utf-8 or iso-2022-jp")
    stages: dict[str, dict] = {}
    for stage in ("purchase", "shipment", "post_purchase"):
        settings = r.get(raw, stage, dict, where, None)
        if settings is None:
            continue
        r.unknown(settings, {"enabled", "statuses", "days", "hours"}, f"{where}{stage}.")
        if not r.get(settings, "enabled", bool, f"{where}{stage}.", True):
            continue
        out: dict = {}
        if stage == "purchase":
            # whichever comes first: 新規受付 for a mail order, 確認待ち for one first seen in an order CSV
            out["statuses"] = [str(x) for x in r.get(settings, "statuses", list, f"{where}{stage}.", ["new", "confirm"])]
        if stage == "post_purchase":
            out["days"] = r.get(settings, "days", int, f"{where}{stage}.", 7)
            hours = r.get(settings, "hours", list, f"{where}{stage}.", [9, 20])
            if len(hours) != 2 or not all(isinstance(h, int) and 0 <= h <= 24 for h in hours) or hours[0] >= hours[1]:
                r.fail(f"{where}{stage}.hours", f"{hours!r}: give [from, to] hours of the day, e.g. [9, 20]")
            out["hours"] = hours
        stages[stage] = out
    shop.mail = ShopMail(sender=_address(r, raw, "sender", where, required=True),
                         sender_name=r.get(raw, "sender_name", str, where, shop.name),
                         reply_to=_address(r, raw, "reply_to", where), bcc=_address(r, raw, "bcc", where),
                         signature=r.get(raw, "signature", str, where, ""), template_dir=path, charset=charset,
                         stages=stages)


def _shipping(r: _Reader, cfg: Config, shop: Shop, table: dict, where: str) -> None:
    raw = r.get(table, "shipping", dict, where, None)
    if raw is None:
        return
    where += "shipping."
    r.unknown(raw, SHIPPING_KEYS, where)
    maps = {k: {str(a): str(b) for a, b in r.get(raw, k, dict, where, {}).items()}
            for k in ("delivery", "payment", "time")}
    for channel_name, service in maps["delivery"].items():
        if cfg.carrier_for_service(service) is None:
            offered = sorted({s for c in cfg.carriers for s in cfg.layouts.load("label", c.layout).tables.get("service", {})})
            r.fail(where + "delivery", f"{channel_name!r} = {service!r}: no [[carrier]] offers {service!r} "
                                       f"(offered: {', '.join(offered) or 'none: add a [[carrier]]'})")
    for channel_name, kind in maps["payment"].items():
        if kind not in ("prepaid", "cod"):
            r.fail(where + "payment", f"{channel_name!r} = {kind!r}: use prepaid or cod")
    for channel_name, slot in maps["time"].items():
        if slot not in TIME_SLOTS:
            r.fail(where + "time", f"{channel_name!r} = {slot!r}: use one of "
                                   f"{', '.join(sorted(TIME_SLOTS - {''}))}, or an empty string for none")
    confirm = r.get(raw, "confirm_layout", str, where, "")
    if confirm and confirm not in cfg.layouts.available("confirm"):
        r.fail(where + "confirm_layout", f"unknown layout {confirm!r} (known: {', '.join(cfg.layouts.available('confirm'))})")
    shop.shipping = ShopShipping(maps["delivery"], maps["payment"], maps["time"],
                                 bool(r.get(raw, "auto_ready", bool, where, True)), confirm)


def _layout(r: _Reader, cfg: Config, name: str, where: str, kind: str) -> None:
    try:
        layout = cfg.csv_layout(name)
    except csvlayout.LayoutError as exc:
        r.fail(where, str(exc))
    if layout.kind != kind:
        r.fail(where, f"layout {name!r} is a {layout.kind} layout, not {kind}")


def _csv(r: _Reader, raw: dict, cfg: Config) -> None:
    table = r.get(raw, "csv", dict, "", {})
    r.unknown(table, CSV_KEYS, "csv.")
    layout_dir = r.get(table, "layout_dir", str, "csv.", "")
    if layout_dir:
        folder = Path(layout_dir) if Path(layout_dir).is_absolute() else cfg.path.parent / layout_dir
        if not folder.is_dir():
            r.fail("csv.layout_dir", f"{folder} is not a folder")
        cfg.csv_layout_dirs = (folder,)
    cfg.csv_inline = r.get(raw, "csv_layout", dict, "", {})
    cfg.stock_layouts = [str(x) for x in r.get(table, "stock_layouts", list, "csv.", cfg.stock_layouts)]
    for n, name in enumerate(cfg.stock_layouts):
        _layout(r, cfg, name, f"csv.stock_layouts[{n}]", "stock")
    cfg.mail_within_minutes = float(r.get(table, "mail_within_minutes", (int, float), "csv.", 60))
    cfg.drop_stable_seconds = float(r.get(table, "drop_stable_seconds", (int, float), "csv.", 2))


def _sftp(r: _Reader, cfg: Config, table, where: str) -> SftpEndpoint:
    name = _named_table(r, table, where, "sftp", SFTP_KEYS)
    base = cfg.path.parent

    def path(key: str, required: bool = False) -> Path | None:
        value = r.get(table, key, str, where, None, required)
        return None if value is None else (Path(value) if Path(value).is_absolute() else base / value)

    ep = SftpEndpoint(name=name, host=r.get(table, "host", str, where, required=True),
                      user=r.get(table, "user", str, where, required=True),
                      known_hosts=path("known_hosts", True), port=r.get(table, "port", int, where, 22),
                      key_file=path("key_file"), password_env=r.get(table, "password_env", str, where, ""),
                      timeout=float(r.get(table, "timeout", (int, float), where, 30)))
    ep.every_minutes, ep.at = _schedule(r, table, where)
    if ep.key_file is None and not ep.password_env:
        r.fail(where + "key_file", "give key_file, or password_env naming an environment variable with the password")
    pull = r.get(table, "pull", dict, where, None)
    if pull is not None:
        r.unknown(pull, {"remote_dir", "into", "pattern", "layout", "after", "processed_dir"}, where + "pull.")
        ep.pull = SftpPull(remote_dir=r.get(pull, "remote_dir", str, where + "pull.", required=True),
                           into=r.get(pull, "into", str, where + "pull.", required=True),
                           pattern=r.get(pull, "pattern", str, where + "pull.", "*.csv"),
                           layout=r.get(pull, "layout", str, where + "pull.", ""),
                           after=r.get(pull, "after", str, where + "pull.", "move"),
                           processed_dir=r.get(pull, "processed_dir", str, where + "pull.", ""))
        if ep.pull.into not in cfg.drop_targets():
            r.fail(where + "pull.into", f"{ep.pull.into!r} is not a shop id or a carrier name")
        if ep.pull.after not in ("move", "delete"):
            r.fail(where + "pull.after", "must be move or delete")
        if ep.pull.after == "move" and not ep.pull.processed_dir:
            r.fail(where + "pull.processed_dir", "is required when after = \"move\"")
        if ep.pull.layout:
            try:
                cfg.csv_layout(ep.pull.layout)
            except csvlayout.LayoutError as exc:
                r.fail(where + "pull.layout", str(exc))
    push = r.get(table, "push", dict, where, None)
    if push is not None:
        r.unknown(push, {"remote_dir", "source", "pattern"}, where + "push.")
        ep.push = SftpPush(remote_dir=r.get(push, "remote_dir", str, where + "push.", required=True),
                           source=r.get(push, "source", str, where + "push.", required=True),
                           pattern=r.get(push, "pattern", str, where + "push.", "*"))
    if not ep.pull and not ep.push:
        r.fail(where + "pull", "an endpoint needs pull, push or both")
    return ep


def _shop(r: _Reader, cfg: Config, table, where: str) -> Shop:
    if not isinstance(table, dict):
        r.fail(where.rstrip("."), "must be a table ([[shop]])")
    r.unknown(table, SHOP_KEYS, where)
    shop_id = r.get(table, "id", str, where, required=True)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", shop_id):
        r.fail(where + "id", f"{shop_id!r}: use lower-case letters, digits, - and _ (it names folders)")
    cart = r.get(table, "cart", str, where, required=True)
    specs = [str(s) for s in r.get(table, "mail_specs", list, where, [cart])]
    for spec in specs:
        if spec not in available_carts():
            r.fail(where + ("mail_specs" if "mail_specs" in table else "cart"),
                   f"no mail spec {spec!r} in {SPEC_DIR} (known: {', '.join(available_carts())})")
    addresses = r.get(table, "order_mail_to", list, where, [])
    for address in addresses:
        if not isinstance(address, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            r.fail(where + "order_mail_to", f"{address!r} is not a mail address")
    shop = Shop(id=shop_id, name=r.get(table, "name", str, where, shop_id), cart=cart,
                order_mail_to=[a.lower() for a in addresses], mail_specs=specs)
    order_csv = r.get(table, "order_csv", dict, where, None)
    if order_csv is not None:
        r.unknown(order_csv, {"layout", "confirm_within_hours"}, where + "order_csv.")
        shop.order_csv = OrderCsv(r.get(order_csv, "layout", str, where + "order_csv.", required=True),
                                  float(r.get(order_csv, "confirm_within_hours", (int, float),
                                              where + "order_csv.", 24)))
    feed = r.get(table, "stock_feed", dict, where, None)
    if feed is not None:
        r.unknown(feed, {"layout", "safety_stock", "location"}, where + "stock_feed.")
        layout = r.get(feed, "layout", str, where + "stock_feed.", required=True)
        if layout not in cfg.layouts.available("stock"):
            r.fail(where + "stock_feed.layout",
                   f"unknown layout {layout!r} (known: {', '.join(cfg.layouts.available('stock'))})")
        safety = r.get(feed, "safety_stock", int, where + "stock_feed.", 0)
        if safety < 0:
            r.fail(where + "stock_feed.safety_stock", "must not be negative")
        shop.stock_feed = StockFeed(layout, safety, r.get(feed, "location", str, where + "stock_feed.", ""))
    return shop


def _check_unique(r: _Reader, cfg: Config) -> None:
    seen_ids, seen_addresses = {}, {}
    for n, shop in enumerate(cfg.shops):
        if shop.id in seen_ids:
            r.fail(f"shop[{n}].id", f"{shop.id!r} is already used by shop[{seen_ids[shop.id]}]")
        seen_ids[shop.id] = n
        for address in shop.order_mail_to:
            if address in seen_addresses:
                r.fail(f"shop[{n}].order_mail_to", f"{address} is already used by shop[{seen_addresses[address]}]")
            seen_addresses[address] = n
