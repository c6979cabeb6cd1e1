"""Logins: a password checked, a session token in an HttpOnly SameSite=Strict cookie (its sha256 in the
store), a CSRF token per session, and the session's end on the one clock."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from tsunagi.common import clock
from tsunagi.oms import users, websessions
from tsunagi.oms.websessions import Session
from tsunagi.web import passwords
from tsunagi.web.backend import Backend

COOKIE = "tsunagi_session"
LOGIN_CSRF_COOKIE = "tsunagi_login_csrf"     # the login form's own token, before there is a session


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(backend: Backend, name: str, password: str) -> users.User | None:
    """The user if the password is theirs (an outdated hash is made again), else None."""
    found = users.find(backend.store.read(), name)
    if not passwords.verify(found[1] if found else None, password):
        return None
    if passwords.outdated(found[1]):
        with backend.store.transaction() as tx:
            users.rehash(tx, name, passwords.hash_password(password))
    return found[0]


def open_session(backend: Backend, user: users.User) -> str:
    """A new session for the user; returns its token (only the cookie holds it)."""
    token = secrets.token_urlsafe(32)
    ends = clock.now() + timedelta(minutes=backend.session_minutes)
    with backend.store.transaction() as tx:
        websessions.open_session(tx, digest(token), user.name, secrets.token_urlsafe(32), ends)
    return token


def session_of(backend: Backend, request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    return websessions.live(backend.store.read(), digest(token)) if token else None


def close_session(backend: Backend, request: Request) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        with backend.store.transaction() as tx:
            websessions.close(tx, digest(token))


def set_cookie(response: Response, backend: Backend, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=backend.secure_cookies)


def same(given, expected: str) -> bool:
    """The token given is the one expected; a form sending it twice or as a file gives none."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())
