"""The data folder's lock: one daemon a folder, and what a command does only while no daemon runs."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tsunagi.common.errors import TsunagiError


class AlreadyRunning(TsunagiError):
    pass


def take_lock(data_dir: Path):
    """One daemon per data dir; the lock goes with the process, even on SIGKILL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / "tsunagi.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise AlreadyRunning(f"another tsunagi daemon is running on {data_dir}") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh
