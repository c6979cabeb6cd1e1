"""The pipeline: claim a spool item, parse it, apply it in one transaction that records it, file it."""
from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tsunagi.ingest.spool import Item, Spool
from tsunagi.oms import orders
from tsunagi.oms.store import Store, already_applied, record_applied
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import SPEC_DIR
from tsunagi.parsers.ordermail import parse_order_mail, spec_for

log = logging.getLogger("tsunagi.pipeline")


@dataclass
class Pipeline:
    spool: Spool
    store: Store
    shop_specs: dict[str, list[str]]          # shop id -> the carts whose mail specs it reads
    spec_dir: Path = SPEC_DIR
    counts: Counter = field(default_factory=Counter)

    def drain(self) -> int:
        """Process everything waiting in new/, oldest first; returns how many were handled."""
        handled = 0
        for item_id in self.spool.waiting():
            if self.process(item_id) is not None:
                handled += 1
        return handled

    def process(self, item_id: str) -> str | None:
        item = self.spool.claim(item_id)
        if item is None:
            return None
        try:
            outcome = self._apply(item)
        except ParseError as exc:
            self._fail(item, exc.as_dict())
            return exc.kind
        except Exception as exc:  # a bug or a store problem must not stop the daemon
            log.exception("item %s: unexpected error", item.id)
            self._fail(item, {"stage": "apply", "kind": "error",
                              "message": f"{type(exc).__name__}: {exc}"})
            return "error"
        self.spool.done(item)
        self.counts[outcome] += 1
        log.info("item %s: %s", item.id, outcome)
        return outcome

    def _fail(self, item: Item, reason: dict) -> None:
        self.spool.fail(item, reason)
        self.counts[reason.get("kind", "error")] += 1
        level = logging.INFO if reason.get("kind") == "not_an_order" else logging.WARNING
        log.log(level, "item %s -> failed/: %s", item.id, reason.get("message"))

    def _apply(self, item: Item) -> str:
        data = item.read()
        sha = item.meta.get("sha256", "")
        if hashlib.sha256(data).hexdigest() != sha:
            raise ParseError("the spool file does not match the sha256 taken when it was received",
                             stage="spool", kind="corrupt")
        if already_applied(self.store.read(), sha):
            return "duplicate (already applied)"
        record = self._parse(item, data)
        with self.store.transaction() as tx:
            if already_applied(tx, sha):
                return "duplicate (already applied)"
            result = orders.apply_order(tx, record)
            outcome = f"order {result}: {record.shop} {record.order_no}"
            record_applied(tx, sha, item.id, outcome)
        return outcome

    def _parse(self, item: Item, data: bytes):
        kind = item.meta.get("kind", "order_mail")
        if kind != "order_mail":
            raise ParseError(f"no parser for items of kind {kind!r}", stage="dispatch", kind="unknown_kind")
        shop = item.meta.get("shop", "")
        if shop not in self.shop_specs:
            raise ParseError(f"shop {shop!r} is not in the configuration", stage="dispatch", field="shop",
                             kind="unknown_shop")
        specs = [spec_for(cart, str(self.spec_dir)) for cart in self.shop_specs[shop]]
        return parse_order_mail(data, shop, specs, item.meta.get("mail_from", "x"))
