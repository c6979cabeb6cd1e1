"""The README's table of config.toml keys, generated from the schema: `python -m tsunagi.app.configdoc [--write]`."""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tsunagi.app.config import ConfigFile

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"
NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}


def markdown_table() -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{key}` | {kind} | {default} | {text} |" for key, kind, default, text in rows(ConfigFile)]
    return "\n".join(lines) + "\n"


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every key; a table's keys follow it, an array of tables
    is written [[name]] as in the file."""
    out = []
    for name, field in model.model_fields.items():
        tp, optional = _unwrap(field.annotation)
        key = f"{prefix}{name}"
        text = (field.description or "").replace("|", "\\|")
        if _is_model(tp):
            if optional or text:
                out.append((key, "table", "none" if optional else _default(field), text))
            out += rows(tp, f"{key}.")
        elif get_origin(tp) is list and _is_model(_unwrap(get_args(tp)[0])[0]):
            out.append((f"[[{key}]]", "array of tables", _default(field), text))
            out += rows(_unwrap(get_args(tp)[0])[0], f"[[{key}]] ")
        else:
            out.append((key, _type_name(tp), _default(field), text))
    return out


def _unwrap(tp) -> tuple[object, bool]:
    """The type without Annotated and None, and whether None was allowed."""
    optional = False
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            optional = optional or type(None) in get_args(tp)
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp, optional


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _type_name(tp) -> str:
    tp = _unwrap(tp)[0]
    if get_origin(tp) is Literal:
        return " \\| ".join(f"`{_toml(v)}`" for v in get_args(tp))
    if get_origin(tp) is list:
        item = _type_name(get_args(tp)[0])
        return f"array of {item}s" if item in NAMES.values() else f"array of {item}"
    if get_origin(tp) is dict:
        item = _type_name(get_args(tp)[1])
        return "table" if item == "any" else f"table of {item}s" if item in (*NAMES.values(), "table") else f"table of {item}"
    return "table" if tp is dict or get_origin(tp) is dict else NAMES.get(tp, "any")


def _default(field) -> str:
    if field.default_factory is not None:
        return f"`{_toml(field.default_factory())}`"
    if field.default is PydanticUndefined:
        return "required"
    return "none" if field.default is None else f"`{_toml(field.default)}`"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def readme_table(text: str) -> str:
    """What the README holds between the markers."""
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_readme(path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    path.write_text(f"{head}{START}\n{markdown_table()}{END}{rest.split(END, 1)[1]}", encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write_readme()
    else:
        sys.stdout.write(markdown_table())
