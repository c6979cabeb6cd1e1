"""What the console answers a request it cannot serve (no such page, a method the page does not take, a form it
cannot read, an error of its own): one line of plain text in Japanese, never a traceback."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

SAID = {
    400: "送られたフォームを読めませんでした。画面を読み込み直して、もう一度操作してください",
    404: "そのページはありません。メニューから開き直してください",
    405: "このページではその操作はできません。画面を読み込み直して、ボタンから操作してください",
}


async def refused(request: Request, exc: HTTPException) -> Response:
    """Starlette's own refusals (routing, form parsing) in words a shop's staff can act on; its reason kept."""
    said = SAID.get(exc.status_code, "この要求にはお答えできません")
    return PlainTextResponse(f"{said} ({exc.detail})", status_code=exc.status_code, headers=exc.headers)


async def failed(request: Request, exc: Exception) -> Response:
    """A fault of the console itself: the staff told what to do, the traceback only in the daemon's log."""
    return PlainTextResponse("コンソールの内部エラーです。操作が行われたかどうかを画面で確かめ、続くときは管理者に"
                             "ログ (tsunagi.web) を見せてください (internal error)", status_code=500)
