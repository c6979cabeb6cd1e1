"""The console's pages in the navigation, in order: (path, label). A page not yet built answers 準備中."""
from __future__ import annotations

PAGES = (
    ("/", "ダッシュボード"),
    ("/orders", "受注一覧"),
    ("/intake", "取込"),
    ("/shipping", "出荷"),
    ("/stock", "在庫"),
    ("/links", "連携"),
    ("/mail", "メール"),
    ("/settings", "設定"),
)


def current(path: str) -> str:
    """The navigation entry a path belongs to (/orders/rakuten/1 is under /orders)."""
    best = "/"
    for p, _ in PAGES:
        if p != "/" and (path == p or path.startswith(p + "/")):
            best = p
    return best
