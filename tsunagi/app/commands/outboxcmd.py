"""Commands for outbound files: what waits for whom and since when; a manual upload recorded."""
from __future__ import annotations

import fnmatch
from datetime import datetime
from pathlib import Path

from tsunagi.app.commands import base
from tsunagi.app.config import Config
from tsunagi.common import clock
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import deliveries
from tsunagi.outbound import delivery

SHOWN = ("written", "failed", "rejected")      # without --all: what waits, and what the channel refused


def register(sub) -> None:
    ob = sub.add_parser("outbox", help="outbound files and their delivery").add_subparsers(dest="sub", required=True)
    ol = ob.add_parser("list", help="files waiting to be delivered (and rejected ones), oldest first")
    ol.add_argument("--target", help="one shop, carrier or warehouse (its spool/outbox/ folder)")
    ol.add_argument("--all", action="store_true", help="sent and withdrawn files too")
    ol.add_argument("--json", action="store_true")
    ol.set_defaults(func=cmd_outbox_list)
    om = ob.add_parser("mark-sent", help="record a file uploaded by hand; it leaves ready/ as a push's does")
    om.add_argument("file", help="its name, or its path in spool/outbox/<target>/ready/")
    om.add_argument("--target", help="the folder it is in, where several hold that name")
    om.set_defaults(func=cmd_outbox_mark_sent)


def cmd_outbox_list(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    outbox = cfg.spool_dir / "outbox"
    delivery.recover(store, outbox)       # files no writer recorded (put there by hand) are listed too
    rows = deliveries.listing(store.read(), args.target, deliveries.STATES if args.all else SHOWN)
    now = clock.now()
    for row in rows:
        row["endpoint"] = _endpoint(cfg, row["target"], row["name"])
        row["waiting_minutes"] = int((now - datetime.fromisoformat(row["written_at"])).total_seconds() // 60) \
            if row["state"] in deliveries.WAITING else None
    return base.show(args, rows, "files", _line)


def _line(row: dict) -> str:
    """target, file, state, then since when it waits and for whom, or when and by whom it went."""
    def at(value: str | None) -> str:
        return (value or "")[:16].replace("T", " ")
    if row["waiting_minutes"] is not None:
        who = f"sftp {row['endpoint']}" if row["endpoint"] else "手動アップロード"
        where = f"{at(row['written_at'])} から {row['waiting_minutes']} 分待ち → {who}"
    else:
        by = "手動" if row["sent_by"] == "manual" else row["sent_by"]
        where = f"{at(row['sent_at'] or row['updated_at'])} に送信 ({by or '-'})" if row["sent_at"] else at(row["updated_at"])
    detail = f"  {row['detail'].splitlines()[0]}" if row["detail"] else ""
    return f"{row['target']}\t{row['name']}\t{row['state']}\t{where}{detail}"


def _endpoint(cfg: Config, target: str, name: str) -> str:
    """The push endpoint that delivers this file, "" when a person uploads it."""
    return next((ep.name for ep in cfg.endpoints if ep.push and ep.push.source == target
                 and fnmatch.fnmatch(name, ep.push.pattern)), "")


def cmd_outbox_mark_sent(args) -> int:
    cfg = base.config(args)
    store = base.writer(cfg)
    outbox = cfg.spool_dir / "outbox"
    path = _ready_file(outbox, args.file, args.target)
    if path is None:
        done = _in(outbox, "sent", Path(args.file).name, args.target)
        if done:
            row = deliveries.state(store.read(), done[0].parent.parent.name, done[0].name) or {}
            print(f"{done[0].name} was already sent ({row.get('sent_by') or '?'}, {row.get('sent_at') or '?'})")
            return 0
        raise TsunagiError(f"no file {args.file!r} waits in {outbox}/*/ready/ (see: tsunagi outbox list)")
    closed = delivery.mark_sent(store, path)
    print(f"{path.parent.parent.name}/{path.name}: recorded sent (manual upload), moved to sent/")
    if closed:
        print(f"{closed} orders closed (請求済): their shipment confirmation was delivered")
    return 0


def _ready_file(outbox: Path, given: str, target: str | None) -> Path | None:
    """The file in an outbox ready/ folder that `given` names (a path or a bare name)."""
    path = Path(given)
    if path.parent.name == "ready" and path.exists():
        if path.resolve().parent.parent.parent != outbox.resolve():
            raise TsunagiError(f"{given} is not in {outbox}/<target>/ready/")
        return path.resolve()
    found = _in(outbox, "ready", path.name, target)
    if len(found) > 1:
        raise TsunagiError(f"{path.name} waits for several targets ({', '.join(p.parent.parent.name for p in found)}): "
                           f"say which with --target")
    return found[0] if found else None


def _in(outbox: Path, stage: str, name: str, target: str | None) -> list[Path]:
    """outbox/<target>/<stage>/<name> of the given target, or of any (the name taken literally, not a pattern)."""
    folders = [outbox / target] if target else sorted(f for f in outbox.iterdir() if f.is_dir()) \
        if outbox.is_dir() else []
    return [f / stage / name for f in folders if (f / stage / name).is_file()]
