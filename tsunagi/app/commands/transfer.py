"""Commands for file transfer: run one endpoint's pull and push now."""
from __future__ import annotations

from tsunagi.app.commands import base
from tsunagi.app.transfers import run_endpoint
from tsunagi.common.remote import TransferError
from tsunagi.ingest.spool import Spool


def register(sub) -> None:
    for group, what in (("endpoint", "endpoints of any protocol ([[endpoint]], [[sftp]])"),
                        ("sftp", "the same as `tsunagi endpoint` (kept for existing scripts)")):
        sf = sub.add_parser(group, help=what).add_subparsers(dest="sub", required=True)
        sfr = sf.add_parser("run", help="run one endpoint's pull and push now")
        sfr.add_argument("endpoint")
        sfr.set_defaults(func=cmd_endpoint_run)


def cmd_endpoint_run(args) -> int:
    cfg = base.config(args)
    ep = cfg.endpoint(args.endpoint)
    spool = Spool(cfg.spool_dir)
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
