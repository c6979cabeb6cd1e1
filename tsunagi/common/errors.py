"""The one base of every error an operator can act on: shown as one line, never as a traceback."""
from __future__ import annotations


class TsunagiError(Exception):
    """A refusal or a mistake with a message that says what is wrong and what to do."""
