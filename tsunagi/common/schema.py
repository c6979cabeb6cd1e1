"""Reading a TOML file against a typed schema (pydantic): every mistake reported at once, each with its path."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A table whose unknown keys are mistakes (a typo never passes silently)."""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def path_of(loc: tuple) -> str:
    """('shop', 2, 'stock_feed', 'layot') -> 'shop[2].stock_feed.layot'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problems(exc: ValidationError) -> list[str]:
    """One line a mistake: the key's path and what is wrong with it."""
    lines = []
    for err in exc.errors(include_url=False):
        where = path_of(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key")
        elif err["type"] == "missing":
            lines.append(f"{where}: is required")
        else:
            lines.append(f"{where}: {err['msg']}" if where else err["msg"])
    return lines


def read_toml(path: Path) -> dict:
    """The file's tables; a syntax mistake raises tomllib's error naming the line."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def validate(model: type[M], data: dict) -> tuple[M | None, list[str]]:
    """The typed value, or None and the list of mistakes."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems(exc)
