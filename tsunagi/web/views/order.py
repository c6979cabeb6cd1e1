"""受注詳細: lines and amounts, buyer and ship-to, reservations, shipments with tracking links, buyer mails
(with a preview), the history with who did what; and the order's operations."""
from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tsunagi.common.errors import TsunagiError
from tsunagi.oms import orderlist, queries
from tsunagi.oms.orders import OrderError
from tsunagi.oms.outbound_tables import mail_log
from tsunagi.oms.readmodel import load_order
from tsunagi.outbound.mailtemplates import STAGES
from tsunagi.web import labels, operations
from tsunagi.web.routing import Ctx, action, page


def _order_id(ctx: Ctx) -> int | None:
    order_id = ctx.request.path_params["order_id"]
    return order_id if orderlist.exists(ctx.backend.store.read(), order_id) else None


def show(ctx: Ctx):
    order_id = _order_id(ctx)
    if order_id is None:
        return PlainTextResponse("その注文はありません", status_code=404)
    tx = ctx.backend.store.read()
    order = load_order(tx, order_id, history=True)
    tracking = [(sh, [(n, ctx.backend.tracking_url(sh.carrier, n)) for n in sh.tracking.split(",") if n])
                for sh in order.shipments]
    return ctx.render("order.html", title=f"{order.order_no}", order=order, tracking=tracking,
                      mails=mail_log(tx, order_id=order_id), stages=STAGES, stage_labels=labels.MAIL_STAGES,
                      mail_states=labels.MAIL_STATES, hold_label=labels.hold_kind,
                      operations=operations.ORDER_OPERATIONS, mails_on=order.shop in ctx.backend.mailing_shops)


def preview(ctx: Ctx):
    """A stage's buyer mail for this order, rendered as it would go, shown as text (never as HTML)."""
    order_id, stage = _order_id(ctx), ctx.request.path_params["stage"]
    if order_id is None or stage not in STAGES or ctx.backend.mail_preview is None:
        return PlainTextResponse("その注文かメールはありません", status_code=404)
    try:
        subject, text = ctx.backend.mail_preview(order_id, stage)
    except TsunagiError as exc:
        return PlainTextResponse(f"表示できません: {exc}", status_code=404)
    shop, order_no = queries.order_ref(ctx.backend.store.read(), order_id)
    return ctx.render("mail_preview.html", title=f"{order_no} {labels.MAIL_STAGES[stage]}", subject=subject,
                      text=text, order_id=order_id, order_no=order_no, stage_label=labels.MAIL_STAGES[stage])


def _operation(name: str, run):
    def do(ctx: Ctx, form: dict) -> tuple[str, str]:
        order_id = _order_id(ctx)
        if order_id is None:
            raise OrderError("その注文はありません")
        shop, order_no = queries.order_ref(ctx.backend.store.read(), order_id)
        return f"{shop}/{order_no}", run(ctx, order_id, form)
    return action(f"order-{name}", do)


def routes() -> list[Route]:
    return [Route("/orders/{order_id:id}", page(show)),
            Route("/orders/{order_id:id}/mail/{stage}", page(preview))] + [
        Route(f"/orders/{{order_id:id}}/{name}", _operation(name, run), methods=["POST"])
        for name, (_, run) in operations.ORDER_OPERATIONS.items()]
