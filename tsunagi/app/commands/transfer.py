"""Commands for file transfer and mailboxes: run one SFTP endpoint's pull and push, or read one IMAP mailbox, now."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.common.remote import TransferError
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool


def register(sub) -> None:
    for group, what in (("endpoint", "endpoints of any protocol ([[endpoint]], [[sftp]])"),
                        ("sftp", "the same as `tsunagi endpoint` (kept for existing scripts)")):
        sf = sub.add_parser(group, help=what).add_subparsers(dest="sub", required=True)
        sfr = sf.add_parser("run", help="run one endpoint's pull and push now")
        sfr.add_argument("endpoint")
        sfr.set_defaults(func=cmd_endpoint_run)
    im = sub.add_parser("imap", help="IMAP mailboxes order mails are read from").add_subparsers(dest="sub",
                                                                                                required=True)
    imr = im.add_parser("run", help="read one mailbox into the spool now")
    imr.add_argument("mailbox")
    imr.set_defaults(func=cmd_imap_run)


def cmd_endpoint_run(args) -> int:
    cfg = base.config(args)
    ep = cfg.endpoint(args.endpoint)
    spool = Spool(cfg.spool_dir)
    from tsunagi.app.transfers import run_endpoint    # SSH and FTP load only for this: other commands start sooner
    try:
        out = run_endpoint(cfg, spool, ep, base.writer(cfg))
    except TransferError as exc:
        base.stderr(f"error: {exc}")
        return 1
    for key in ("pulled", "already_pulled", "sent"):
        if key in out:
            print(f"{key}: {len(out[key])} {' '.join(out[key])}")
    for name, why in out.get("waiting", {}).items():
        print(f"waiting: {name}: {why}")
    if out.get("closed"):
        print(f"{out['closed']} orders closed (請求済): their shipment confirmation was delivered")
    errors = out.get("pull_errors", []) + out.get("push_errors", [])
    for e in errors:
        base.stderr(f"  problem: {e}")
    if spool.waiting():
        base.apply_now_if_idle(cfg)
    return 1 if errors else 0


def cmd_imap_run(args) -> int:
    cfg = base.config(args)
    box = cfg.mailbox(args.mailbox)
    spool = Spool(cfg.spool_dir)
    from tsunagi.app.imapintake import run_mailbox    # IMAP loads only for this: other commands start sooner
    try:
        out = run_mailbox(cfg, spool, box)
    except TsunagiError as exc:
        base.stderr(f"error: {exc}")
        return 1
    print(f"pulled: {len(out['pulled'])} {' '.join(out['pulled'])}")
    print(f"already_pulled: {len(out['already_pulled'])} {' '.join(map(str, out['already_pulled']))}")
    for e in out["pull_errors"]:
        base.stderr(f"  problem: {e}")
    if spool.waiting():
        base.apply_now_if_idle(cfg)
    return 1 if out["pull_errors"] else 0
