"""The audit log: who did what in the web console, to what, and whether it was done or refused."""
from __future__ import annotations

from dataclasses import dataclass

from tsunagi.common.clock import timestamp
from tsunagi.oms.store import Tx


@dataclass(frozen=True)
class Entry:
    at: str
    user: str
    action: str
    target: str
    outcome: str
    detail: str


def record(tx: Tx, user: str, action: str, target: str, outcome: str, detail: str = "") -> None:
    tx.run("INSERT INTO audit_log (at, user_name, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
           timestamp(), user, action, target, outcome, detail)


def recent(tx: Tx, limit: int = 100, user: str | None = None) -> list[Entry]:
    sql = "SELECT at, user_name, action, target, outcome, detail FROM audit_log"
    if user:
        return [Entry(*r) for r in tx.all(sql + " WHERE user_name = ? ORDER BY id DESC LIMIT ?", user, limit)]
    return [Entry(*r) for r in tx.all(sql + " ORDER BY id DESC LIMIT ?", limit)]
