"""取込: quarantined items with their reasons, an item's raw mail or file shown as text (never rendered),
retry and dismiss; an order or stock CSV uploaded into a drop folder, the path any dropped file takes."""
from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tsunagi.web.routing import Ctx, Refused, action, page

MAX_UPLOAD = 200 * 1024 * 1024       # a big shop's order CSV; the drop folder takes files of any size


def show(ctx: Ctx):
    return ctx.render("intake.html", title="取込", items=ctx.backend.quarantined(),
                      targets=ctx.backend.drop_targets, today=ctx.backend.intake_today())


def item(ctx: Ctx):
    found = ctx.backend.spool_item(ctx.request.path_params["item_id"])
    if found is None:
        return PlainTextResponse("その取込データはありません", status_code=404)
    return ctx.render("intake_item.html", title=f"取込 {found['id']}", item=found)


def _retry(ctx: Ctx, form: dict) -> tuple[str, str]:
    item_id = ctx.request.path_params["item_id"]
    ctx.backend.spool_retry(item_id)
    return item_id, f"{item_id}: 再処理します"


def _dismiss(ctx: Ctx, form: dict) -> tuple[str, str]:
    item_id = ctx.request.path_params["item_id"]
    ctx.backend.spool_dismiss(item_id, ctx.user.name)
    return item_id, f"{item_id}: 破棄しました (done/ に残ります)"


def _upload(ctx: Ctx, form: dict) -> tuple[str, str]:
    target, upload = str(form.get("target") or ""), form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Refused("ファイルを選んでください")
    if target not in ctx.backend.drop_targets:
        raise Refused(f"取込先を選んでください ({', '.join(ctx.backend.drop_targets)})")
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Refused(f"{upload.filename}: 大きすぎます (上限 {MAX_UPLOAD // 1024 // 1024} MB); "
                      f"spool/drop/{target}/ に直接置いてください")
    name = ctx.backend.drop_file(target, upload.filename, data)
    return f"{target}/{name}", f"{upload.filename}: {target} の取込フォルダに置きました ({name})"


def routes() -> list[Route]:
    return [Route("/intake", page(show)), Route("/intake/upload", action("intake-upload", _upload), methods=["POST"]),
            Route("/intake/{item_id}", page(item)),
            Route("/intake/{item_id}/retry", action("intake-retry", _retry), methods=["POST"]),
            Route("/intake/{item_id}/dismiss", action("intake-dismiss", _dismiss), methods=["POST"])]
