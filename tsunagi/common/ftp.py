"""An FTP or FTPS session to an endpoint (ftplib): explicit or implicit TLS, the certificate always verified."""
from __future__ import annotations

import ftplib
import os
import socket
import ssl
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Protocol

from tsunagi.common.remote import UNKNOWN_SIZE, ConnectionLost, FileRefused, RemoteFile, RenameRefused, TransferError

BLOCK = 1 << 16
# Errors of the link itself: the session is gone, what was under way is done again on a new one.
LINK_ERRORS = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto)


class FtpEndpoint(Protocol):
    name: str
    protocol: str            # "ftp", "ftps" (AUTH TLS) or "ftps-implicit" (TLS from the first byte)
    host: str
    port: int
    user: str
    password_env: str
    ca_file: Path | None     # None: the system's trusted authorities
    passive: bool
    timeout: float


class _DataSocket(ssl.SSLSocket):
    """A data connection some servers close without TLS's goodbye when there is nothing to send (an empty
    listing): the transfer's reply on the control connection says how it went, and a pulled file's size is
    checked against the listing's, so that goodbye is not waited for."""

    def unwrap(self):
        try:
            return super().unwrap()
        except ssl.SSLError:
            return None


class _ReusingTls(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session, as vsftpd and
    FileZilla Server require (ftplib alone opens each with a new one and such servers refuse it)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


class _ImplicitTls(_ReusingTls):
    """FTPS on its own port (990): TLS before the server's greeting, which ftplib does not do by itself."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((host, port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def _client(ep: FtpEndpoint) -> ftplib.FTP:
    if ep.protocol == "ftp":
        return ftplib.FTP(timeout=ep.timeout)
    context = ssl.create_default_context(cafile=str(ep.ca_file) if ep.ca_file else None)
    context.sslsocket_class = _DataSocket
    return (_ImplicitTls if ep.protocol == "ftps-implicit" else _ReusingTls)(context=context, timeout=ep.timeout)


def _password(ep: FtpEndpoint, label: str) -> str:
    password = os.environ.get(ep.password_env)
    if password is None:
        raise TransferError(f"{label}: environment variable {ep.password_env} (the password) is not set")
    return password


@contextmanager
def session(ep: FtpEndpoint) -> Iterator[FtpRemote]:
    """A logged-in session; every refusal to connect is one TransferError naming the endpoint."""
    label = f"{ep.protocol} {ep.name}"
    password = _password(ep, label)
    ftp = _client(ep)
    try:
        _open(ftp, ep, label, password)
        yield FtpRemote(ftp, label)
    finally:
        try:
            ftp.quit()
        except Exception:      # the link is already gone: closing is all that is left
            ftp.close()


def _open(ftp: ftplib.FTP, ep: FtpEndpoint, label: str, password: str) -> None:
    try:
        ftp.connect(ep.host, ep.port)
        ftp.login(ep.user, password)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()            # the files themselves go encrypted too
        ftp.set_pasv(ep.passive)
        ftp.voidcmd("TYPE I")
    except ssl.SSLCertVerificationError as exc:
        raise TransferError(f"{label}: the certificate of {ep.host}:{ep.port} is not trusted "
                            f"({exc.verify_message}); connection refused. Give the provider's CA in ca_file "
                            f"({ep.ca_file or 'none given: the system authorities were used'})") from None
    except ftplib.error_perm as exc:
        what = "login refused" if str(exc)[:3] in ("530", "331", "332") else "refused"
        raise TransferError(f"{label}: {what} for user {ep.user} at {ep.host}:{ep.port}: {exc}") from None
    except LINK_ERRORS as exc:
        raise TransferError(f"{label}: cannot connect to {ep.host}:{ep.port}: {type(exc).__name__}: {exc}") from None


class FtpRemote:
    """The protocol-neutral remote (common/remote.py) over one ftplib session."""

    def __init__(self, ftp: ftplib.FTP, endpoint: str):
        self.ftp, self.endpoint = ftp, endpoint
        self.sizes = True        # False once the server says it has no SIZE command (it is RFC 3659's)

    def list(self, folder: str) -> list[RemoteFile]:
        with _errors():
            try:
                return self._list(folder)
            finally:
                self.ftp.voidcmd("TYPE I")     # a listing goes in ASCII (ftplib says TYPE A); SIZE needs binary

    def _list(self, folder: str) -> list[RemoteFile]:
        try:
            return [RemoteFile(name, _int(facts.get("size")), _mtime(facts.get("modify")))
                    for name, facts in self.ftp.mlsd(folder, ["type", "size", "modify"]) if facts.get("type") == "file"]
        except ftplib.error_perm as exc:
            if str(exc)[:3] not in ("500", "501", "502"):
                raise
        # A server without MLSD (RFC 3659): names, then each one's size (a folder has none, unless SIZE is not
        # known either: then every name is taken, and a folder among them fails alone when it is fetched).
        names = [n.rsplit("/", 1)[-1] for n in self.ftp.nlst(folder)]
        self.ftp.voidcmd("TYPE I")
        sizes = {n: self._size(f"{folder.rstrip('/')}/{n}") for n in names}
        return [RemoteFile(n, None if s == UNKNOWN_SIZE else s, None) for n, s in sizes.items() if s is not None]

    def size(self, path: str) -> int | None:
        with _errors():
            found = self._size(path)
            if found != UNKNOWN_SIZE:
                return found
            folder, _, name = path.rpartition("/")
            listed = {f.name: f.size for f in self.list(folder or "/")}
            return (UNKNOWN_SIZE if listed[name] is None else listed[name]) if name in listed else None

    def _size(self, path: str) -> int | None:
        """SIZE's answer: None for no such file, UNKNOWN_SIZE from a server without the command."""
        if not self.sizes:
            return UNKNOWN_SIZE
        try:
            return self.ftp.size(path)
        except ftplib.error_perm as exc:
            if str(exc)[:3] not in ("500", "502"):
                return None
            self.sizes = False
            return UNKNOWN_SIZE

    def get(self, path: str, local: Path) -> None:
        with _errors(), open(local, "wb") as f:
            self.ftp.retrbinary(f"RETR {path}", f.write, BLOCK)

    def put(self, local: Path, path: str) -> None:
        with _errors(), open(local, "rb") as f:
            try:
                self.ftp.storbinary(f"STOR {path}", f, BLOCK)
            except OSError as exc:
                raise self._answer_to(exc) from None

    def _answer_to(self, broken: OSError) -> Exception:
        """A data connection the server closed on us: its reason (426 no space, …) waits on the control one."""
        try:
            self.ftp.getresp()
        except (ftplib.error_temp, ftplib.error_perm) as answer:
            return answer
        except Exception:
            pass         # no answer: the line itself is gone
        return broken

    def rename(self, src: str, dst: str) -> None:
        try:
            with _errors():
                self.ftp.rename(src, dst)
        except FileRefused as exc:
            raise RenameRefused(str(exc)) from None

    def delete(self, path: str) -> None:
        with _errors():
            self.ftp.delete(path)


@contextmanager
def _errors():
    """ftplib's answers as the remote's two kinds: this file refused (5xx, 452) or the link broken."""
    try:
        yield
    except ftplib.error_perm as exc:
        raise FileRefused(str(exc)) from None
    except ValueError as exc:          # ftplib's refusal of a name holding a line break, before sending it
        raise FileRefused(str(exc)) from None
    except ftplib.error_temp as exc:
        if str(exc)[:3] in ("426", "450", "451", "452"):     # aborted, busy, local error, no space: this file only
            raise FileRefused(str(exc)) from None
        raise ConnectionLost(str(exc)) from None
    except LINK_ERRORS as exc:
        raise ConnectionLost(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _mtime(text: str | None) -> float | None:
    """MLSD's modify fact (YYYYMMDDHHMMSS[.sss], UTC) as a timestamp."""
    try:
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).timestamp() if text else None
    except ValueError:
        return None
