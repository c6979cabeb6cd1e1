"""The web console wired to the daemon: its Backend (the store, the shops, what follows a change, the status
report, the spool's counts) and the server on web.listen."""
from __future__ import annotations

import threading

from tsunagi.app import consolepages as pages
from tsunagi.app import health, wiring
from tsunagi.app.commands.orderrelate import is_amazon
from tsunagi.app.config import Config
from tsunagi.common import clock
from tsunagi.ingest.spool import Spool
from tsunagi.oms import queries, shipplan
from tsunagi.oms.store import Store
from tsunagi.outbound import labels, mailqueue
from tsunagi.web.backend import Backend
from tsunagi.web.server import Console


def backend(cfg: Config, store: Store, stock_changed: threading.Event | None = None) -> Backend:
    def after_change(shop: str | None) -> None:
        """As after a command: orders made ready, the mails their moves start, the feeds told stock moved."""
        wiring.ready_orders(cfg, store, shop)
        if any(s.mail for s in cfg.shops):
            mailqueue.drain(store)
        if stock_changed is not None:
            stock_changed.set()

    web = cfg.file.web
    return Backend(store=store, shops={s.id: s.name for s in cfg.shops}, after_change=after_change,
                   status=lambda: health.report(cfg), intake_today=lambda: intake_today(cfg),
                   session_minutes=web.session_minutes if web else 480,
                   secure_cookies=bool(web and (web.tls or web.behind_proxy)),
                   ready=lambda order_ids: ready(cfg, store, order_ids),
                   export_labels=lambda order_ids: export_labels(cfg, store, order_ids),
                   split_refuses_sets=lambda shop: is_amazon(cfg, shop), damaged_location=cfg.damaged_location,
                   mailing_shops=frozenset(s.id for s in cfg.shops if s.mail),
                   mail_preview=lambda order_id, stage: mail_preview(cfg, store, order_id, stage),
                   tracking_url=tracking_urls(cfg), **more_pages(cfg, store, stock_changed))


def more_pages(cfg: Config, store: Store, stock_changed: threading.Event | None) -> dict:
    """The Backend fields of 取込, 出荷, 在庫, 連携 and 設定."""
    return dict(
        quarantined=lambda: Spool(cfg.spool_dir).failed(), spool_item=lambda i: pages.spool_item(cfg, i),
        spool_retry=lambda i: pages.retry(cfg, i), spool_dismiss=lambda i, by: pages.dismiss(cfg, i, by),
        drop_targets=tuple(sorted(cfg.drop_targets())), drop_file=lambda t, n, d: pages.drop(cfg, t, n, d),
        carriers=tuple(c.name for c in cfg.carriers), export_carrier=lambda c: pages.export_carrier(cfg, store, c),
        outbox_files=lambda: pages.outbox_files(cfg), outbox_path=lambda t, s, n: pages.outbox_path(cfg, t, s, n),
        mark_sent=lambda t, n: pages.mark_sent(cfg, store, t, n),
        stock_changed=stock_changed.set if stock_changed is not None else (lambda: None),
        feed_shops=tuple(s.id for s in cfg.shops if s.stock_feed),
        resync=lambda shop: pages.resync(cfg, store, shop),
        invoice=lambda shop: (cfg.shop(shop).invoice_number, cfg.shop(shop).reduced_rate_tag),
        shop_info=lambda shop: shipper(cfg, shop),
        shown_config=lambda: pages.shown_config(cfg), check=lambda: pages.check(cfg))


def shipper(cfg: Config, shop_id: str) -> dict:
    """Who sends the shop's parcels: the first carrier's ご依頼主 (name, postal code, address, phone)."""
    shop = cfg.shop(shop_id)
    who = cfg.carriers[0].shipper if cfg.carriers else None
    return {"name": shop.name, "shipper": who.name if who else "", "postal_code": who.postal_code if who else "",
            "address": who.address if who else "", "phone": who.phone if who else ""}


def ready(cfg: Config, store: Store, order_ids: frozenset[int]) -> dict[str, int]:
    """As `tsunagi ship ready` for the chosen orders only: 確認待ち → 印刷待ち (or 保留 naming what is unmapped)."""
    rules = wiring.shipping_rules(cfg)
    with store.transaction() as tx:
        return shipplan.ready_orders(tx, rules, only_auto=False, order_ids=order_ids)


def export_labels(cfg: Config, store: Store, order_ids: frozenset[int]) -> list[str]:
    """As `tsunagi ship export CARRIER` for every carrier, for the chosen orders only (those its shop's rules
    ready first, as the command does): the label files written, and orders held."""
    outbox = Spool(cfg.spool_dir).dir("outbox")
    with store.transaction() as tx:
        shipplan.ready_orders(tx, wiring.shipping_rules(cfg), order_ids=order_ids)
    out = []
    for carrier in cfg.carriers:
        result = labels.export(store, outbox, carrier, cfg.layouts, order_ids=order_ids)
        out += [str(p.relative_to(outbox)) for p in result.files] + [f"保留: {h}" for h in result.held]
    return out


def mail_preview(cfg: Config, store: Store, order_id: int, stage: str) -> tuple[str, str]:
    """A stage's buyer mail for the order as `tsunagi mail preview` renders it: subject and text."""
    shop = cfg.shop(queries.order_ref(store.read(), order_id)[0])
    context = wiring.context_source(cfg).context(store.read(), order_id, stage)
    rendered = wiring.templates_for(shop).render(stage, context)
    return rendered.subject, rendered.text


def tracking_urls(cfg: Config):
    """carrier, number -> the carrier's tracking page for it (its label layout's carrier_info), else ""."""
    urls = {c.name: cfg.layouts.load("label", c.layout).tables.get("carrier_info", {}).get("tracking_url", "")
            for c in cfg.carriers}
    return lambda carrier, number: urls.get(carrier, "").format(number=number) if urls.get(carrier) else ""


def intake_today(cfg: Config) -> dict[str, int]:
    """Mails and files applied today: the items in today's spool/done/ folder, by kind."""
    folder = cfg.spool_dir / "done" / clock.today().isoformat()
    counts = {"mails": 0, "files": 0}
    try:
        for entry in folder.iterdir():
            if entry.suffix == ".eml":
                counts["mails"] += 1
            elif entry.suffix == ".csv":
                counts["files"] += 1
    except FileNotFoundError:
        pass
    return counts


def console(cfg: Config, store: Store, stock_changed: threading.Event | None = None) -> Console | None:
    """The console on web.listen, not started; None without a [web] table."""
    web = cfg.file.web
    if web is None:
        return None
    return Console(backend(cfg, store, stock_changed), web.host, web.port, web.tls_cert, web.tls_key,
                   web.behind_proxy)
