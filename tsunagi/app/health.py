"""`tsunagi status` put together: the daemon's heartbeat and lock, the spool and the store (read-only), a verdict.

Exit status: 0 healthy, 1 degraded, 3 not running (the codes of an LSB init script's status action,
so monitoring and systemd read them as usual). Degraded means a person should look, with the reasons:
a worker failing or stopped, a scheduled transfer whose last run failed, the relay failing, an item
waiting in spool/new/ longer than WAITING_MINUTES, items quarantined or buyer mails failed within
RECENT_HOURS. Not running: no daemon holds data_dir/tsunagi.lock, or its heartbeat is older than
heartbeat.STALE_SECONDS (the event loop is frozen), or it said it stopped.
"""
from __future__ import annotations

import fcntl
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from tsunagi.app import heartbeat
from tsunagi.app.config import Config
from tsunagi.common import clock
from tsunagi.ingest import spoolstate
from tsunagi.ingest.spool import id_time
from tsunagi.oms import health
from tsunagi.oms.store import Store, StoreError

HEALTHY, DEGRADED, NOT_RUNNING = 0, 1, 3
STATES = {HEALTHY: "healthy", DEGRADED: "degraded", NOT_RUNNING: "not_running"}
WAITING_MINUTES = 5      # the pipeline applies an item within seconds: one waiting this long is stuck
RECENT_HOURS = 24        # a quarantined item or failed mail this recent wants a person (and the alarm clears by itself)


def thresholds() -> dict:
    return {"waiting_minutes": WAITING_MINUTES, "recent_hours": RECENT_HOURS,
            "heartbeat_stale_seconds": heartbeat.STALE_SECONDS}


def lock_held(data_dir: Path) -> bool | None:
    """Whether a daemon holds data_dir/tsunagi.lock; None when this user cannot open it.

    Probed with a shared flock taken and dropped at once (never created, never written): for those
    microseconds a daemon starting would find it taken, so it is probed only when a fresh heartbeat
    says a daemon already runs (see running())."""
    try:
        fh = open(Path(data_dir) / "tsunagi.lock", "rb")
    except FileNotFoundError:
        return False
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def running(data_dir: Path, beat: heartbeat.Beat | None) -> str:
    """Why the daemon is not running, or "" when it runs."""
    if beat is None:
        return "not running: no heartbeat (data_dir/status.json); start it with tsunagi serve"
    if beat.state != "running":
        return f"not running: it stopped at {beat.heartbeat_at}"
    if heartbeat.age(beat) > heartbeat.STALE_SECONDS:
        return (f"not running or frozen: last heartbeat {heartbeat.age(beat):.0f} s ago ({beat.heartbeat_at}, "
                f"pid {beat.pid})")
    if lock_held(data_dir) is False:
        return f"not running: pid {beat.pid} holds no lock on tsunagi.lock (it died at once)"
    return ""


def report(cfg: Config) -> dict:
    """Everything status shows, in the stable shape --json prints; "exit" is the status to exit with."""
    beat = heartbeat.read(cfg.data_dir)
    down = running(cfg.data_dir, beat)
    live = beat if not down else None
    problems: list[str] = [down] if down else []
    out = {"state": "", "exit": 0, "problems": problems, "thresholds": thresholds(),
           "daemon": _daemon(beat, live), "workers": _workers(live, problems),
           "spool": _spool(cfg.spool_dir, problems), "quarantine": _quarantine(cfg.spool_dir, problems),
           "outbox": spoolstate.outbox_ready(cfg.spool_dir), "schedules": _schedules(live, problems)}
    out.update(_store(cfg, live, problems))
    code = NOT_RUNNING if down else DEGRADED if problems else HEALTHY
    out["state"], out["exit"] = STATES[code], code
    return out


