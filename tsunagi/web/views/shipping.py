"""出荷: ready orders per carrier, exporting the label file and downloading it, uploading the carrier's
result file (into its drop folder); the picking list and the 納品書 (適格請求書) of an export or an order as
printable pages."""
from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route

from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import orderlist, shipview
from tsunagi.oms.readmodel import load_order
from tsunagi.web.routing import Ctx, Refused, action, page, store_id

MAX_UPLOAD = 50 * 1024 * 1024


def show(ctx: Ctx):
    tx = ctx.backend.store.read()
    return ctx.render("shipping.html", title="出荷", ready=shipview.ready_by_carrier(tx),
                      carriers=ctx.backend.carriers, files=shipview.label_files(tx))


def label_file(ctx: Ctx):
    """A label file, wherever the outbox has it now (waiting in ready/ or already sent)."""
    name = ctx.request.path_params["name"]
    carrier = next((f["carrier"] for f in shipview.label_files(ctx.backend.store.read(), 1000) if f["file"] == name),
                   None)
    for state in ("ready", "sent"):
        try:
            if carrier and ctx.backend.outbox_path:
                path = ctx.backend.outbox_path(carrier, state, name)
                return FileResponse(path, filename=path.name, media_type="application/octet-stream")
        except TsunagiError:
            continue
    return PlainTextResponse("その送り状ファイルはありません", status_code=404)


def _orders_asked(ctx: Ctx) -> list[int]:
    """The orders of ?file= (a whole export) or ?order= (one), those that exist."""
    tx = ctx.backend.store.read()
    if ctx.query.get("file"):
        return shipview.file_orders(tx, ctx.query["file"])
    order = store_id(ctx.query.get("order", ""))
    return [order] if order is not None and orderlist.exists(tx, order) else []


def picking(ctx: Ctx):
    order_ids = _orders_asked(ctx)
    if not order_ids:
        return PlainTextResponse("その出荷の注文はありません", status_code=404)
    totals, per_order = shipview.picking(ctx.backend.store.read(), order_ids)
    return ctx.render("picking.html", title="ピッキングリスト", totals=totals, per_order=per_order,
                      file=ctx.query.get("file", ""))


def notes(ctx: Ctx):
    order_ids = _orders_asked(ctx)
    if not order_ids:
        return PlainTextResponse("その出荷の注文はありません", status_code=404)
    tx = ctx.backend.store.read()
    return ctx.render("notes.html", title="納品書", notes=[_note(ctx, tx, i) for i in order_ids],
                      issued=clock.today())


def _note(ctx: Ctx, tx, order_id: int) -> dict:
    """One order's 納品書: its lines with their tax rate, and per rate the amount and the tax in it."""
    order = load_order(tx, order_id)
    number, reduced_tag = ctx.backend.invoice(order.shop)
    lines, amounts = [], {}
    for line in order.lines:
        rate = shipview.rate_of(tx, line.sku, reduced_tag)
        amount = line.unit_price * line.qty
        amounts[rate] = amounts.get(rate, 0) + amount
        lines.append({"name": line.name, "sku": line.sku or line.channel_sku, "qty": line.qty,
                      "unit_price": line.unit_price, "amount": amount, "reduced": rate == 8})
    fees = order.shipping_fee + order.cod_fee - order.discount      # fees and discounts at the standard rate
    amounts[10] = amounts.get(10, 0) + fees
    return {"order": order, "lines": lines, "number": number, "shop": ctx.backend.shop_info(order.shop),
            "taxes": shipview.tax_summary(amounts), "total": sum(amounts.values())}


def _export(ctx: Ctx, form: dict) -> tuple[str, str]:
    carrier = ctx.request.path_params["carrier"]
    if carrier not in ctx.backend.carriers:
        raise Refused(f"{carrier}: 配送業者ではありません")
    written = ctx.backend.export_carrier(carrier)
    files = [w for w in written if not w.startswith("保留")]
    if not written:
        return carrier, f"{carrier}: 書き出す注文はありません"
    return carrier, f"{carrier}: 送り状を書き出しました: " + "、".join(written) if files else "、".join(written)


def _upload(ctx: Ctx, form: dict) -> tuple[str, str]:
    carrier, upload = str(form.get("carrier") or ""), form.get("file")
    if carrier not in ctx.backend.carriers:
        raise Refused("配送業者を選んでください")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Refused("出荷結果ファイルを選んでください")
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Refused(f"{upload.filename}: 大きすぎます")
    name = ctx.backend.drop_file(carrier, upload.filename, data)
    return f"{carrier}/{name}", f"{upload.filename}: {carrier} の出荷結果として取り込みます ({name})"


def routes() -> list[Route]:
    return [Route("/shipping", page(show)), Route("/shipping/picking", page(picking)),
            Route("/shipping/notes", page(notes)), Route("/shipping/labels/{name}", page(label_file)),
            Route("/shipping/results", action("shipping-results", _upload), methods=["POST"]),
            Route("/shipping/{carrier}/export", action("shipping-export", _export), methods=["POST"])]
