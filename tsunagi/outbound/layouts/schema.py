"""The schema of an outbound layout file (layouts/<kind>/<name>.toml): its keys, columns and code tables."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tsunagi.common.schema import Strict

KNOWN = {"title", "encoding", "delimiter", "newline", "quote", "extension", "preamble", "column", "columns",
         "header", "max_rows", "date_format", "opened_by", "multiline"}


class ColumnTable(Strict):
    """[[column]]: a header and either a field the writer supplies or a constant."""
    header: str
    field: str | None = None
    value: str | int | None = None
    max_bytes: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _field_or_value(self):
        if (self.field is None) == (self.value is None):
            raise ValueError("give header and either field or value")
        return self


class OutboundLayoutFile(Strict):
    """A layout's keys; any other key must be a code table ([service], [time], [carrier], …)."""
    title: str | None = None
    encoding: Literal["cp932", "utf-8", "utf-8-sig", "euc_jp"] = "cp932"
    delimiter: str = Field(",", min_length=1, max_length=1)
    newline: Literal["\r\n", "\n"] = "\r\n"
    # "never" for formats whose readers take no quoting: a value holding the delimiter, a quote or a line
    # break cannot be written there, and its order is held naming the field instead of shifting columns.
    quote: Literal["necessary", "always", "never"] = "necessary"
    # Whether a quoted value may hold a line break; carrier software reads one line a record.
    multiline: bool = False
    # Who opens the file: "people" (a spreadsheet: text that starts like a formula gets a leading ') or
    # "software" (a value is never changed: an order whose text starts like a formula is held instead).
    opened_by: Literal["people", "software"] = "software"
    extension: str = "csv"
    preamble: list[list[str]] = Field(default_factory=list)
    column: list[ColumnTable] = Field(default_factory=list)
    # The compact form for long layouts: ["header", "field" or "=constant" or "", max_bytes]
    columns: list[list[str | int]] = Field(default_factory=list)
    header: bool = True
    max_rows: int = Field(0, ge=0)
    date_format: str = "%Y/%m/%d"
    tables: dict[str, dict] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _code_tables(cls, data):
        """Tables under names of the layout's own are its code tables; anything else unknown stays an error."""
        if isinstance(data, dict):
            tables = {k: v for k, v in data.items() if k not in KNOWN and isinstance(v, dict)}
            data = {k: v for k, v in data.items() if k not in tables} | {"tables": tables}
        return data

    @model_validator(mode="after")
    def _compact_columns(self):
        for n, col in enumerate(self.columns):
            if not 1 <= len(col) <= 3 or (len(col) == 3 and not isinstance(col[2], int)):
                raise ValueError(f'columns[{n}]: write ["header", "field" or "=constant", max_bytes]')
        if not self.column and not self.columns:
            raise ValueError("no [[column]]")
        return self
