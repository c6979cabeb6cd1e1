"""受注一覧: orders filtered by status, shop and dates, searched by number, name (kana too) or phone, a page
at a time; bulk actions on a selection (ready, export labels, confirm payment, cancel)."""
from __future__ import annotations

from urllib.parse import urlencode

from starlette.routing import Route

from tsunagi.common.errors import TsunagiError
from tsunagi.oms import orderlist, queries, status
from tsunagi.web import labels, operations
from tsunagi.web.routing import Ctx, Refused, action, page, store_id

PAGE_SIZE = 50
KEYS = ("status", "hold_kind", "shop", "ordered_from", "ordered_to", "q")


def _filter(ctx: Ctx) -> orderlist.Filter:
    q = ctx.query
    code = q.get("status", "")
    if code and code not in status.ALL:
        code = ""
    return orderlist.Filter(status=code, hold_kind=q.get("hold_kind", "") if code == status.HOLD else "",
                            shop=q.get("shop", "") if q.get("shop", "") in ctx.backend.shops else "",
                            ordered_from=_day(q.get("ordered_from", "")), ordered_to=_day(q.get("ordered_to", "")),
                            text=q.get("q", "")[:100])


def _day(text: str) -> str:
    return text if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.replace("-", "").isdigit() else ""


def _page_no(ctx: Ctx) -> int:
    text = ctx.query.get("page", "1")
    return max(1, min(int(text), 100000)) if text.isascii() and text.isdigit() else 1


def list_orders(ctx: Ctx):
    f, page_no = _filter(ctx), _page_no(ctx)
    tx = ctx.backend.store.read()
    rows, total = orderlist.search(tx, f, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    kept = {k: v for k, v in ((k, ctx.query.get(k, "")) for k in KEYS) if v}
    return ctx.render("orders.html", title="受注一覧", orders=rows, total=total, page=page_no,
                      pages=max(1, -(-total // PAGE_SIZE)), f=f, statuses=status.ALL, kept=kept,
                      link=lambda **more: "/orders?" + urlencode({**kept, **more}), hold_label=labels.hold_kind)


def _bulk(ctx: Ctx, form: dict) -> tuple[str, str]:
    chosen = form.get("order") or []
    ids = [i for i in map(store_id, chosen if isinstance(chosen, list) else [chosen]) if i is not None]
    if not ids:
        raise Refused("注文を選んでください")
    refs = orderlist.refs(ctx.backend.store.read(), ids)
    what = str(form.get("bulk") or "")
    target = ", ".join(f"{shop}/{no}" for shop, no in refs.values())[:500]
    if what == "ready":
        ctx.backend.ready(frozenset(refs))
        ctx.backend.after_change(None)
        moved = sum(1 for i in refs if queries.order_status(ctx.backend.store.read(), i) == status.READY)
        return target, f"印刷待ちにしました: 選んだ {len(refs)} 件のうち {moved} 件が印刷待ち"
    if what == "export":
        files = ctx.backend.export_labels(frozenset(refs))
        return target, "送り状: " + (", ".join(files) if files else "選んだ注文に書き出す印刷待ちの注文はありません")
    one = {"confirm-payment": operations.confirm_payment, "cancel": operations.cancel_order}.get(what)
    if one is None:
        raise Refused("一括操作を選んでください")
    said = []
    for order_id in refs:
        try:
            said.append(one(ctx, order_id, {"reason": form.get("reason") or ""}))
        except TsunagiError as exc:       # the domain refuses one order: the others still go on, each said
            said.append(f"{refs[order_id][1]}: できませんでした: {exc}")
    return target, " / ".join(said)


def routes() -> list[Route]:
    return [Route("/orders", page(list_orders)),
            Route("/orders/bulk", action("bulk", _bulk, many=("order",)), methods=["POST"])]
