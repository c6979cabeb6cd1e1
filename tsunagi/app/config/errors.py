"""ConfigError: a config that cannot be used, every mistake one line (the wording is common.schema's)."""
from __future__ import annotations

from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import describe, dotted

__all__ = ["ConfigError", "UnknownName", "describe", "dotted"]


class ConfigError(TsunagiError):
    """A config that cannot be used; the message names the file and every key that is wrong, one a line."""


class UnknownName(TsunagiError):
    """A shop, carrier, warehouse or endpoint named on the command line that the config does not have."""
