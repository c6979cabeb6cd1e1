"""Record types: the domain's input language, produced by every parser and format."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Address:
    """A person and where they are; values already normalised at the edge."""
    name: str = ""
    postal_code: str = ""   # "NNN-NNNN"
    prefecture: str = ""    # 都道府県
    address: str = ""       # the rest, after the prefecture
    phone: str = ""
    email: str = ""
    kana: str = ""          # the name's reading (フリガナ), where the source gives it: bank payments match it


@dataclass(frozen=True)
class OrderLine:
    channel_sku: str
    name: str
    qty: int
    unit_price: int         # yen, tax included as the channel shows it
    options: tuple[str, ...] = ()
    recipient: int = 1      # whom the line ships to: 1 the order's ship_to, 2… its more_ship_to (複数送付先)


@dataclass(frozen=True)
class OrderRecord:
    shop: str
    order_no: str
    ordered_at: datetime     # timezone-aware, JST
    lines: tuple[OrderLine, ...]
    total: int
    buyer: Address = field(default_factory=Address)
    ship_to: Address = field(default_factory=Address)
    more_ship_to: tuple[Address, ...] = ()   # recipients 2, 3, … of an order with several (楽天's 複数送付先)
    payment_method: str = ""
    delivery_method: str = ""
    requested_date: date | None = None
    requested_time: str = ""
    shipping_fee: int = 0
    cod_fee: int = 0
    discount: int = 0        # coupons and points, as a positive number
    note: str = ""
    source: str = "mail"     # "mail" or "csv": how the order reached us
    channel_status: str = "" # the channel's own status where the source gives one; "cancelled" counts

    @property
    def lines_total(self) -> int:
        return sum(line.qty * line.unit_price for line in self.lines)


@dataclass(frozen=True)
class StockRecord:
    """An absolute count: this many of sku at location/lot, as counted at counted_at."""
    sku: str
    location: str
    lot: str
    qty: int
    counted_at: datetime | None = None    # when it was counted (a column, or the file's time); None: now


@dataclass(frozen=True)
class ChannelStockRecord:
    """A channel's own figure for one of its codes, as its stock download gives it."""
    channel_sku: str
    qty: int


@dataclass(frozen=True)
class ProductRecord:
    """A product, optionally a set of components, optionally with a channel code."""
    sku: str
    name: str
    components: tuple[tuple[str, int], ...] = ()   # (sku, qty) for a set
    channel_sku: str = ""
    shop: str = ""          # "" = the channel code holds for every shop
    tags: tuple[str, ...] = ()   # e.g. "wms" (warehouse-managed), "fragile" (packaging)


@dataclass(frozen=True)
class ShipmentResult:
    """What a carrier or warehouse reports for one of our shipments, keyed by お客様管理番号."""
    key: str
    tracking: tuple[str, ...] = ()
    ship_date: date | None = None
    state: str = "shipped"      # shipped; from a WMS also "in_process" or "cancelled"


@dataclass(frozen=True)
class PaymentRecord:
    """One incoming payment as a bank statement or a channel's settlement file lists it."""
    row: int                  # the file's line (or record) number, for messages
    paid_on: date | None
    amount: int               # yen
    payer: str = ""           # the payer's name as the bank prints it (kana)
    reference: str = ""       # 摘要, EDI information, the channel's order number: where an order number may be
