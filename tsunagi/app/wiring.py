"""Turning the configuration into working parts: store, spool, pipeline, shipping rules, writers, mailer, alerts."""
from __future__ import annotations

from tsunagi.app import access
from tsunagi.app.config import Config, Shop
from tsunagi.common import clock
from tsunagi.common.safetext import printable
from tsunagi.ingest import spechealth
from tsunagi.ingest.channelresults import ChannelResults
from tsunagi.ingest.csvimport import CsvImporter
from tsunagi.ingest.parsepool import ParsePool
from tsunagi.ingest.pipeline import Pipeline
from tsunagi.ingest.spool import Spool
from tsunagi.oms import deliveries, paykinds, review, shipnames, shipplan, stock
from tsunagi.oms.payments import cancel_unpaid as cancel_unpaid_orders
from tsunagi.oms.store import Store
from tsunagi.outbound import mailqueue
from tsunagi.outbound.alerts import Alerts
from tsunagi.outbound.confirmations import ConfirmWriter
from tsunagi.outbound.feeds import FeedWriter
from tsunagi.outbound.mailer import Mailer
from tsunagi.outbound.mailtemplates import Templates
from tsunagi.outbound.notify import ContextSource
from tsunagi.parsers import channelresult
from tsunagi.parsers.speckinds import with_kinds


def open_store(cfg: Config) -> Store:
    """The store for writing, with the shops' mail stages recorded (a status change made now is mailed)."""
    store = Store(cfg.db_path, cfg.store_synchronous, busy_seconds=cfg.store_busy_seconds)
    mailqueue.sync_stages(store, {s.id: (s.mail.stages if s.mail else {}) for s in cfg.shops})
    return store


def open_parts(cfg: Config, workers: bool = False) -> tuple[Spool, Store, Pipeline]:
    """Spool, store and the pipeline that applies items, as the daemon and the applying commands use them.

    workers: parse mails in worker processes with a time budget each (the daemon); else here."""
    spool = Spool(cfg.spool_dir)
    store = open_store(cfg)
    rules = shipping_rules(cfg)        # once: it does not change while the config does not
    with store.transaction() as tx:
        stock.set_locations(tx, cfg.locations)
        stock.mark_unsellable(tx, cfg.damaged_location)    # never reserved nor published, from the start
    pipeline = Pipeline(spool, store, {s.id: with_kinds(s.mail_specs, str(cfg.spec_path)) for s in cfg.shops},
                        cfg.spec_path,
                        csv=CsvImporter(spool, store, cfg.csv_layouts_for, cfg.max_line_bytes, cfg.sku_case,
                                        untracked=cfg.untracked(),
                                        channel_results=ChannelResults(store, channelresult.load_all(cfg.csv_layout_dirs))),
                        after=lambda: after_apply(cfg, store, rules),
                        parser=ParsePool(cfg.parse_timeout_seconds) if workers else None,
                        dkim=access.dkim_resolver(cfg),
                        lot_tables={s.id: s.lot_table for s in cfg.shops if s.lot_table})
    alerts_ = alerts(cfg, store, spool.dir("outbox"))
    if workers:       # the daemon: a switched spec's shop has its refused mails run again, first
        spec_switches(cfg, spool, store)
    if alerts_:
        pipeline.on_failed = lambda item, reason: _alert_failed(alerts_, item, reason)
        pipeline.watch = spechealth.SpecWatch(store, cfg.alerts.spec_changed_after,
                                              lambda shop, h: _alert_spec_changed(cfg, alerts_, spool, shop, h))
    return spool, store, pipeline


def spec_switches(cfg: Config, spool, store: Store, watch=None) -> dict[str, list]:
    """The mails a switched or edited spec may now read, put back in new/ (by shop)."""
    return spechealth.retry_switched(spool, store, {s.id: s.mail_specs for s in cfg.shops}, cfg.spec_path, watch)


def _alert_spec_changed(cfg: Config, alerts_: Alerts, spool, shop_id: str, h) -> None:
    carts = cfg.shop(shop_id).mail_specs
    alerts_.record("spec", spechealth.changed_subject(shop_id),
                   spechealth.changed_detail(shop_id, carts, h, spool.dir("failed")))


def after_apply(cfg: Config, store: Store, rules: shipplan.Rules | None = None) -> None:
    """What follows applied items or a command's changes: orders made ready, and the mails their moves start."""
    ready_orders(cfg, store, rules=rules)
    if any(s.mail for s in cfg.shops):     # no shop mails buyers: no transaction spent on the queue
        mailqueue.drain(store)


def _alert_failed(alerts_: Alerts, item, reason: dict) -> None:
    if reason.get("kind") not in ("not_an_order", "duplicate"):
        alerts_.record("failed", f"取り込めませんでした: {item.meta.get('shop', '')} "
                                 f"{printable(item.meta.get('file', '') or item.id)}",
                       f"[{reason.get('kind')}] {printable(reason.get('message'))}\n詳しく: tsunagi spool show {item.id}")


