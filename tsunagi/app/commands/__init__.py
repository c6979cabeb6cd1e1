"""The tsunagi command line: one module a command group, each owning its parser and its command bodies."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import sqlite3
import sys
from importlib import metadata

from tsunagi.app import logsetup
from tsunagi.app.commands import (
    base,
    catalog,
    feed,
    intake,
    mail,
    ordercancel,
    orderlines,
    orderrelate,
    orders,
    outboxcmd,
    payment,
    returns,
    serve,
    ship,
    shipto,
    spec,
    status,
    transfer,
    users,
)
from tsunagi.app.config import ConfigError
from tsunagi.common.errors import TsunagiError

GROUPS = (serve, status, intake, catalog, orders, ordercancel, orderlines, orderrelate, shipto, returns, payment, ship,
          mail, transfer, outboxcmd, feed, spec, users)


def version() -> str:
    try:
        return metadata.version("tsunagi")
    except metadata.PackageNotFoundError:      # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsunagi", description="Email/CSV ingestion appliance for Japanese e-commerce")
    p.add_argument("-c", "--config", help="config file (default: $TSUNAGI_CONFIG or ./config.toml)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--version", action="version", version=f"tsunagi {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. An operator's mistake is one line on stderr and exit status 2, never a traceback."""
    args = build_parser().parse_args(argv)
    # What the imports made lives as long as the process: the collector need not look at it again (an
    # import of a 100,000-row file otherwise spends a tenth of its time walking polars' module objects).
    gc.freeze()
    logsetup.start(logging.INFO if args.verbose or args.command == "serve" else logging.WARNING)
    os.umask(0o027)        # nothing tsunagi writes (database, spool, labels, feeds) is readable by others
    try:
        code = args.func(args)
        base.finish()
        return code
    except ConfigError as exc:
        return _refuse(f"config error: {exc}")
    except TsunagiError as exc:
        return _refuse(f"error: {exc}")
    except BrokenPipeError:            # output piped into head, say: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return _refuse("interrupted", 130)
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        return _refuse(f"error: the database is busy: another program has held it too long ({exc}); try again "
                       f"once it is done (a running import, or an open sqlite3 session)", 1)   # not a mistake: 1
    except OSError as exc:             # a missing input file, a folder tsunagi may not write, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        return _refuse(f"error: {where}{exc.strerror or exc}")


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another process held the database past the store's wait: the moment's state, not a fault of tsunagi."""
    return getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) \
        or "database is locked" in str(exc)


def _refuse(line: str, code: int = 2) -> int:
    print(line, file=sys.stderr)
    return code
