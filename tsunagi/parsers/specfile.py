"""The schema of a cart mail spec file (parsers/mail/<cart>.toml): which keys exist and what they hold."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from tsunagi.common.schema import Strict

FieldName = Literal["order_no", "ordered_at", "payment_method", "delivery_method", "requested_date",
                    "requested_time", "shipping_fee", "cod_fee", "discount", "subtotal", "total", "note"]


class MatchTable(Strict):
    subject: list[str] = Field(min_length=1, description="patterns one of which the subject must match")
    sender: list[str] = Field(default_factory=list, description="patterns one of which the sender must match")


class SectionTable(Strict):
    start: str
    end: str | None = None


class FieldTable(Strict):
    find: str
    in_: str | None = Field(default=None, alias="in")
    required: bool = False
    type: Literal["text", "datetime", "date", "amount", "int"] | None = None


class AddressTable(Strict):
    in_: str | None = Field(default=None, alias="in")
    name: str | None = None
    postal: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


class ItemsTable(Strict):
    in_: str | None = Field(default=None, alias="in")
    start: str | None = None
    split: str | None = None
    head: str | None = None
    sku: str | None = None
    name: str | None = None
    unit_price: str | None = None
    qty: str | None = None
    price: str | None = None
    option: str | None = None


class SpecFile(Strict):
    """One cart's order mail, as the file states it."""
    cart: str | None = None
    title: str | None = None
    hook: str = ""
    none_values: list[str] = Field(default_factory=lambda: ["指定なし", "なし"])
    match: MatchTable
    sections: dict[str, SectionTable] = Field(default_factory=dict)
    field: dict[FieldName, FieldTable] = Field(default_factory=dict)
    address: dict[Literal["buyer", "ship_to"], AddressTable] = Field(default_factory=dict)
    items: ItemsTable
