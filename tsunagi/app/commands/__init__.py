"""The tsunagi command line: one module a command group, each owning its parser and its command bodies."""
from __future__ import annotations

import argparse
import logging
import sys
from importlib import metadata

from tsunagi.app.commands import base, catalog, intake, mail, orders, serve, ship, transfer
from tsunagi.app.config import ConfigError
from tsunagi.common.errors import TsunagiError

GROUPS = (serve, intake, catalog, orders, ship, mail, transfer)


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
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "serve" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = args.func(args)
        base.finish()
        return code
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except TsunagiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
