"""The schema of a CSV layout file (parsers/csv/<name>.toml, csv.layout_dir, or [csv_layout.NAME] in config)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tsunagi.common.schema import Strict

ENCODINGS = {"cp932": "cp932", "shift_jis": "cp932", "sjis": "cp932", "utf-8": "utf-8",
             "utf-8-sig": "utf-8-sig", "euc-jp": "euc_jp", "euc_jp": "euc_jp", "auto": "auto"}
TYPES = ("text", "code", "int", "amount", "datetime", "date", "postal", "phone", "status")
Scalar = str | int | float


class FieldTable(Strict):
    """One field: which column(s) it comes from and how its text is read."""
    column: str | None = None
    columns: list[str] = Field(default_factory=list)
    sep: str = ""
    value: Scalar | None = None                # a constant instead of columns
    type: Literal[TYPES] | None = None         # type: ignore[valid-type]
    required: bool = False
    default: Scalar = ""
    map: dict[str, Scalar] = Field(default_factory=dict)
    split: str = ""                            # take one part of the value split on this
    index: int = 0
    formats: list[str] = Field(default_factory=list)   # extra date formats (strptime)
    none: list[str] = Field(default_factory=list)      # values that mean "no value" (e.g. 指定なし)


class LayoutFile(Strict):
    """A layout's top-level keys; `fields` is read apart (its tables nest by field name)."""
    title: str | None = None
    kind: Literal["orders", "stock", "results", "products", "channel_stock"] = "orders"
    encoding: str = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1, description='one character ("\\t" for tab)')
    skip_rows: int = Field(0, ge=0)
    rows: Literal["per_line", "per_order"] = "per_line"
    max_items: int = Field(0, ge=0)
    fields: dict = Field(default_factory=dict)
    detect: list[str] = Field(default_factory=list)
    quote: str = '"'
    timezone: Literal["JST", "UTC"] = "JST"
    header: bool = True
    check_digit: Literal["", "mod7"] = ""
    number_format: Literal["", "yamato", "sagawa", "japanpost", "any"] = ""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value.lower() not in ENCODINGS:
            raise ValueError(f"{value!r} (use one of {', '.join(sorted(ENCODINGS))})")
        return ENCODINGS[value.lower()]
