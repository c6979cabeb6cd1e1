"""What the console is given by the daemon (app/console.py wires it): the store, the shops, and the few
things that live above the domain (what follows a change, the daemon's status, the spool's counts)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tsunagi.oms.store import Store


@dataclass
class Backend:
    store: Store                                   # the daemon's writer (one connection per thread)
    shops: dict[str, str]                          # shop id -> its name, in config order
    after_change: Callable[[str | None], None]     # a shop's orders were changed: ready them, queue mails, feeds
    status: Callable[[], dict]                     # `tsunagi status --json`'s report
    intake_today: Callable[[], dict]               # {"mails": n, "files": n} applied today
    session_minutes: int = 480
    secure_cookies: bool = False                   # HTTPS here or at a proxy: cookies marked Secure
    # What an order's actions need of the configuration (app/console.py gives them; a default does nothing)
    ready: Callable[[frozenset[int]], dict] = lambda order_ids: {}     # these 確認待ち → 印刷待ち by their shops' rules
    export_labels: Callable[[frozenset[int]], list[str]] = lambda order_ids: []  # these orders' label files (names)
    split_refuses_sets: Callable[[str], bool] = lambda shop: False     # an Amazon shop's split keeps sets whole
    damaged_location: str = "返品不良"
    mailing_shops: frozenset[str] = frozenset()                       # shops with [shop.mail]
    mail_preview: Callable[[int, str], tuple[str, str]] | None = None  # (order id, stage) -> (subject, text)
    tracking_url: Callable[[str, str], str] = lambda carrier, number: ""
    # 取込, 出荷, 連携, 設定: the spool, the outbox and the configuration (app/consolepages.py)
    quarantined: Callable[[], list[dict]] = lambda: []                 # failed/ items' reasons, oldest first
    spool_item: Callable[[str], dict | None] = lambda item_id: None    # id, folder, meta, reason, text
    spool_retry: Callable[[str], None] = lambda item_id: None
    spool_dismiss: Callable[[str, str], None] = lambda item_id, by: None
    drop_targets: tuple[str, ...] = ()                                 # shops, carriers, warehouses
    drop_file: Callable[[str, str, bytes], str] = lambda target, name, data: name   # -> the dropped name
    carriers: tuple[str, ...] = ()
    export_carrier: Callable[[str], list[str]] = lambda carrier: []     # label files written (and held orders)
    outbox_files: Callable[[], list[dict]] = lambda: []                 # target, state, name, size, mtime
    outbox_path: Callable[[str, str, str], Path] | None = None          # (target, state, name) -> the file
    mark_sent: Callable[[str, str], None] = lambda target, name: None   # uploaded by hand: ready/ -> sent/
    stock_changed: Callable[[], None] = lambda: None                    # the feeds write what moved
    feed_shops: tuple[str, ...] = ()                                    # shops with a stock feed
    resync: Callable[[str], int] = lambda shop: 0                       # a feed sends every figure again: products
    invoice: Callable[[str], tuple[str | None, str]] = lambda shop: (None, "軽減税率")  # (T-number, 8 % tag)
    shop_info: Callable[[str], dict] = lambda shop: {}                  # the shipper's name, address, phone
    shown_config: Callable[[], dict] = lambda: {}                       # secrets masked
    check: Callable[[], tuple[int, str]] = lambda: (0, "")              # `tsunagi check`: status, output
