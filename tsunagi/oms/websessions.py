"""Logins to the web console: a session token's sha256 (never the token), its CSRF token and when it ends."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tsunagi.common.clock import now, timestamp
from tsunagi.oms.store import Tx
from tsunagi.oms.users import User


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: User
    csrf: str
    expires_at: str


def open_session(tx: Tx, token_hash: str, user_name: str, csrf: str, expires_at: datetime) -> None:
    tx.run("DELETE FROM web_sessions WHERE expires_at < ?", timestamp())       # ended ones, swept at each login
    tx.run("INSERT INTO web_sessions (token_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
           token_hash, user_name, csrf, timestamp(), expires_at.isoformat(timespec="microseconds"))


def live(tx: Tx, token_hash: str) -> Session | None:
    """The session of that token if it has not ended and its user still exists, else None."""
    row = tx.one("SELECT s.token_hash, u.name, u.role, u.created_at, s.csrf, s.expires_at FROM web_sessions s "
                 "JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?", token_hash)
    if row is None or datetime.fromisoformat(row[5]) <= now():
        return None
    return Session(row[0], User(*row[1:4]), row[4], row[5])


def close(tx: Tx, token_hash: str) -> None:
    tx.run("DELETE FROM web_sessions WHERE token_hash = ?", token_hash)
