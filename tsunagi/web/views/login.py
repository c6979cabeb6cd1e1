"""The login page, logging in (slowed down after failures) and logging out."""
from __future__ import annotations

import asyncio
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tsunagi.web import auth, render
from tsunagi.web.routing import audit_now as _audit


def _local(path: str | None) -> str:
    """Only a path of this console is a place to go after logging in (no other site, no //host)."""
    return path if path and path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _form(request: Request, message: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render.html("login.html", status_code, csrf=token, message=message,
                           next=_local(request.query_params.get("next")))
    auth.set_cookie(response, request.app.state.backend, auth.LOGIN_CSRF_COOKIE, token, None)
    return response


async def login_page(request: Request) -> Response:
    return _form(request)


async def login(request: Request) -> Response:
    backend = request.app.state.backend
    form = await request.form()
    if not auth.same(form.get("csrf"), request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")):
        return PlainTextResponse("フォームの有効期限が切れています (CSRF token missing or wrong)", status_code=403)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    keys = [f"name:{name}", f"addr:{request.client.host if request.client else '?'}"]
    throttle = request.app.state.throttle
    await asyncio.sleep(throttle.delay(keys))          # the loop goes on serving SMTP meanwhile
    user = await run_in_threadpool(auth.check_password, backend, name, password)
    if user is None:
        throttle.failed(keys)
        await run_in_threadpool(_audit, backend, name[:64], "login", "", "refused", "wrong name or password")
        return _form(request, "ユーザー名かパスワードが違います", 401)
    throttle.succeeded(keys)
    token = await run_in_threadpool(auth.open_session, backend, user)
    await run_in_threadpool(_audit, backend, user.name, "login", "", "done", "")
    response = RedirectResponse(_local(str(form.get("next", "/"))), status_code=303)
    auth.set_cookie(response, backend, auth.COOKIE, token, backend.session_minutes * 60)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    session = await run_in_threadpool(auth.session_of, request.app.state.backend, request)
    form = await request.form()
    if session is None or not auth.same(form.get("csrf"), session.csrf):
        return RedirectResponse("/login", status_code=303)
    await run_in_threadpool(auth.close_session, request.app.state.backend, request)
    await run_in_threadpool(_audit, request.app.state.backend, session.user.name, "logout", "", "done", "")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]
