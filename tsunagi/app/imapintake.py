"""Reading an [[imap]] mailbox into the spool: now (`tsunagi imap run`) or on its schedule (the daemon)."""
from __future__ import annotations

import logging

from tsunagi.app.config import Config, ImapEndpoint
from tsunagi.common.imap import session
from tsunagi.ingest.imap_pull import Mailbox, Taken, locked, pull
from tsunagi.ingest.spool import Spool

log = logging.getLogger("tsunagi.imap")


def run_mailbox(cfg: Config, spool: Spool, box: ImapEndpoint) -> dict:
    """One pass; returns what happened. Raises a TsunagiError (ImapError, FolderMissing, Busy) when the
    mailbox cannot be read at all."""
    state = cfg.data_dir / "imap"
    state.mkdir(parents=True, exist_ok=True)
    ledger = state / f"{box.name}.taken"
    with locked(ledger, box.name):
        taken = Taken(ledger)
        with session(box) as conn:
            result = pull(conn, Mailbox(box.name, box.folder, box.after, box.processed_folder, box.flag,
                                        cfg.max_message_bytes),
                          spool, taken, {"kind": "order_mail", "shop": box.into})
        try:
            taken.compact()
        except OSError as exc:        # a long record costs a little time, nothing else: tried after the next pass
            log.warning("imap %s: its record of taken mails was not compacted: %s", box.name, exc)
    return {"mailbox": box.name, "pulled": result.taken, "already_pulled": result.already,
            "pull_errors": result.errors}
