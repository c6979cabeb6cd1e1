"""Outbound file layouts as data: layouts/<kind>/<name>.toml, read and checked here."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
import re
from functools import cached_property, lru_cache
from pathlib import Path

from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import validate
from tsunagi.outbound.layouts.schema import OutboundLayoutFile

LAYOUT_DIR = Path(__file__).parent


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
    multiline: bool = False       # a quoted value may hold a line break
    opened_by: str = "software"   # "people": formula-like text neutralised; "software": held instead

    @cached_property
    def unsafe(self) -> re.Pattern | None:
        """The characters a value cannot hold in this file (worked out once a layout, not once a row):
        the delimiter and the quote where nothing is quoted, line breaks unless quoted values may span lines."""
        chars = (re.escape(self.delimiter) + '"' if self.quote == "never" else "") + \
            ("" if self.multiline and self.quote != "never" else "\r\n")
        return re.compile(f"[{chars}]") if chars else None

    @cached_property
    def headers(self) -> dict[str, str]:
        """The header of each field the layout writes (its first column, when a field fills several)."""
        out: dict[str, str] = {}
        for c in self.columns:
            if c.field:
                out.setdefault(c.field, c.header)
        return out


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
    spec, problems = validate(OutboundLayoutFile, data)
    if spec is None:
        raise OutboundLayoutError("\n".join(f"{where}: {p}" for p in problems))
    columns = [Column(c.header, c.field or "", "" if c.value is None else str(c.value), c.max_bytes)
               for c in spec.column] + [_compact(col) for col in spec.columns]
    unknown = [f"column {n + 1} ({col.header}): field {col.field!r} (known: {', '.join(fields)})"
               for n, col in enumerate(columns) if fields and col.field and col.field not in fields]
    if unknown:
        raise OutboundLayoutError("\n".join(f"{where}: {p}" for p in unknown))
    return Layout(name=name, title=spec.title or name, encoding=spec.encoding, delimiter=spec.delimiter,
                  newline=spec.newline, quote=spec.quote, extension=spec.extension,
                  preamble=tuple(tuple(row) for row in spec.preamble), columns=tuple(columns), tables=spec.tables,
                  header=spec.header, max_rows=spec.max_rows, date_format=spec.date_format,
                  multiline=spec.multiline, opened_by=spec.opened_by)


def _compact(col: list) -> Column:
    header, spec, limit = col[0], col[1] if len(col) > 1 else "", col[2] if len(col) > 2 else 0
    if str(spec).startswith("="):
        return Column(str(header), "", str(spec)[1:], int(limit))
    return Column(str(header), str(spec), "", int(limit))
