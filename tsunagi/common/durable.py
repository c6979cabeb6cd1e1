"""Durable files: written and fsync'd, renamed into place with the folder fsync'd, and hashed."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in this folder survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Create path (it must not exist), write all of data and fsync it; on failure (a full disk) nothing
    is left behind."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write path whole (replacing it) and fsync it."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def copy_fsynced(src: BinaryIO, path: Path, block: int = 1 << 20) -> tuple[int, str]:
    """Copy a stream into a new file, fsync'd; returns (size, sha256) of what was written."""
    digest, size = hashlib.sha256(), 0
    with open(path, "xb") as out:
        while chunk := src.read(block):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def replace_whole(path: Path, data: bytes) -> None:
    """A reader sees the old file or the new one, never half: tmp beside it, fsync, rename, folder fsync."""
    tmp = path.with_name(f".{path.name}.tmp")
    write_file(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def move_durably(src: Path, dest: Path) -> None:
    """Rename src to dest and fsync dest's folder (and src's, when it differs)."""
    os.rename(src, dest)
    fsync_dir(dest.parent)
    if src.parent != dest.parent:
        fsync_dir(src.parent)


def append_line(path: Path, line: str) -> None:
    """Append one line of text (or several, each ended) and fsync it: a journal. A line cut by a crash is
    ended first, so it spoils only itself (its reader skips it), never the line appended after it."""
    data = (line if line.endswith("\n") else line + "\n").encode("utf-8")
    with open(path, "a+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)          # "a": at the end, wherever the last read left the position
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
