"""Why an input was refused: a parse problem with where it is, or a mail that is not an order."""
from __future__ import annotations

from tsunagi.common.errors import TsunagiError


class ParseError(TsunagiError, ValueError):
    """Input that cannot become a record; says the stage, the field and the line."""

    def __init__(self, message: str, *, field: str = "", line: int | None = None,
                 stage: str = "parse", kind: str = "parse_error"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line
        self.stage = stage
        self.kind = kind

    def as_dict(self) -> dict:
        out = {"stage": self.stage, "kind": self.kind, "message": self.message}
        if self.field:
            out["field"] = self.field
        if self.line is not None:
            out["line"] = self.line
        return out


class NotAnOrder(ParseError):
    """Mail that must not become an order: a bounce, an auto-reply, or no spec of the shop matches."""

    def __init__(self, message: str):
        super().__init__(message, stage="classify", kind="not_an_order")
