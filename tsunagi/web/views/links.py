"""連携: the outbox's files per target with their state (ready: waiting to go, sent: delivered), download,
mark as uploaded by hand, a feed's resync; the endpoints and schedules with their last result."""
from __future__ import annotations

from datetime import datetime

from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route

from tsunagi.common.errors import TsunagiError
from tsunagi.web.routing import Ctx, Refused, action, page

STATES = {"ready": "送信待ち", "sent": "送信済"}


def show(ctx: Ctx):
    files = ctx.backend.outbox_files()
    for f in files:
        f["at"] = datetime.fromtimestamp(f["mtime"]).strftime("%Y-%m-%d %H:%M:%S")
    targets = sorted({f["target"] for f in files})
    return ctx.render("links.html", title="連携", files=files, targets=targets, states=STATES,
                      schedules=ctx.backend.status().get("schedules", []), feeds=ctx.backend.feed_shops)


def download(ctx: Ctx):
    p = ctx.request.path_params
    if ctx.backend.outbox_path is None:
        return PlainTextResponse("ありません", status_code=404)
    try:
        path = ctx.backend.outbox_path(p["target"], p["state"], p["name"])
    except TsunagiError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


def _mark_sent(ctx: Ctx, form: dict) -> tuple[str, str]:
    target, name = ctx.request.path_params["target"], ctx.request.path_params["name"]
    ctx.backend.mark_sent(target, name)
    return f"{target}/{name}", f"{target}/{name}: アップロード済にしました"


def _resync(ctx: Ctx, form: dict) -> tuple[str, str]:
    shop = str(form.get("shop") or "")
    if shop not in ctx.backend.feed_shops:
        raise Refused(f"在庫連携のある店舗を選んでください ({', '.join(ctx.backend.feed_shops)})")
    n = ctx.backend.resync(shop)
    return shop, f"{ctx.backend.shops.get(shop, shop)}: 全 {n} 商品の在庫数を出し直します"


def routes() -> list[Route]:
    return [Route("/links", page(show)),
            Route("/links/resync", action("links-resync", _resync), methods=["POST"]),
            Route("/links/{target}/{state}/{name}", page(download)),
            Route("/links/{target}/ready/{name}/sent", action("links-mark-sent", _mark_sent), methods=["POST"])]
