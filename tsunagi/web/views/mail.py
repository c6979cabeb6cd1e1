"""メール: the buyer mail log filtered by state, shop and order, each mail's preview and resend, failed mails
queued again in bulk, and any stage's template previewed for any order."""
from __future__ import annotations

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from tsunagi.oms import mailcontents, maillist, outbound_tables, queries
from tsunagi.outbound.mailtemplates import STAGES
from tsunagi.web import labels
from tsunagi.web.routing import Ctx, Refused, action, page


def _filters(ctx: Ctx) -> dict:
    q = ctx.query
    return {"state": q.get("state", "") if q.get("state", "") in labels.MAIL_STATES else "",
            "shop": q.get("shop", "") if q.get("shop", "") in ctx.backend.shops else "",
            "order_no": q.get("order", "").strip()[:100]}


def show(ctx: Ctx):
    f = _filters(ctx)
    tx = ctx.backend.store.read()
    return ctx.render("mail.html", title="メール", f=f, mails=maillist.recent(tx, **f), states=labels.MAIL_STATES,
                      stages=STAGES, stage_labels=labels.MAIL_STAGES, failed=maillist.failed_count(tx, f["shop"]),
                      mailing=ctx.backend.mailing_shops)


def preview(ctx: Ctx):
    """A stage's mail for any order: found by shop and number, shown by the order's preview page."""
    q = ctx.query
    shop, order_no, stage = q.get("shop", ""), q.get("order", "").strip(), q.get("stage", "")
    order_id = queries.find_order(ctx.backend.store.read(), shop, order_no) if shop in ctx.backend.shops else None
    if order_id is None or stage not in STAGES:
        return PlainTextResponse(f"{shop} {order_no}: その注文かメールの種類はありません", status_code=404)
    return RedirectResponse(f"/orders/{order_id}/mail/{stage}", status_code=303)


def sent(ctx: Ctx):
    """One mail of the log as it was handed to the relay (never rendered as HTML)."""
    tx = ctx.backend.store.read()
    mail_id = ctx.request.path_params["mail_id"]
    row = next(iter(maillist.recent(tx, mail_id=mail_id)), None)
    if row is None:
        return PlainTextResponse("そのメールはありません", status_code=404)
    return ctx.render("mail_sent.html", title=f"{row['order_no']} {labels.MAIL_STAGES.get(row['stage'], '')}",
                      mail=row, said=mailcontents.kept(tx, mail_id),
                      stage_label=labels.MAIL_STAGES.get(row["stage"], row["stage"]),
                      state_label=labels.MAIL_STATES.get(row["state"], row["state"]))


def _retry_failed(ctx: Ctx, form: dict) -> tuple[str, str]:
    shop = str(form.get("shop") or "")
    if shop and shop not in ctx.backend.shops:
        raise Refused(f"店舗 {shop} はありません")
    with ctx.backend.store.transaction() as tx:
        n = outbound_tables.requeue_failed(tx, shop or None)
    ctx.backend.after_change(shop or None)
    return shop or "*", f"失敗したメール {n} 通を送り直します"


def routes() -> list[Route]:
    return [Route("/mail", page(show)), Route("/mail/preview", page(preview)),
            Route("/mail/{mail_id:id}", page(sent)),
            Route("/mail/retry-failed", action("mail-retry-failed", _retry_failed), methods=["POST"])]
