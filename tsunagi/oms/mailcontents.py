"""What each buyer mail said when it was handed to the relay (subject and text), kept compressed."""
from __future__ import annotations

import zlib

from tsunagi.oms.store import Tx


def keep(tx: Tx, mail_id: int, subject: str, text: str) -> None:
    """The mail as it is being handed over (a retry after a temporary failure keeps the last one built)."""
    tx.run("INSERT OR REPLACE INTO mail_contents (mail_id, subject, body) VALUES (?, ?, ?)",
           mail_id, subject, zlib.compress(text.encode("utf-8")))


def kept(tx: Tx, mail_id: int) -> tuple[str, str] | None:
    """(subject, text) of the mail as handed over; None for one never handed over (or sent before this was kept)."""
    row = tx.one("SELECT subject, body FROM mail_contents WHERE mail_id = ?", mail_id)
    return (row[0], zlib.decompress(row[1]).decode("utf-8")) if row else None
