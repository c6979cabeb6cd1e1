"""ConfigError, and each of pydantic's errors told in one line: `shop[2].stock_feed.layot: unknown key (allowed: …)`."""
from __future__ import annotations

import json
import re
import types
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel

from tsunagi.common.errors import TsunagiError

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
EXPECTED = {"int_type": "integer", "float_type": "number", "string_type": "string", "bool_type": "boolean",
            "list_type": "array", "dict_type": "table", "model_type": "table", "model_attributes_type": "table",
            "path_type": "string (a path)"}


class ConfigError(TsunagiError):
    """A config that cannot be used; the message names the file and every key that is wrong, one a line."""


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
        tp = tp.model_fields[part].annotation if _is_model(tp) else get_args(tp)[-1]   # else an array's or a table's item
    tp = _unwrap(tp)
    return sorted(tp.model_fields) if _is_model(tp) else []


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
