"""The user commands: the people who log in to the web console, with their roles."""
from __future__ import annotations

import getpass
import os
import sys

from tsunagi.app.commands import base
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import audit, users
from tsunagi.web.passwords import hash_password

MIN_PASSWORD = 8


def register(sub) -> None:
    u = sub.add_parser("user", help="web console users: user add NAME --role admin|operator|viewer "
                                    "[--password-env VAR] | user list | user remove NAME | user audit")
    us = u.add_subparsers(dest="user_action", required=True)
    add = us.add_parser("add", help="add a user (the password is asked for, or read from --password-env)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--password-env", metavar="VAR", help="the environment variable holding the password")
    add.set_defaults(func=cmd_user_add)
    ls = us.add_parser("list", help="the users and their roles")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_user_list)
    rm = us.add_parser("remove", help="remove a user (logged out at once)")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_user_remove)
    au = us.add_parser("audit", help="what users did in the web console, newest first (the audit log)")
    au.add_argument("--user", help="only this user's entries")
    au.add_argument("--limit", type=base.at_most(2**63 - 1, "entries", 100), default=100)
    au.add_argument("--json", action="store_true")
    au.set_defaults(func=cmd_user_audit)


def _password(env: str | None) -> str:
    if env:
        password = os.environ.get(env, "")
        if not password:
            raise TsunagiError(f"environment variable {env} is not set (it should hold the password)")
    else:
        try:
            if sys.stdin is None:     # started with stdin closed: getpass would fail reading it
                raise EOFError
            password = getpass.getpass("password: ")
            if password != getpass.getpass("again: "):
                raise TsunagiError("the two passwords differ")
        except EOFError:      # no terminal and nothing on stdin: a script that forgot --password-env
            raise TsunagiError("no password was typed: run it at a terminal, or give --password-env VAR") from None
    if len(password) < MIN_PASSWORD:
        raise TsunagiError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def cmd_user_add(args) -> int:
    password = _password(args.password_env)
    store = base.writer(base.config(args))
    with store.transaction() as tx:
        users.add(tx, args.name, args.role, hash_password(password))
    print(f"user {args.name} added ({args.role})")
    return 0


def cmd_user_list(args) -> int:
    found = users.listed(base.reader(base.config(args)).read())
    return base.show(args, [{"name": u.name, "role": u.role, "created_at": u.created_at} for u in found], "users",
                     lambda r: f"{r['name']:<20} {r['role']:<9} {r['created_at'][:19]}")


def cmd_user_remove(args) -> int:
    store = base.writer(base.config(args))
    with store.transaction() as tx:
        users.remove(tx, args.name)
    print(f"user {args.name} removed")
    return 0


def cmd_user_audit(args) -> int:
    entries = audit.recent(base.reader(base.config(args)).read(), args.limit, args.user)
    rows = [{"at": e.at, "user": e.user, "action": e.action, "target": e.target, "outcome": e.outcome,
             "detail": e.detail} for e in entries]
    return base.show(args, rows, "entries", lambda r: f"{r['at'][:19]} {r['user']:<12} {r['action']:<20} "
                                                      f"{r['target']:<32} {r['outcome']:<8} {r['detail']}")
