"""設定: the effective configuration (defaults filled in, secrets masked) and what `tsunagi check` says of it."""
from __future__ import annotations

import json

from starlette.routing import Route

from tsunagi.web.routing import Ctx, page


def show(ctx: Ctx):
    code, output = ctx.backend.check()
    shown = json.dumps(ctx.backend.shown_config(), ensure_ascii=False, indent=2)
    return ctx.render("settings.html", title="設定", config=shown, check_ok=code == 0, check_output=output)


def routes() -> list[Route]:
    return [Route("/settings", page(show))]
