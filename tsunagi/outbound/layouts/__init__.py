"""Outbound file layouts as data: layouts/<kind>/<name>.toml, read and checked here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tsunagi.common.errors import TsunagiError

LAYOUT_DIR = Path(__file__).parent
ENCODINGS = {"cp932", "utf-8", "utf-8-sig", "euc_jp"}
QUOTING = {"necessary": "necessary", "always": "always", "never": "never"}


class OutboundLayoutError(TsunagiError, ValueError):
    """An outbound layout that is unknown or cannot be used; the message names it."""


@dataclass(frozen=True)
class Column:
    header: str
    field: str = ""       # a value the writer supplies (e.g. code, subcode, qty)
    value: str = ""       # or a constant
    max_bytes: int = 0    # cut to this many bytes in the file's encoding (carriers count bytes)


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
    tables: dict = field(default_factory=dict, compare=False, hash=False)   # code tables ([service], [time], …)
    header: bool = True
    max_rows: int = 0     # rows per file (0 = all in one)
    date_format: str = "%Y/%m/%d"


@dataclass(frozen=True)
class Layouts:
    """Where outbound layouts are found: a shop's own folders (<dir>/<kind>/<name>.toml) before the shipped ones."""
    dirs: tuple[Path, ...] = ()

    def load(self, kind: str, name: str, fields: tuple[str, ...] = ()) -> Layout:
        return load_layout(kind, name, fields, self.dirs)

    def available(self, kind: str) -> list[str]:
        return available_layouts(kind, self.dirs)


SHIPPED = Layouts()


def available_layouts(kind: str, dirs: tuple[Path, ...] = ()) -> list[str]:
    return sorted({p.stem for d in (*dirs, LAYOUT_DIR) for p in (Path(d) / kind).glob("*.toml")})


@lru_cache(maxsize=None)
def load_layout(kind: str, name: str, fields: tuple[str, ...] = (), dirs: tuple[Path, ...] = ()) -> Layout:
    """The layout of that kind and name, looked for in dirs first (dirs is part of the cache key)."""
    path = next((p for d in (*dirs, LAYOUT_DIR) if (p := Path(d) / kind / f"{name}.toml").exists()),
                LAYOUT_DIR / kind / f"{name}.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutboundLayoutError(f"no {kind} layout {name!r} (known: {', '.join(available_layouts(kind, dirs))})") from None
    where = str(path)
    encoding = data.get("encoding", "cp932").lower()
    if encoding not in ENCODINGS:
        raise OutboundLayoutError(f"{where}: encoding {encoding!r} (use one of {', '.join(sorted(ENCODINGS))})")
    quote = data.get("quote", "necessary")
    if quote not in QUOTING:
        raise OutboundLayoutError(f"{where}: quote {quote!r} (use one of {', '.join(QUOTING)})")
    columns = [_column(where, n, col) for n, col in enumerate(data.get("column", []))]
    # The compact form for long layouts: columns = [["header", "field" or "=constant" or "", max_bytes], …]
    columns += [_compact(where, n, col) for n, col in enumerate(data.get("columns", []))]
    for n, col in enumerate(columns):
        if fields and col.field and col.field not in fields:
            raise OutboundLayoutError(f"{where}: column {n + 1} ({col.header}): field {col.field!r} (known: {', '.join(fields)})")
    if not columns:
        raise OutboundLayoutError(f"{where}: no [[column]]")
    known = {"title", "encoding", "delimiter", "newline", "quote", "extension", "preamble", "column", "columns",
             "header", "max_rows", "date_format"}
    return Layout(name=name, title=data.get("title", name), encoding=encoding,
                  delimiter=data.get("delimiter", ","), newline=data.get("newline", "\r\n"),
                  quote=quote, extension=data.get("extension", "csv"),
                  preamble=tuple(tuple(row) for row in data.get("preamble", [])), columns=tuple(columns),
                  tables={k: v for k, v in data.items() if k not in known and isinstance(v, dict)},
                  header=bool(data.get("header", True)), max_rows=int(data.get("max_rows", 0)),
                  date_format=str(data.get("date_format", "%Y/%m/%d")))


def _column(where: str, n: int, col: dict) -> Column:
    if "header" not in col or ("field" in col) == ("value" in col):
        raise OutboundLayoutError(f"{where}: column[{n}]: give header and either field or value")
    return Column(col["header"], col.get("field", ""), str(col.get("value", "")), int(col.get("max_bytes", 0)))


def _compact(where: str, n: int, col: list) -> Column:
    if not isinstance(col, list) or not 1 <= len(col) <= 3:
        raise OutboundLayoutError(f"{where}: columns[{n}]: write [\"header\", \"field\" or \"=constant\", max_bytes]")
    header, spec, limit = col[0], col[1] if len(col) > 1 else "", col[2] if len(col) > 2 else 0
    if str(spec).startswith("="):
        return Column(str(header), "", str(spec)[1:], int(limit))
    return Column(str(header), str(spec), "", int(limit))
