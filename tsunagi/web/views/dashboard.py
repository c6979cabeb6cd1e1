"""ダッシュボード: orders per status (保留 per kind), today's per shop, intake health, outbox, workers, alerts.
The counts are a fragment htmx asks for every second, so a new order shows without a reload."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from starlette.routing import Route

from tsunagi.common import clock
from tsunagi.oms import dashboard, status
from tsunagi.web import labels
from tsunagi.web.routing import Ctx, page

SHOWN = (status.NEW, status.CONFIRM, status.PAYMENT, status.AWAITING_STOCK, status.WAITING_DATE, status.READY,
         status.SHIPPED)
POLL_SECONDS = 1        # a new order mail shows within 2 s


# Every user's browser asks each second: they share the figures until the outbox shows a change (or 5 s pass).
_CACHE: dict[int, tuple[float, int, dict]] = {}      # per backend (one a console): when, last event, figures
_LOCK = threading.Lock()
KEEP_SECONDS = 5.0


def counts(ctx: Ctx) -> dict:
    event = dashboard.last_event(ctx.backend.store.read())
    with _LOCK:        # one thread counts, the others take its figures
        at, seen, figures = _CACHE.get(id(ctx.backend), (0.0, -1, {}))
        if seen != event or time.monotonic() - at > KEEP_SECONDS:
            figures = _count(ctx)
            _CACHE[id(ctx.backend)] = (time.monotonic(), event, figures)
    return {**figures, "hold_label": labels.hold_kind, "poll": POLL_SECONDS}


def _count(ctx: Ctx) -> dict:
    tx = ctx.backend.store.read()
    midnight = datetime.combine(clock.today(), datetime.min.time(), clock.JST).isoformat()
    return {"counts": dashboard.status_counts(tx), "holds": dashboard.hold_counts(tx), "shown": SHOWN,
            "today": dashboard.ordered_since(tx, list(ctx.backend.shops), midnight)}


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
