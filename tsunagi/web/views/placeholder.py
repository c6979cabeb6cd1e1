"""Pages of the navigation not built yet: they answer 準備中 (behind the login like every page)."""
from __future__ import annotations

from starlette.routing import Route

from tsunagi.web import nav
from tsunagi.web.routing import Ctx, page


def _coming(ctx: Ctx):
    label = dict(nav.PAGES).get(ctx.request.url.path, "")
    return ctx.render("placeholder.html", title=label)


def routes(taken: set[str]) -> list[Route]:
    return [Route(path, page(_coming), methods=["GET"]) for path, _ in nav.PAGES if path not in taken]
