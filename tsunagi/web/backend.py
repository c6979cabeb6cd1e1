"""What the console is given by the daemon (app/console.py wires it): the store, the shops, and the few
things that live above the domain (what follows a change, the daemon's status, the spool's counts)."""
from __future__ import annotations

from dataclasses import dataclass
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
    export_labels: Callable[[str | None], list[str]] = lambda shop: []  # label files written (names)
    split_refuses_sets: Callable[[str], bool] = lambda shop: False     # an Amazon shop's split keeps sets whole
    damaged_location: str = "返品不良"
    mailing_shops: frozenset[str] = frozenset()                       # shops with [shop.mail]
    mail_preview: Callable[[int, str], tuple[str, str]] | None = None  # (order id, stage) -> (subject, text)
    tracking_url: Callable[[str, str], str] = lambda carrier, number: ""
