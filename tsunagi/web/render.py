"""Templates: Jinja2 with autoescape always on, every page given the user, its CSRF token and the navigation."""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from tsunagi.oms import status
from tsunagi.web import nav

env = Environment(loader=PackageLoader("tsunagi.web", "templates"), autoescape=True, undefined=StrictUndefined,
                  auto_reload=False,
                  trim_blocks=True, lstrip_blocks=True)
env.globals.update(PAGES=nav.PAGES, status_label=status.label)
env.filters["yen"] = lambda n: f"{n:,}円" if isinstance(n, int) else ""


def html(template: str, status_code: int = 200, **values) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**values), status_code=status_code)
