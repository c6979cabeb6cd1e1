"""The web console's users: a name, a role (admin, operator, viewer) and a password hash made elsewhere."""
from __future__ import annotations

import re
from dataclasses import dataclass

from tsunagi.common.clock import timestamp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms.store import Tx

ROLES = ("admin", "operator", "viewer")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


class UserError(TsunagiError):
    """A user name or role the operator typed that cannot be taken."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str = ""

    @property
    def can_act(self) -> bool:
        """Viewers read; operators and admins act."""
        return self.role in ("admin", "operator")


def add(tx: Tx, name: str, role: str, password_hash: str) -> None:
    if not NAME.fullmatch(name):
        raise UserError(f"{name!r}: a user name is letters, digits and . _ @ + - (at most 64)")
    if role not in ROLES:
        raise UserError(f"{role!r}: a role is one of {', '.join(ROLES)}")
    if tx.value("SELECT 1 FROM users WHERE name = ?", name):
        raise UserError(f"user {name} exists (tsunagi user remove {name} first to give a new role or password)")
    tx.run("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
           name, role, password_hash, timestamp())


def remove(tx: Tx, name: str) -> None:
    """The user and every login they hold (an open browser is logged out at its next request)."""
    if not tx.value("SELECT 1 FROM users WHERE name = ?", name):
        raise UserError(f"no user {name}")
    tx.run("DELETE FROM web_sessions WHERE user_name = ?", name)
    tx.run("DELETE FROM users WHERE name = ?", name)


def listed(tx: Tx) -> list[User]:
    return [User(*r) for r in tx.all("SELECT name, role, created_at FROM users ORDER BY name")]


def find(tx: Tx, name: str) -> tuple[User, str] | None:
    """The user and their password hash, or None."""
    row = tx.one("SELECT name, role, created_at, password_hash FROM users WHERE name = ?", name)
    return (User(*row[:3]), row[3]) if row else None


def rehash(tx: Tx, name: str, password_hash: str) -> None:
    """A stored hash made with weaker parameters than today's, replaced at a successful login."""
    tx.run("UPDATE users SET password_hash = ? WHERE name = ?", password_hash, name)
