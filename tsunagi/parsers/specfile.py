"""The schema of a cart mail spec file (parsers/mail/<cart>.toml): which keys exist and what they hold."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tsunagi.common.schema import Strict

FieldName = Literal["order_no", "ordered_at", "payment_method", "delivery_method", "requested_date",
                    "requested_time", "shipping_fee", "cod_fee", "discount", "subtotal", "total", "note"]


def _listed(value):
    """label = "氏名" and label = ["氏名", "購入者名"] alike."""
    return [value] if isinstance(value, str) else value


class Label(Strict):
    """A label instead of a pattern: the line that begins with it, in any bracket, colon, spacing or synonym."""
    label: list[str] = Field(min_length=1, description="the label (or several); its synonyms come with it")

    @field_validator("label", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return _listed(value)


Pattern = str | Label


class MatchTable(Strict):
    subject: list[str] = Field(min_length=1, description="patterns one of which the subject must match")
    sender: list[str] = Field(default_factory=list, description="patterns one of which the sender must match")


class SectionTable(Strict):
    start: Pattern
    end: Pattern | None = None


class FieldTable(Strict):
    find: str | None = None
    label: list[str] | None = None
    in_: str | None = Field(default=None, alias="in")
    required: bool = False
    type: Literal["text", "datetime", "date", "amount", "int"] | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return _listed(value)

    @model_validator(mode="after")
    def _find_or_label(self) -> FieldTable:
        if (self.find is None) == (self.label is None):
            raise ValueError("give find (a pattern) or label, one of the two")
        return self


class AddressTable(Strict):
    in_: str | None = Field(default=None, alias="in")
    name: Pattern | None = None
    postal: Pattern | None = None
    address: Pattern | None = None
    phone: Pattern | None = None
    email: Pattern | None = None


class ItemsTable(Strict):
    in_: str | None = Field(default=None, alias="in")
    start: Pattern | None = None
    split: str | None = None
    head: str | None = None
    sku: Pattern | None = None
    name: Pattern | None = None
    unit_price: Pattern | None = None
    qty: Pattern | None = None
    price: str | None = None
    unit_x_qty: bool = False
    option: str | None = None


class SpecFile(Strict):
    """One cart's order mail, as the file states it."""
    cart: str | None = None
    title: str | None = None
    hook: str = ""
    # A mail that is not the whole order (Amazon's "ship now": no address, no prices): its order is made at once
    # (its stock reserved) and waits in 新規受付 for the order CSV, which completes its prices and total.
    waits_for: Literal["", "order_csv"] = ""
    # What the mail is: a whole order; one item of an order (Qoo10 mails each item: the mails of one order are its
    # lines); the order's new content (a change, adopted as the order's version); or its cancellation.
    kind: Literal["order", "item", "change", "cancel"] = "order"
    none_values: list[str] = Field(default_factory=lambda: ["指定なし", "なし"])
    synonyms: list[list[str]] = Field(default_factory=list)
    match: MatchTable
    sections: dict[str, SectionTable] = Field(default_factory=dict)
    field: dict[FieldName, FieldTable] = Field(default_factory=dict)
    address: dict[Literal["buyer", "ship_to"], AddressTable] = Field(default_factory=dict)
    items: ItemsTable