def shipping_rules(cfg: Config) -> shipplan.Rules:
    services = {}
    for c in cfg.carriers:
        tables = cfg.layouts.load("label", c.layout).tables
        for name, payments in tables.get("service", {}).items():
            services.setdefault(name, shipplan.Service(c.name, frozenset(payments), frozenset(tables.get("time", {}))))
    shops = {s.id: shipplan.ShopRules(shipnames.delivery_mapping(set(services), s.shipping.delivery), paykinds.mapping(s.shipping.payment),
                                      dict(s.shipping.time),
                                      s.shipping.auto_ready, confirmed_by_mail=not s.order_csv,
                                      review=review.Review(**s.review.model_dump()) if s.review else review.Review())
             for s in cfg.shops if s.shipping}
    return shipplan.Rules(shops, services)


def ready_orders(cfg: Config, store: Store, shop_id: str | None = None, only_auto: bool = True,
                 rules: shipplan.Rules | None = None) -> dict[str, int]:
    """確認待ち → 印刷待ち (or 保留 naming the missing mapping) by the shops' shipping rules, in one transaction."""
    rules = rules or shipping_rules(cfg)
    if not rules.shops:
        return {}
    with store.transaction() as tx:
        return shipplan.ready_orders(tx, rules, shop_id, only_auto)


def timed_moves(cfg: Config, store: Store) -> list[str]:
    """What time alone moves: 印刷日待ち orders whose day has come go on to 印刷待ち; unpaid ones are cancelled."""
    dated = {s.id for s in cfg.shops if s.shipping and s.review and s.review.date_beyond_days}
    if dated:
        shops = {k: v for k, v in shipping_rules(cfg).shops.items() if k in dated}
        with store.transaction() as tx:
            shipplan.dates_come(tx, shops)
    return cancel_unpaid(cfg, store)


def cancel_unpaid(cfg: Config, store: Store) -> list[str]:
    """入金待ち orders past their shop's shipping.unpaid_cancel_days, cancelled in one transaction."""
    days = {s.id: s.shipping.unpaid_cancel_days for s in cfg.shops if s.shipping and s.shipping.unpaid_cancel_days}
    if not days:
        return []
    with store.transaction() as tx:
        done = cancel_unpaid_orders(tx, days, clock.now())
    if done and any(s.mail for s in cfg.shops):
        mailqueue.drain(store)
    return done


def pushed_targets(cfg: Config) -> set[str]:
    return {ep.push.source for ep in cfg.endpoints if ep.push}


def confirm_writer(cfg: Config, spool: Spool, store: Store) -> ConfirmWriter:
    layouts = {s.id: s.shipping.confirm_layout for s in cfg.shops if s.shipping}
    return ConfirmWriter(store, spool.dir("outbox"), layouts, cfg.layouts)


def confirmations_sent(store: Store, names: list[str]) -> int:
    """Files a push delivered without a delivery Tracker (outbound/delivery.py): orders confirmed in them are
    closed (請求済). A push with a Tracker has closed them already; this finds none then."""
    with store.transaction() as tx:
        return sum(deliveries.confirmations_delivered(tx, name, "push") for name in names)


def feed_writer(cfg: Config, spool: Spool, store: Store) -> FeedWriter:
    feeds = {s.id: s.stock_feed for s in cfg.shops if s.stock_feed}
    return FeedWriter(store, spool.dir("outbox"), feeds, cfg.layouts)


def shop_context(shop: Shop) -> dict:
    return {"id": shop.id, "name": shop.name, "sender": shop.mail.sender if shop.mail else "",
            "signature": shop.mail.signature if shop.mail else ""}


def context_source(cfg: Config) -> ContextSource:
    carriers = {c.name: cfg.layouts.load("label", c.layout).tables.get("carrier_info", {}) for c in cfg.carriers}
    return ContextSource({s.id: shop_context(s) for s in cfg.shops}, carriers)


def templates_for(shop: Shop) -> Templates:
    return Templates(shop.mail.template_dir if shop.mail else None)


def mailer(cfg: Config, store: Store) -> Mailer | None:
    if cfg.relay is None:
        return None
    shops = {s.id: s.mail for s in cfg.shops if s.mail}
    templates = {s.id: templates_for(s) for s in cfg.shops if s.mail}
    return Mailer(store, cfg.relay, shops, templates, context_source(cfg).context)


def alerts(cfg: Config, store: Store, outbox_dir) -> Alerts | None:
    if cfg.alerts is None or cfg.relay is None:
        return None
    return Alerts(store, cfg.relay, cfg.alerts, outbox_dir, pushed_targets(cfg))
