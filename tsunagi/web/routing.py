"""How an endpoint is made: page() for what is read, action() for what changes something. Both demand a live
session; action() also the form's CSRF token and a role that may act, and records what was done in the
audit log. The work itself runs in a worker thread, never in the event loop SMTP shares."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tsunagi.common.errors import TsunagiError
from tsunagi.oms import audit
from tsunagi.oms.websessions import Session
from tsunagi.web import auth, nav, render
from tsunagi.web.backend import Backend

log = logging.getLogger("tsunagi.web")


@dataclass
class Ctx:
    """One request as a view sees it: who asks, the backend, the path and query, what to tell them."""
    request: Request
    backend: Backend
    session: Session
    notices: list[str] = field(default_factory=list)

    @property
    def user(self):
        return self.session.user

    @property
    def query(self):
        return self.request.query_params

    def render(self, template: str, status_code: int = 200, **values) -> Response:
        """A page in the base layout: user, CSRF token, navigation and notices come with it."""
        return render.html(template, status_code, user=self.user, csrf=self.session.csrf,
                           here=nav.current(self.request.url.path), notices=self.notices,
                           shops=self.backend.shops, request=self.request, **values)


class Refused(TsunagiError):
    """An action the console refuses as it stands (nothing chosen, a value missing)."""


ID_DIGITS = 18       # an id the store's integers hold (up to 2**63 - 1): a longer number names nothing


class StoreId(Convertor):
    """{name:id} in a route: an id of the store; a longer number or anything else is no page of ours (404)."""
    regex = f"[0-9]{{1,{ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", StoreId())


def store_id(text) -> int | None:
    """An id as a query or form value gives it: ASCII digits the store can hold, else None."""
    text = text if isinstance(text, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= ID_DIGITS else None


def _backend(request: Request) -> Backend:
    return request.app.state.backend


def _to_login(request: Request) -> Response:
    if request.headers.get("HX-Request"):       # htmx swaps the answer in: tell it to go to the login page
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(back)}", status_code=303)


def page(view: Callable[[Ctx], Response], fragment: bool = False) -> Callable:
    """A GET endpoint: view(ctx) for a logged-in user, anyone else to the login page. A whole page shows
    what the user's last action said (a fragment htmx polls for leaves it to the page)."""
    async def endpoint(request: Request) -> Response:
        backend = _backend(request)
        session = await run_in_threadpool(auth.session_of, backend, request)
        if session is None:
            return _to_login(request)
        notices = [] if fragment else request.app.state.notices.pop(session.token_hash, [])
        return await run_in_threadpool(view, Ctx(request, backend, session, notices))
    endpoint.__name__ = view.__name__
    return endpoint


def action(name: str, do: Callable[[Ctx, dict], tuple[str, str]], many: tuple[str, ...] = ()) -> Callable:
    """A POST endpoint for an operator or admin: do(ctx, form) -> (target, what was done) runs once the
    session, the CSRF token and the role are checked; done or refused, the audit log records it and the
    browser goes back to where it came from with the outcome as a notice. Only the fields named in many
    may come more than once (a list of checkboxes); any other twice is refused, never read as one text."""
    async def endpoint(request: Request) -> Response:
        backend = _backend(request)
        session = await run_in_threadpool(auth.session_of, backend, request)
        if session is None:         # before the body is read: a stranger's upload is never spooled to disk
            return _to_login(request)
        form = await request.form()
        values = {k: form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k) for k in form.keys()}
        if not auth.same(values.get("csrf") or request.headers.get("X-CSRF-Token"), session.csrf):
            return PlainTextResponse("フォームの有効期限が切れています。画面を読み込み直してください (CSRF token missing "
                                     "or wrong)", status_code=403)
        ctx = Ctx(request, backend, session)
        if not session.user.can_act:
            await run_in_threadpool(audit_now, backend, session.user.name, name, _target(values), "refused",
                                    "viewer")
            return PlainTextResponse("閲覧のみの権限です (a viewer cannot act)", status_code=403)
        twice = sorted(k for k, v in values.items() if isinstance(v, list) and k not in many)
        if twice:
            return PlainTextResponse(f"同じ項目 ({', '.join(twice)[:200]}) が 2 回以上送られました。画面を読み込み直して、"
                                     "もう一度操作してください", status_code=400)
        notice = await run_in_threadpool(_run, ctx, name, do, values)
        # kept for the session's next page, not put in the URL (where anyone could write one into a link)
        request.app.state.notices.setdefault(session.token_hash, []).append(notice[:1000])
        return RedirectResponse(_back(request, values), status_code=303)
    endpoint.__name__ = name.replace("-", "_")
    return endpoint


def _run(ctx: Ctx, name: str, do, values: dict) -> str:
    try:
        target, done = do(ctx, values)
    except TsunagiError as exc:          # the domain's refusal, as the CLI would print it
        audit_now(ctx.backend, ctx.user.name, name, _target(values), "refused", str(exc))
        return f"できませんでした: {exc}"
    audit_now(ctx.backend, ctx.user.name, name, target, "done", done)
    return done


def audit_now(backend: Backend, user: str, name: str, target: str, outcome: str, detail: str) -> None:
    with backend.store.transaction() as tx:
        audit.record(tx, user, name, target, outcome, detail)
    log.info("console: %s %s %s: %s %s", user, name, target, outcome, detail)


def _target(values: dict) -> str:
    return str(values.get("target") or values.get("order") or "")


def _back(request: Request, values: dict) -> str:
    """Where the form said to go next (a path of ours only), else the page it was on."""
    parts = urlsplit(str(values.get("next") or request.headers.get("referer") or "/"))
    path = parts.path if parts.path.startswith("/") and not parts.path.startswith("//") else "/"
    return path + (f"?{parts.query}" if parts.query else "")
