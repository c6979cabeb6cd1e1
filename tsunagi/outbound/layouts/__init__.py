"""Outbound file layouts as data: layouts/<kind>/<name>.toml, read and checked here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LAYOUT_DIR = Path(__file__).parent
ENCODINGS = {"cp932", "utf-8", "utf-8-sig", "euc_jp"}
QUOTING = {"necessary": "necessary", "always": "always", "never": "never"}


@dataclass(frozen=True)
class Column:
    header: str
    field: str = ""       # a value the writer supplies (e.g. code, subcode, qty)
    value: str = ""       # or a constant


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    encoding: str
    delimiter: str
    newline: str
    quote: str
    extension: str
    preamble: tuple[tuple[str, ...], ...]   # rows written before the header
    columns: tuple[Column, ...]


def available_layouts(kind: str) -> list[str]:
    return sorted(p.stem for p in (LAYOUT_DIR / kind).glob("*.toml"))


@lru_cache(maxsize=None)
def load_layout(kind: str, name: str, fields: tuple[str, ...] = ()) -> Layout:
    path = LAYOUT_DIR / kind / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no {kind} layout {name!r} (known: {', '.join(available_layouts(kind))})") from None
    where = str(path)
    encoding = data.get("encoding", "cp932").lower()
    if encoding not in ENCODINGS:
        raise ValueError(f"{where}: encoding {encoding!r} (use one of {', '.join(sorted(ENCODINGS))})")
    quote = data.get("quote", "necessary")
    if quote not in QUOTING:
        raise ValueError(f"{where}: quote {quote!r} (use one of {', '.join(QUOTING)})")
    columns = []
    for n, col in enumerate(data.get("column", [])):
        if "header" not in col or ("field" in col) == ("value" in col):
            raise ValueError(f"{where}: column[{n}]: give header and either field or value")
        if fields and col.get("field") and col["field"] not in fields:
            raise ValueError(f"{where}: column[{n}].field {col['field']!r} (known: {', '.join(fields)})")
        columns.append(Column(col["header"], col.get("field", ""), str(col.get("value", ""))))
    if not columns:
        raise ValueError(f"{where}: no [[column]]")
    return Layout(name=name, title=data.get("title", name), encoding=encoding,
                  delimiter=data.get("delimiter", ","), newline=data.get("newline", "\r\n"),
                  quote=quote, extension=data.get("extension", "csv"),
                  preamble=tuple(tuple(row) for row in data.get("preamble", [])), columns=tuple(columns))
