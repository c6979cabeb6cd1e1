"""Reading TOML against a typed schema (pydantic): every mistake reported at once, each as `path: what is wrong`.

One engine for config.toml, cart mail specs, CSV layouts and outbound layouts."""
from __future__ import annotations

import json
import re
import tomllib
import types
from pathlib import Path
from typing import Annotated, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A table whose unknown keys are mistakes (a typo never passes silently)."""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
EXPECTED = {"int_type": "integer", "float_type": "number", "string_type": "string", "bool_type": "boolean",
            "list_type": "array", "dict_type": "table", "model_type": "table", "model_attributes_type": "table",
            "path_type": "string (a path)"}


def dotted(loc: tuple) -> str:
    """("shop", 2, "stock_feed", "layot") -> shop[2].stock_feed.layot; keys that are not bare are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (part if BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False))
    return out or "(top level)"


def describe(error: dict, schema: type[BaseModel]) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown key (allowed: {', '.join(keys_at(schema, error['loc'][:-1]))})"
    if kind == "missing":
        return "is required"
    if kind in EXPECTED:
        return f"must be {EXPECTED[kind]}, not {TOML_TYPES.get(type(value), type(value).__name__)} {_short(value)}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, not {_short(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, not {_short(value)}"
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"]        # our own checks' messages, and pydantic's words for anything rarer


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def keys_at(schema: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the table at loc allows, found by walking the schema's types along the location."""
    tp = schema
    for part in loc:
        tp = _unwrap(tp)
        tp = _field_type(tp, part) if _is_model(tp) else get_args(tp)[-1]   # else an array's or a table's item
    tp = _unwrap(tp)
    return sorted(f.alias or name for name, f in tp.model_fields.items()) if _is_model(tp) else []


def _field_type(model: type[BaseModel], key: str):
    """The type of a model's key, by its name or by its alias (`in` for `in_`)."""
    fields = {f.alias or name: f for name, f in model.model_fields.items()} | dict(model.model_fields)
    return fields[key].annotation


def _unwrap(tp):
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def problems(exc: ValidationError, schema: type[BaseModel]) -> list[str]:
    """One line a mistake: the key's path and what is wrong with it."""
    return [f"{dotted(e['loc'])}: {describe(e, schema)}" for e in exc.errors()]


def read_toml(path: Path) -> dict:
    """The file's tables; a syntax mistake raises tomllib's error naming the line."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def validate(model: type[M], data: dict) -> tuple[M | None, list[str]]:
    """The typed value, or None and the list of mistakes."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems(exc, model)
