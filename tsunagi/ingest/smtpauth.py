"""STARTTLS and AUTH for the SMTP receiver: the TLS context, the login check, and the options aiosmtpd takes."""
from __future__ import annotations

import hmac
import ssl
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for STARTTLS; raises ssl.SSLError / OSError when the pair does not load."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class Logins:
    """aiosmtpd's authenticator for PLAIN and LOGIN: a name and its password (taken from the environment
    once, at start), compared in constant time. The session's auth_data becomes the user's name."""

    def __init__(self, passwords: dict[str, str]):
        self.passwords = {name.encode(): pw.encode() for name, pw in passwords.items()}

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: object) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self.passwords.get(auth_data.login)
        # compared even for an unknown name, so the answer takes as long either way
        same = hmac.compare_digest(expected or b"\0" * 32, auth_data.password)
        if expected is None or not same:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data.login.decode("utf-8", "replace"))


def server_options(context: ssl.SSLContext | None, require_tls: bool,
                   passwords: dict[str, str]) -> dict:
    """Keyword arguments for aiosmtpd's SMTP: STARTTLS offered with a context; AUTH offered and taken only
    after STARTTLS (auth_require_tls), and not at all without users (else aiosmtpd offers a login that
    always fails)."""
    options: dict = {"tls_context": context, "require_starttls": bool(context and require_tls),
                     "auth_require_tls": True}
    if passwords:
        options["authenticator"] = Logins(passwords)
    else:
        options["auth_exclude_mechanism"] = ["LOGIN", "PLAIN"]
    return options


def peer_ip(session: Session) -> str:
    """The client's IP address as text ("" when the session has no peer)."""
    return str(session.peer[0]) if session.peer else ""


def login_of(session: Session) -> str | None:
    """The SMTP user a session logged in as, if it did."""
    return session.auth_data if session.authenticated and isinstance(session.auth_data, str) else None
