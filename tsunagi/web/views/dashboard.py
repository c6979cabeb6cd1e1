"""ダッシュボード: orders per status (保留 per kind), today's per shop, intake health, outbox, workers, alerts.
The counts are a fragment htmx asks for every second, so a new order shows without a reload."""
from __future__ import annotations

from datetime import datetime, timedelta

from starlette.routing import Route

from tsunagi.common import clock
from tsunagi.oms import dashboard, status
from tsunagi.web import labels
from tsunagi.web.routing import Ctx, page

SHOWN = (status.NEW, status.CONFIRM, status.PAYMENT, status.AWAITING_STOCK, status.WAITING_DATE, status.READY,
         status.SHIPPED)
POLL_SECONDS = 1        # a new order mail shows within 2 s


def counts(ctx: Ctx) -> dict:
    tx = ctx.backend.store.read()
    midnight = datetime.combine(clock.today(), datetime.min.time(), clock.JST).isoformat()
    return {"counts": dashboard.status_counts(tx), "holds": dashboard.hold_counts(tx), "shown": SHOWN,
            "today": dashboard.ordered_since(tx, list(ctx.backend.shops), midnight), "hold_label": labels.hold_kind,
            "poll": POLL_SECONDS}


def health(ctx: Ctx) -> dict:
    since = (clock.now() - timedelta(hours=24)).isoformat()
    return {"report": ctx.backend.status(), "intake": ctx.backend.intake_today(),
            "alerts": dashboard.recent_alerts(ctx.backend.store.read(), since)}


def show(ctx: Ctx):
    return ctx.render("dashboard.html", title="ダッシュボード", **counts(ctx), **health(ctx))


def counts_fragment(ctx: Ctx):
    return ctx.render("dashboard_counts.html", **counts(ctx))


def health_fragment(ctx: Ctx):
    return ctx.render("dashboard_health.html", **health(ctx))


def routes() -> list[Route]:
    return [Route("/", page(show)), Route("/dashboard/counts", page(counts_fragment, fragment=True)),
            Route("/dashboard/health", page(health_fragment, fragment=True))]
