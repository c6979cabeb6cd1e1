"""The `tsunagi` entry point (the commands live in tsunagi.app.commands, one module a group)."""
from __future__ import annotations

import sys

from tsunagi.app.commands import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