def _daemon(beat: heartbeat.Beat | None, live: heartbeat.Beat | None) -> dict:
    return {"running": live is not None, "pid": beat.pid if beat else None,
            "started_at": beat.started_at if beat else None, "heartbeat_at": beat.heartbeat_at if beat else None,
            "heartbeat_age_seconds": round(heartbeat.age(beat), 1) if beat else None,
            "smtp": beat.smtp if beat else None}


def _workers(live: heartbeat.Beat | None, problems: list[str]) -> list[dict]:
    workers = [w.model_dump() for w in live.workers] if live else []
    for w in workers:
        if w["state"] == "failing":
            problems.append(f"worker {w['name']} failing since {w['failing_since']}: {w['last_error']}")
        elif w["state"] == "stopped":
            problems.append(f"worker {w['name']} stopped")
    return workers


def _age(then: datetime | None) -> float | None:
    return round((clock.now() - then).total_seconds(), 1) if then else None


def _spool(root: Path, problems: list[str]) -> dict:
    ids, claimed = spoolstate.waiting(root)
    oldest = ids[0] if ids else None
    age = _age(id_time(oldest)) if oldest else None
    if age is not None and age > WAITING_MINUTES * 60:
        problems.append(f"{len(ids)} items waiting in spool/new/, the oldest ({oldest}) for {age / 60:.0f} min")
    return {"waiting": len(ids), "processing": claimed, "oldest_waiting": oldest, "oldest_waiting_age_seconds": age}


def _failed_at(reason: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(reason["failed_at"])
    except (KeyError, TypeError, ValueError):
        return id_time(str(reason.get("id", "")))


def _quarantine(root: Path, problems: list[str]) -> dict:
    reasons = spoolstate.quarantined(root)
    since = clock.now() - timedelta(hours=RECENT_HOURS)
    times = [t for t in map(_failed_at, reasons) if t is not None]
    recent = sum(1 for t in times if t >= since)
    kinds = spoolstate.by_kind(reasons)
    if recent:
        problems.append(f"{recent} items quarantined in spool/failed/ within {RECENT_HOURS} h "
                        f"({spoolstate.shown(kinds)}): tsunagi spool list")
    return {"count": len(reasons), "recent": recent, "by_kind": kinds,
            "latest_at": max(times).isoformat(timespec="seconds") if times else None}


def _schedules(live: heartbeat.Beat | None, problems: list[str]) -> list[dict]:
    jobs = [j.model_dump() for j in live.schedules] if live else []
    for j in jobs:
        if j["failing"]:
            problems.append(f"{j['name']}: last run failed at {j['last_failure']}: {j['last_error']}")
    return jobs


def _store(cfg: Config, live: heartbeat.Beat | None, problems: list[str]) -> dict:
    relay = {"configured": cfg.relay is not None, "failing_since": live.relay.failing_since if live else None,
             "mails": {}, "gone_wrong_recently": 0, "last_error": None}
    if relay["failing_since"]:
        problems.append(f"relay failing since {relay['failing_since']}: buyer mails wait (tsunagi mail log)")
    try:
        return _read_store(cfg, relay, problems)
    except (StoreError, sqlite3.DatabaseError) as exc:
        if live:
            problems.append(f"cannot read the store: {exc}")
        return {"store_error": str(exc), "last_order": None, "last_applied": None, "relay": relay}


def _read_store(cfg: Config, relay: dict, problems: list[str]) -> dict:
    store = Store.open_read_only(cfg.db_path)
    try:
        tx = store.read()
        since = (clock.now() - timedelta(hours=RECENT_HOURS)).isoformat()
        relay |= {"mails": health.mail_counts(tx), "gone_wrong_recently": health.mails_gone_wrong_since(tx, since),
                  "last_error": health.last_send_error(tx)}
        if relay["gone_wrong_recently"]:
            problems.append(f"{relay['gone_wrong_recently']} buyer mails failed or uncertain within {RECENT_HOURS} h: "
                            f"tsunagi mail log")
        return {"store_error": None, "last_order": health.last_order(tx), "last_applied": health.last_applied(tx),
                "relay": relay}
    finally:
        store.close()
