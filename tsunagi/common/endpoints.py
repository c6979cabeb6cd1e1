"""A session to an endpoint of any protocol, as the protocol-neutral remote (common/remote.py)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tsunagi.common import ftp, sftp
from tsunagi.common.remote import Remote


@contextmanager
def open_remote(ep) -> Iterator[Remote]:
    """ep.protocol picks the client: "sftp" (paramiko, pinned host key) or "ftp", "ftps", "ftps-implicit"
    (ftplib, verified certificate). Refusals raise TransferError naming the endpoint."""
    opener = sftp.remote_session if getattr(ep, "protocol", "sftp") == "sftp" else ftp.session
    with opener(ep) as remote:
        yield remote
