"""A cart that changed its order mail: the shop's mails refused N in a row after its spec worked are reported,
and a switched spec runs again the mails the old one refused."""
from __future__ import annotations

import hashlib
from typing import Callable

from tsunagi.ingest.spool import Item, Spool
from tsunagi.oms import mailhealth
from tsunagi.oms.mailhealth import Health
from tsunagi.oms.store import Store
from tsunagi.parsers.ordermail import spec_path

# What a spec refused: a field it did not find, figures that do not add up, a subject it does not know (the
# cart renamed its mail). Bounces, auto-replies, bugs and mails too slow to parse are not the spec's doing;
# another cart's mail is a forwarding mistake, not a change (it is told as a failed item).
def unmatched(reason: dict) -> bool:
    return reason.get("kind") == "not_an_order" and reason.get("message", "").startswith("no order spec")


def changed_format(reason: dict) -> bool:
    return reason.get("kind") == "parse_error" or unmatched(reason)


def refused_by_spec(reason: dict) -> bool:
    """What a switched spec may read: what the old one refused, and another cart's mail (a cart switched)."""
    return changed_format(reason) or reason.get("kind") == "wrong_cart"


class SpecWatch:
    """Told of every filed item (Pipeline.watch); writes the store only when a shop's state changes."""

    def __init__(self, store: Store, threshold: int, on_changed: Callable[[str, Health], None] | None = None):
        self.store, self.threshold, self.on_changed = store, threshold, on_changed
        self.state = mailhealth.load_all(store.read())

    def __call__(self, item: Item, result) -> None:
        if item.meta.get("kind", "order_mail") != "order_mail":
            return
        shop = item.meta.get("shop", "")
        h = self.state.setdefault(shop, Health())
        if isinstance(result, str):
            if result.startswith("order") and (not h.worked or h.failing):
                h.worked, h.failing, h.alerted, h.failures = True, 0, False, []
                self._save(shop, h)
            return
        if not changed_format(result) or not h.worked:
            return
        h.failing += 1
        h.failures.append([item.id, str(result.get("message", ""))[:200]])
        report = h.failing >= self.threshold and not h.alerted
        h.alerted = h.alerted or report
        self._save(shop, h)
        if report and self.on_changed:
            self.on_changed(shop, h)

    def reset(self, shop: str) -> None:
        """A switched spec starts a new streak."""
        h = self.state.setdefault(shop, Health())
        h.failing, h.alerted, h.failures = 0, False, []

    def _save(self, shop: str, h: Health) -> None:
        with self.store.transaction() as tx:
            mailhealth.save_counts(tx, shop, h)


def changed_subject(shop: str) -> str:
    return f"{shop} の受注メールの形式が変わった可能性があります"


def changed_detail(shop: str, carts: list[str], h: Health, failed_dir) -> str:
    """The alert's body: the failing items, and the commands that check and fix the spec."""
    lines = [f"仕様 {', '.join(carts)} で読めていた {shop} の受注メールが、続けて {h.failing} 通読めませんでした:"]
    lines += [f"  {item_id}: {message}" for item_id, message in h.failures]
    first = h.failures[0][0] if h.failures else "ID"
    lines += [f"確かめる: tsunagi spec test {carts[0]} {failed_dir}/{first}.eml",
              f"直す: tsunagi spec learn {shop} --mail {failed_dir}/{first}.eml --values order_no=…,total=… "
              f"(または --order-csv 同じ注文の CSV)",
              f"試す: tsunagi spec replay {carts[0]} --spec 提案されたファイル"]
    return "\n".join(lines)


def fingerprint(carts: list[str], spec_dir: str) -> str:
    """The spec files a shop reads with, as one digest: a switch or an edit changes it."""
    digest = hashlib.sha256()
    for cart in carts:
        digest.update(cart.encode() + b"\0")
        try:
            digest.update(spec_path(cart, spec_dir).read_bytes())
        except Exception:       # a spec gone is a change too; the config check names it
            digest.update(b"(missing)")
    return digest.hexdigest()


def retry_switched(spool: Spool, store: Store, shop_specs: dict[str, list[str]], spec_dir: str,
                   watch: SpecWatch | None = None) -> dict[str, list]:
    """Shops whose spec files changed since last looked at (a switch in the config, an edited file) get
    the mails the old spec refused run again; returns them by shop."""
    state = mailhealth.load_all(store.read())
    retried: dict[str, list] = {}
    failed = None
    for shop, carts in shop_specs.items():
        now, before = fingerprint(carts, spec_dir), state.get(shop, Health()).spec
        if before == now:
            continue
        if before:                   # a switch: the first look only records the spec
            failed = spool.failed() if failed is None else failed
            retried[shop] = [r["id"] for r in failed if r.get("shop") == shop and refused_by_spec(r)]
            for item_id in retried[shop]:
                spool.retry(item_id)
            if watch:
                watch.reset(shop)
        with store.transaction() as tx:
            mailhealth.switched(tx, shop, now, first=not before)
    return retried
