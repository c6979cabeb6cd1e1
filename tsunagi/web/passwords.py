"""Passwords hashed with argon2id (argon2-cffi's current parameters), never kept in clear."""
from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified when a name is unknown, so an unknown name costs as long as a wrong password. Made at the first
    login, not at import: every command imports this module, and one hash is a quarter of a second."""
    return _hasher.hash("tsunagi: no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def outdated(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
