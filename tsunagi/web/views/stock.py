"""在庫: on hand / reserved / free per SKU and location, the ledger, receiving stock (+N with a reason),
setting a counted figure, and per channel the figure last published and when."""
from __future__ import annotations

from starlette.routing import Route

from tsunagi.oms import stockview
from tsunagi.web.operations import whole
from tsunagi.web.routing import Ctx, Refused, action, page


def show(ctx: Ctx):
    sku = ctx.query.get("sku", "")[:100]
    tx = ctx.backend.store.read()
    return ctx.render("stock.html", title="在庫", sku=sku, slots=stockview.slots(tx, sku),
                      ledger=stockview.ledger(tx, sku), published=stockview.published(tx),
                      locations=stockview.locations(tx))


def _slot(form: dict) -> tuple[str, str, str]:
    sku, location = str(form.get("sku") or "").strip(), str(form.get("location") or "").strip()
    if not sku or not location:
        raise Refused("商品コードと保管場所を入れてください")
    return sku, location, str(form.get("lot") or "").strip()


def _receive(ctx: Ctx, form: dict) -> tuple[str, str]:
    sku, location, lot = _slot(form)
    qty = whole(form, "qty", "数量")
    reason = str(form.get("reason") or "").strip()
    if not qty or qty <= 0:
        raise Refused("入荷数は 1 以上で入れてください")
    if not reason:
        raise Refused("入荷の理由を入れてください (仕入先・伝票番号など)")
    try:
        with ctx.backend.store.transaction() as tx:
            stockview.receive(tx, sku, location, lot, qty, f"{reason} (操作: {ctx.user.name})")
    except ValueError as exc:            # which lot is meant
        raise Refused(str(exc)) from None
    ctx.backend.after_change(None)
    return f"{sku}@{location}", f"{sku} {location}: +{qty} 入荷しました"


def _count(ctx: Ctx, form: dict) -> tuple[str, str]:
    sku, location, lot = _slot(form)
    qty = whole(form, "qty", "数量")
    if qty is None or qty < 0:
        raise Refused("数えた数を 0 以上で入れてください")
    try:
        with ctx.backend.store.transaction() as tx:
            changed = stockview.set_count(tx, sku, location, lot, qty, f"console (操作: {ctx.user.name})")
    except ValueError as exc:            # a stale or impossible count, as the stock import says it
        raise Refused(str(exc)) from None
    ctx.backend.after_change(None)
    return f"{sku}@{location}", f"{sku} {location}: 在庫数を {qty} にしました" + ("" if changed else " (変更なし)")


def routes() -> list[Route]:
    return [Route("/stock", page(show)),
            Route("/stock/receive", action("stock-receive", _receive), methods=["POST"]),
            Route("/stock/count", action("stock-count", _count), methods=["POST"])]
