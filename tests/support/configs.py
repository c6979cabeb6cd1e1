"""The base site config as Python data, written to TOML with tomli_w; the shops' addresses, the
products and counts every site starts with, and seed() to import them as the operator would."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Callable

import tomli_w

from tsunagi.app import cli

RAKUTEN_TO = "rakuten-7f3k@orders.example.jp"
YAHOO_TO = "yahoo-2m9q@orders.example.jp"
EC_TO = "eccube-a81z@orders.example.jp"

# Three shops, one per cart, on an SMTP port the system picks; read-only: builders copy it.
CONFIG = {
    "data_dir": "var",
    "locations": ["本店倉庫", "外部倉庫"],
    "smtp": {"listen": "127.0.0.1:0", "max_message_bytes": 10485760},
    "stock_feed": {"coalesce_ms": 100},
    "store": {"synchronous": "NORMAL"},
    "csv": {"drop_stable_seconds": 0.5},
    "shop": [
        {"id": "rakuten", "name": "テスト楽天店", "cart": "rakuten", "order_mail_to": [RAKUTEN_TO],
         "stock_feed": {"layout": "rakuten-normal-item", "safety_stock": 0},
         "order_csv": {"layout": "rakuten-rms", "confirm_within_hours": 1}},
        {"id": "yahoo", "name": "テストYahoo店", "cart": "yahoo", "order_mail_to": [YAHOO_TO],
         "stock_feed": {"layout": "yahoo-quantity", "safety_stock": 1},
         "order_csv": {"layout": "yahoo-order"}},
        {"id": "ec", "name": "テスト自社サイト", "cart": "ec-cube", "order_mail_to": [EC_TO],
         "order_csv": {"layout": "ec-cube"}},
    ],
}

PRODUCTS = """sku,name,components,channel_sku,shop
item-a,商品A,,,
item-b,商品B,,,
item-c,商品C,,,
set-ab,AとBのセット,item-a*1;item-b*2,,
"""
COUNTS = """sku,location,lot,qty
item-a,本店倉庫,1,10
item-b,本店倉庫,1,10
item-c,本店倉庫,1,10
"""


def base_config() -> dict:
    """A fresh copy of CONFIG, free to change."""
    return copy.deepcopy(CONFIG)


def merge(data: dict, changes: dict) -> dict:
    """data with changes laid over it: tables merged key by key, any other value replaced."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merge(data[key], value)
        else:
            data[key] = copy.deepcopy(value)
    return data


def write_config(folder: Path, data: dict | None = None, **overrides) -> Path:
    """folder/config.toml from data (the base config if None) with overrides merged over its tables."""
    path = Path(folder) / "config.toml"
    _dump(path, merge(copy.deepcopy(CONFIG if data is None else data), overrides))
    return path


def read_config(path: Path) -> dict:
    """The config file at path as data."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def edit_config(path: Path, change: Callable[[dict], None]) -> dict:
    """Loads the config at path, lets change alter the data in place, writes it back; returns the data."""
    data = read_config(path)
    change(data)
    _dump(Path(path), data)
    return data


def _dump(path: Path, data: dict) -> None:
    path.write_text(tomli_w.dumps(data), encoding="utf-8")


def own_layout(folder: Path, kind: str, name: str, layout: dict) -> None:
    """A layout of the shop's own: <folder>/layouts/<kind>/<name>.toml (csv.layout_dir = "layouts")."""
    (folder / "layouts" / kind).mkdir(parents=True, exist_ok=True)
    _dump(folder / "layouts" / kind / f"{name}.toml", layout)


def shop(data: dict, shop_id: str) -> dict:
    """The [[shop]] table with that id (changing it changes data)."""
    return next(s for s in data["shop"] if s["id"] == shop_id)


def seed(config_path: Path, products: str = PRODUCTS, counts: str = COUNTS) -> None:
    """Imports products and stock counts next to the config through the command line."""
    folder = config_path.parent
    (folder / "products.csv").write_text(products, encoding="utf-8")
    (folder / "counts.csv").write_text(counts, encoding="utf-8")
    assert cli.main(["-c", str(config_path), "products", "import", str(folder / "products.csv")]) == 0
    assert cli.main(["-c", str(config_path), "stock", "import", str(folder / "counts.csv")]) == 0
