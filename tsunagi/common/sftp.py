"""An SFTP session to an endpoint, its host key pinned in a known_hosts file (never added on the fly)."""
from __future__ import annotations

import os
import socket
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import paramiko

from tsunagi.common.remote import ConnectionLost, FileRefused, RemoteFile, RenameRefused, TransferError


class SftpEndpoint(Protocol):
    """What a session needs to know of an endpoint (the config's endpoint section is one)."""
    name: str
    host: str
    port: int
    user: str
    known_hosts: Path
    key_file: Path | None
    password_env: str
    timeout: float


class SftpError(TransferError):
    """A connection that was refused or failed; the message says what to do."""


def _host_key_entry(ep: SftpEndpoint) -> str:
    return ep.host if ep.port == 22 else f"[{ep.host}]:{ep.port}"


@contextmanager
def session(ep: SftpEndpoint) -> Iterator[paramiko.SFTPClient]:
    """An SFTP client; the server's key must be the one pinned for it (never added on the fly)."""
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(ep.known_hosts))
    except FileNotFoundError:
        raise SftpError(f"sftp {ep.name}: known_hosts file {ep.known_hosts} does not exist; add the server's "
                        f"host key to it (ssh-keyscan -p {ep.port} {ep.host} >> {ep.known_hosts}, then check "
                        f"the fingerprint with the provider)") from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    password = None
    if ep.password_env:
        password = os.environ.get(ep.password_env)
        if password is None and ep.key_file is None:
            raise SftpError(f"sftp {ep.name}: environment variable {ep.password_env} (the password) is not set")
    try:
        client.connect(ep.host, port=ep.port, username=ep.user,
                       key_filename=str(ep.key_file) if ep.key_file else None, password=password,
                       timeout=ep.timeout, banner_timeout=ep.timeout, auth_timeout=ep.timeout,
                       allow_agent=False, look_for_keys=False)
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SftpError(f"sftp {ep.name}: the host key of {_host_key_entry(ep)} has CHANGED "
                        f"(now {exc.key.get_name()} {exc.key.fingerprint}); connection refused. If the provider "
                        f"confirms a new key, replace its line in {ep.known_hosts}") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise SftpError(f"sftp {ep.name}: {_host_key_entry(ep)} is not in {ep.known_hosts}; connection "
                            f"refused. Add its host key after checking the fingerprint") from None
        raise SftpError(f"sftp {ep.name}: {exc}") from None
    except (OSError, socket.timeout) as exc:
        client.close()
        raise SftpError(f"sftp {ep.name}: cannot connect to {ep.host}:{ep.port}: {exc}") from None
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(ep.timeout)
        yield sftp
    finally:
        client.close()


@contextmanager
def remote_session(ep: SftpEndpoint) -> Iterator[SftpRemote]:
    """session() behind the protocol-neutral remote (common/remote.py)."""
    with session(ep) as sftp:
        yield SftpRemote(sftp, f"sftp {ep.name}")


class SftpRemote:
    """The protocol-neutral remote over one paramiko SFTP client."""

    def __init__(self, sftp: paramiko.SFTPClient, endpoint: str):
        self.sftp, self.endpoint = sftp, endpoint

    def list(self, folder: str) -> list[RemoteFile]:
        with _errors(self.sftp):
            return [RemoteFile(a.filename, a.st_size, a.st_mtime) for a in self.sftp.listdir_attr(folder)
                    if stat.S_ISREG(a.st_mode or 0)]

    def size(self, path: str) -> int | None:
        try:
            with _errors(self.sftp):
                return self.sftp.stat(path).st_size
        except FileRefused:
            return None

    def get(self, path: str, local: Path) -> None:
        with _errors(self.sftp):
            self.sftp.get(path, str(local))

    def put(self, local: Path, path: str) -> None:
        with _errors(self.sftp):
            self.sftp.put(str(local), path, confirm=True)     # confirm: the server's size must match

    def rename(self, src: str, dst: str) -> None:
        try:
            with _errors(self.sftp):
                self.sftp.posix_rename(src, dst)
        except FileRefused as exc:
            raise RenameRefused(str(exc)) from None

    def delete(self, path: str) -> None:
        with _errors(self.sftp):
            self.sftp.remove(path)


@contextmanager
def _errors(sftp: paramiko.SFTPClient):
    """paramiko's errors as the remote's two kinds: an OSError on a live link refused this file only."""
    try:
        yield
    except OSError as exc:
        if sftp.get_channel().get_transport().is_active() and not isinstance(exc, socket.timeout):
            raise FileRefused(os.strerror(exc.errno) if exc.errno and not exc.strerror else str(exc)) from None
        raise ConnectionLost(str(exc) or type(exc).__name__) from None
    except (EOFError, paramiko.SSHException) as exc:
        raise ConnectionLost(str(exc) or type(exc).__name__) from None
