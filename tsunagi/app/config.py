"""Reading config.toml: every mistake names the file, the key and what is wrong, before anything starts."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.outbound.layouts import available_layouts
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts


class ConfigError(Exception):
    pass


@dataclass
class StockFeed:
    layout: str
    safety_stock: int = 0
    location: str = ""      # the channel's own location name, for layouts that carry one


@dataclass
class Shop:
    id: str
    name: str
    cart: str
    order_mail_to: list[str]
    stock_feed: StockFeed | None = None
    mail_specs: list[str] = field(default_factory=list)


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

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tsunagi.db"

    def shop(self, shop_id: str) -> Shop:
        for shop in self.shops:
            if shop.id == shop_id:
                return shop
        raise ConfigError(f"{self.path}: no shop with id {shop_id!r} (shops: {', '.join(s.id for s in self.shops)})")

    def shop_for_recipient(self, address: str) -> Shop | None:
        address = address.lower()
        for shop in self.shops:
            if address in shop.order_mail_to:
                return shop
        return None


TOP_KEYS = {"data_dir", "smtp", "shop", "locations", "stock_feed", "store"}
SHOP_KEYS = {"id", "name", "cart", "order_mail_to", "stock_feed", "mail_specs"}


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
    for n, table in enumerate(shops):
        cfg.shops.append(_shop(r, table, f"shop[{n}]."))
    _check_unique(r, cfg)
    return cfg


def _shop(r: _Reader, table, where: str) -> Shop:
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
    feed = r.get(table, "stock_feed", dict, where, None)
    if feed is not None:
        r.unknown(feed, {"layout", "safety_stock", "location"}, where + "stock_feed.")
        layout = r.get(feed, "layout", str, where + "stock_feed.", required=True)
        if layout not in available_layouts("stock"):
            r.fail(where + "stock_feed.layout",
                   f"unknown layout {layout!r} (known: {', '.join(available_layouts('stock'))})")
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
