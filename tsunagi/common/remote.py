"""The remote folder of an endpoint, whatever its protocol: list, size, get, put, rename, delete."""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tsunagi.common.errors import TsunagiError


class TransferError(TsunagiError):
    """An endpoint that cannot be reached or logged in to; the message names the endpoint and what to do."""


class FileRefused(OSError):
    """The server refused one file (missing, no space, no permission); the connection is still good."""


class ConnectionLost(OSError):
    """The connection broke part-way; whatever was under way must be done again on a new one."""


class RenameRefused(FileRefused):
    """The server does not rename (or not to that name): the file goes up under its final name instead."""


UNKNOWN_SIZE = -1      # the file is there, the server tells no sizes


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int | None
    mtime: float | None


class Remote(Protocol):
    """One open session to an endpoint. Per-file refusals raise FileRefused; a broken link ConnectionLost."""
    endpoint: str           # "ftps rms": the protocol and the endpoint's name, for every message

    def list(self, folder: str) -> list[RemoteFile]: ...
    def size(self, path: str) -> int | None: ...       # None: no such file; UNKNOWN_SIZE: there, size untold
    def get(self, path: str, local: Path) -> None: ...
    def put(self, local: Path, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, path: str) -> None: ...


def join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if folder else name


def temporary_name(final: str) -> str:
    """Where a file goes up before its rename: hidden and .part, so that no reader takes it for finished."""
    folder, slash, name = final.rpartition("/")
    return f"{folder}{slash}.{name}.part"


def put_whole(remote: Remote, local: Path, final: str, rename: bool = True) -> None:
    """local on the server under `final`, complete, or not under `final` at all. Under a temporary name then
    renamed where the server allows it; else uploaded under its name and its size checked (a short file there
    is deleted again)."""
    size = local.stat().st_size
    if rename:
        temporary = temporary_name(final)
        _put(remote, local, temporary)
        try:
            remote.rename(temporary, final)
            return
        except RenameRefused:
            _quietly_delete(remote, temporary)
    _put(remote, local, final)
    there = remote.size(final)       # None: a server that tells no sizes; its transfer reply is all there is
    if there is not None and there != UNKNOWN_SIZE and there != size:
        _quietly_delete(remote, final)
        raise FileRefused(f"the server holds {there} bytes of {size} after the upload; deleted, sent again next run")


def _put(remote: Remote, local: Path, path: str) -> None:
    """An upload the server refused part-way (a full disk) leaves nothing of it behind where it can be deleted."""
    try:
        remote.put(local, path)
    except FileRefused:
        _quietly_delete(remote, path)
        raise


def same_bytes(remote: Remote, path: str, local: Path) -> bool:
    """Whether the server's file holds exactly local's bytes (a transfer whose end we did not see)."""
    size = remote.size(path)
    if size is None or size != local.stat().st_size:
        return False
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy"
        remote.get(path, copy)
        return _sha256(copy) == _sha256(local)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _quietly_delete(remote: Remote, path: str) -> None:
    try:
        remote.delete(path)
    except FileRefused:
        pass      # already gone, or not ours to delete: nothing under the final name either way
