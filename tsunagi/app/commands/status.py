"""The status command: is the daemon healthy, at a glance; exit 0 healthy, 1 degraded, 3 not running."""
from __future__ import annotations

import time

from tsunagi.app import health, heartbeat
from tsunagi.app.commands import base

LABELS = {"healthy": "正常 (healthy)", "degraded": "要確認 (degraded)", "not_running": "停止中 (not running)"}
WORKER_LABELS = {"ok": "稼働", "failing": "失敗中", "stopped": "停止"}


def register(sub) -> None:
    st = sub.add_parser("status", help="is the daemon healthy: exit 0 healthy, 1 degraded, 3 not running")
    st.add_argument("--json", action="store_true")
    st.add_argument("--wait-running", type=float, metavar="SECONDS",
                    help="wait up to SECONDS for the daemon to run; then exit 0 if it runs (healthy or degraded: "
                         "the report says which), 3 if not (for systemd's ExecStartPost)")
    st.set_defaults(func=cmd_status)


def cmd_status(args) -> int:
    cfg = base.config(args)
    if args.wait_running:             # only whether it runs, polled; the whole report once at the end
        end = time.monotonic() + args.wait_running
        while health.running(cfg.data_dir, heartbeat.read(cfg.data_dir)) and time.monotonic() < end:
            time.sleep(0.5)
    out = health.report(cfg)
    if args.json:
        base.print_json(out)
    else:
        show(out)
    if args.wait_running:
        return health.NOT_RUNNING if out["exit"] == health.NOT_RUNNING else 0
    return out["exit"]


def show(out: dict) -> None:
    d = out["daemon"]
    print(f"tsunagi: {LABELS[out['state']]}")
    if d["pid"] is not None:
        print(f"  デーモン: pid {d['pid']}, started {d['started_at']}, heartbeat {d['heartbeat_age_seconds']:.0f} s ago, "
              f"SMTP {d['smtp']}")
    for w in out["workers"]:
        since = f" since {w['failing_since']} ({w['failing_seconds']:.0f} s): {w['last_error']}" \
            if w["state"] == "failing" else ""
        print(f"  worker {w['name']:<9} {WORKER_LABELS[w['state']]}{since}")
    _show_spool(out)
    _show_outbound(out)
    for problem in out["problems"]:
        print(f"! {problem}")
    t = out["thresholds"]
    print(f"(degraded when: an item waits over {t['waiting_minutes']} min; items quarantined or mails failed "
          f"within {t['recent_hours']} h; a worker, transfer or the relay failing. not running when: the lock is "
          f"free or the heartbeat is over {t['heartbeat_stale_seconds']:.0f} s old)")


def _show_spool(out: dict) -> None:
    s, q = out["spool"], out["quarantine"]
    oldest = f", oldest {s['oldest_waiting_age_seconds']:.0f} s ({s['oldest_waiting']})" if s["oldest_waiting"] else ""
    print(f"  待ち (spool/new/): {s['waiting']}{oldest}; 処理中 (cur/): {s['processing']}")
    kinds = ", ".join(f"{k}: {n}" for k, n in q["by_kind"].items())
    print(f"  隔離 (spool/failed/): {q['count']}" + (f" ({kinds}), {q['recent']} within "
                                                   f"{out['thresholds']['recent_hours']} h" if q["count"] else ""))
    o, a = out["last_order"], out["last_applied"]
    print(f"  最終受注: {o['shop']} {o['order_no']} {o['at'][:19]}" if o else "  最終受注: -")
    if a:
        print(f"  last applied: {a['item']} {a['at'][:19]} ({a['outcome']})")
    if out["store_error"]:
        print(f"  store: {out['store_error']}")


def _show_outbound(out: dict) -> None:
    ready = ", ".join(f"{t}: {'?' if n is None else n}" for t, n in out["outbox"].items())
    print(f"  送信待ちファイル (outbox/*/ready/): {ready or '-'}")
    for j in out["schedules"]:
        failure = f", last failure {j['last_failure']}: {j['last_error']}" if j["last_failure"] else ""
        print(f"  {j['name']:<16} next {j['next_run'] or '-'}, last success {j['last_success'] or '-'}{failure}")
    r = out["relay"]
    if not r["configured"]:
        return
    mails = ", ".join(f"{k} {n}" for k, n in r["mails"].items())
    failing = f"; failing since {r['failing_since']}" if r["failing_since"] else ""
    print(f"  中継 (relay): {mails or '-'}{failing}")
    if r["last_error"]:
        print(f"    last send error {r['last_error']['at'][:19]}: {r['last_error']['answer']}")
