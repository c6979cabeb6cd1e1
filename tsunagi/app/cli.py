"""The `tsunagi` entry point (the commands live in tsunagi.app.commands, one module a group)."""
from __future__ import annotations

import sys

try:
    from tsunagi.app.commands import build_parser, main
except KeyboardInterrupt:       # Ctrl-C while the commands load (a second or two on a busy machine)
    print("interrupted", file=sys.stderr)
    sys.exit(130)

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
