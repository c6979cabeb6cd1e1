"""An IMAP session to a mailbox (imaplib): TLS always, the certificate always verified, one-line errors."""
from __future__ import annotations

import base64
import imaplib
import os
import re
import ssl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from tsunagi.common.errors import TsunagiError

DEFAULT_PORTS = {"tls": 993, "starttls": 143}
# Connection-level failures: after one of these the session is unusable (the rest waits for the next run).
BROKEN = (imaplib.IMAP4.abort, OSError, EOFError)


class ImapEndpoint(Protocol):
    """What a session needs to know of a mailbox (the config's [[imap]] table is one)."""
    name: str
    host: str
    port: int
    security: str
    ca_file: Path | None
    user: str
    password_env: str
    timeout: float


class ImapError(TsunagiError):
    """A connection or login that was refused or failed; the message names the endpoint and what to do."""


def port_of(ep: ImapEndpoint) -> int:
    return ep.port or DEFAULT_PORTS[ep.security]


def where(ep: ImapEndpoint) -> str:
    return f"imap {ep.name} ({ep.user}@{ep.host}:{port_of(ep)})"


def quoted(mailbox: str) -> str:
    """A mailbox name as an IMAP quoted string, non-ASCII names in modified UTF-7 (RFC 3501 5.1.3)."""
    name = mutf7(mailbox)
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mutf7(text: str) -> str:
    """Modified UTF-7: printable ASCII as is ('&' as '&-'), any other run as &<modified base64 of UTF-16BE>-."""
    out, run = [], []

    def flush() -> None:
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{b64}-")
            run.clear()
    for ch in text:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def _context(ep: ImapEndpoint) -> ssl.SSLContext:
    """The system's CAs, or only the endpoint's own (a private CA): the host name and chain always checked."""
    return ssl.create_default_context(cafile=str(ep.ca_file) if ep.ca_file else None)


def _password(ep: ImapEndpoint) -> str:
    password = os.environ.get(ep.password_env)
    if not password:
        raise ImapError(f"{where(ep)}: environment variable {ep.password_env} (the password) is not set")
    return password


def _text(exc: BaseException) -> str:
    """What the server said, without imaplib's wrapping."""
    text = str(exc.args[0] if exc.args else exc)
    return re.sub(r"^b'(.*)'$", r"\1", text.strip())


def connect(ep: ImapEndpoint) -> imaplib.IMAP4:
    """A logged-in session; ImapError (one line) for anything that stops it."""
    password = _password(ep)
    try:
        if ep.security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(ep.host, port_of(ep), ssl_context=_context(ep), timeout=ep.timeout)
        else:
            conn = imaplib.IMAP4(ep.host, port_of(ep), timeout=ep.timeout)
            try:
                conn.starttls(_context(ep))
            except BaseException:
                conn.shutdown()
                raise
    except ssl.SSLCertVerificationError as exc:
        raise ImapError(f"{where(ep)}: the server's certificate is not trusted ({exc.verify_message}); if a "
                        f"private CA signed it, give that CA as ca_file") from None
    except imaplib.IMAP4.abort as exc:
        raise ImapError(f"{where(ep)}: the connection dropped before login: {_text(exc)}") from None
    except imaplib.IMAP4.error as exc:      # a greeting refused, or no STARTTLS: never fall back to clear text
        if ep.security == "starttls":
            raise ImapError(f"{where(ep)}: STARTTLS refused ({_text(exc)}); try security = \"tls\" on port 993") \
                from None
        raise ImapError(f"{where(ep)}: the server refused the session ({_text(exc)})") from None
    except (OSError, EOFError) as exc:
        raise ImapError(f"{where(ep)}: cannot connect: {exc}") from None
    try:
        if (ep.user + password).isascii():
            conn.login(ep.user, password)
        else:                             # LOGIN takes ASCII only; SASL PLAIN carries UTF-8 (RFC 4616)
            conn.authenticate("PLAIN", lambda _: f"\0{ep.user}\0{password}".encode())
        conn.capabilities = tuple(conn.capability()[1][0].decode().upper().split())   # as offered after login
    except imaplib.IMAP4.abort as exc:
        conn.shutdown()
        raise ImapError(f"{where(ep)}: the connection dropped at login: {_text(exc)}") from None
    except imaplib.IMAP4.error as exc:
        conn.shutdown()
        raise ImapError(f"{where(ep)}: login refused ({_text(exc)}); check the user and the password in "
                        f"${ep.password_env}") from None
    except (OSError, EOFError) as exc:
        conn.shutdown()
        raise ImapError(f"{where(ep)}: the connection dropped at login: {exc}") from None
    return conn


@contextmanager
def session(ep: ImapEndpoint) -> Iterator[imaplib.IMAP4]:
    conn = connect(ep)
    try:
        yield conn
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            conn.shutdown()
