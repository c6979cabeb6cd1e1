"""The read model: an order as one typed value, loaded by one function, printed in the CLI's stable JSON shape."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Iterator

from tsunagi.oms import status
from tsunagi.oms.orders import OrderError
from tsunagi.oms.records import Address
from tsunagi.oms.store import Tx

_ADDRESS_FIELDS = tuple(f.name for f in fields(Address))


@dataclass(frozen=True)
class ShippingPlan:
    """How the order ships, as shipplan decided it (carrier, the carrier's service, prepaid or cod, slot)."""
    carrier: str = ""
    delivery: str = ""
    payment: str = ""
    time: str = ""
    cool: str = ""          # no plan sets it yet; the label layouts' cool tables read "" as normal

    def as_dict(self) -> dict:
        out = {"carrier": self.carrier, "delivery": self.delivery, "payment": self.payment, "time": self.time}
        if self.cool:       # only a plan that has one stored it: the JSON shape stays as it was
            out["cool"] = self.cool
        return out


_PLAN_FIELDS = tuple(f.name for f in fields(ShippingPlan))


@dataclass(frozen=True)
class Line:
    """One order line; sku is the stocked product it resolved to (None while unknown)."""
    sku: str | None
    channel_sku: str
    name: str
    options: tuple[str, ...]
    qty: int
    unit_price: int
    recipient: int = 1      # 1: the order's ship_to; 2…: its more_ship_to

    def as_dict(self) -> dict:
        return {"sku": self.sku, "channel_sku": self.channel_sku, "name": self.name, "options": list(self.options),
                "qty": self.qty, "unit_price": self.unit_price}


@dataclass(frozen=True)
class Reservation:
    """Units of a SKU held for the order at one location and lot."""
    sku: str
    location: str
    lot: str
    qty: int

    def as_dict(self) -> dict:
        return {"sku": self.sku, "location": self.location, "lot": self.lot, "qty": self.qty}


@dataclass(frozen=True)
class Shipment:
    """A parcel (or warehouse instruction) the order is in; tracking is its comma-separated numbers."""
    key: str
    carrier: str
    state: str
    location: str
    tracking: str
    ship_date: str
    file: str
    recipient: int = 0      # the recipient this parcel goes to (0: the order's only one)

    def as_dict(self) -> dict:
        out = {"key": self.key, "carrier": self.carrier, "state": self.state, "location": self.location,
               "tracking": self.tracking, "ship_date": self.ship_date, "file": self.file}
        if self.recipient:      # only an order with several recipients names them: the JSON shape stays
            out["recipient"] = self.recipient
        return out


@dataclass(frozen=True)
class WarehouseState:
    """Where a warehouse (WMS) is with the order."""
    wms: str
    state: str
    updated_at: str

    def as_dict(self) -> dict:
        return {"wms": self.wms, "state": self.state, "updated_at": self.updated_at}


@dataclass(frozen=True)
class HistoryEntry:
    """One status change (or correction, from and to the same status) with its note."""
    at: str
    from_status: str
    to_status: str
    note: str

    def as_dict(self) -> dict:
        return {"at": self.at, "from": self.from_status, "to": self.to_status, "note": self.note}


@dataclass(frozen=True)
class Order:
    """An order as the rest of tsunagi reads it; history is None unless it was asked for."""
    id: int
    shop: str
    order_no: str
    status: str
    hold_kind: str
    hold_reason: str
    ordered_at: datetime
    buyer: Address
    ship_to: Address
    payment_method: str
    delivery_method: str
    requested_date: date | None
    requested_time: str
    shipping_fee: int
    cod_fee: int
    discount: int
    total: int
    source: str
    mail_at: str | None
    csv_at: str | None
    shipping: ShippingPlan | None
    channel_status: str
    lines: tuple[Line, ...]
    reserved: tuple[Reservation, ...]
    shipments: tuple[Shipment, ...]
    warehouse: tuple[WarehouseState, ...]
    history: tuple[HistoryEntry, ...] | None = None
    more_ship_to: tuple[Address, ...] = ()      # recipients 2, 3, … (複数送付先)

    @property
    def status_label(self) -> str:
        return status.label(self.status)

    @property
    def recipient(self) -> Address:
        """Who the parcel goes to: the recipient, or the buyer where the order names none."""
        return self.ship_to if self.ship_to.name else self.buyer

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Recipients 1, 2, …: the recipient, then the order's more_ship_to."""
        return (self.recipient, *self.more_ship_to)

    def recipient_of(self, n: int = 0) -> Address:
        """Recipient n (1 is the order's recipient); n 0: the one recipient the order's lines go to, if one."""
        if not n:
            used = {line.recipient for line in self.lines}
            n = used.pop() if len(used) == 1 else 1
        return self.recipients[n - 1] if 1 <= n <= len(self.recipients) else self.recipient

    def as_dict(self) -> dict:
        """The stable JSON shape `tsunagi order --json` prints (keys in this order; tests pin them)."""
        out = {"shop": self.shop, "order_no": self.order_no, "status": self.status,
               "status_label": self.status_label, "ordered_at": self.ordered_at.isoformat(),
               "buyer": dict(vars(self.buyer)), "ship_to": dict(vars(self.ship_to)),
               **({"more_ship_to": [dict(vars(a)) for a in self.more_ship_to]} if self.more_ship_to else {}),
               "payment_method": self.payment_method, "delivery_method": self.delivery_method,
               "requested_date": self.requested_date.isoformat() if self.requested_date else None,
               "requested_time": self.requested_time, "shipping_fee": self.shipping_fee, "cod_fee": self.cod_fee,
               "discount": self.discount, "total": self.total, "source": self.source,
               "hold_reason": self.hold_reason, "hold_kind": self.hold_kind, "mail_at": self.mail_at,
               "csv_at": self.csv_at, "shipping": self.shipping.as_dict() if self.shipping else {},
               "channel_status": self.channel_status, "lines": [self._line(x) for x in self.lines],
               "reserved": [x.as_dict() for x in self.reserved], "shipments": [x.as_dict() for x in self.shipments],
               "warehouse": [x.as_dict() for x in self.warehouse]}
        if self.history is not None:
            out["history"] = [x.as_dict() for x in self.history]
        return out

    def _line(self, line: Line) -> dict:
        """A line as the JSON shows it: with its recipient where the order has several."""
        return line.as_dict() | ({"recipient": line.recipient} if self.more_ship_to else {})


def load_order(tx: Tx, order_id: int, history: bool = False) -> Order:
    """The order with its lines, reservations, shipments and warehouse state (and history if asked)."""
    return next(each_order(tx, [order_id], history))


CHUNK = 500      # orders read together: a few statements a chunk instead of a few an order


def each_order(tx: Tx, order_ids: list[int], history: bool = False) -> Iterator[Order]:
    """The orders with these ids, in this order (an id given twice comes twice), read a chunk at a time
    so that a writer of thousands (a label file) neither asks per order nor holds them all."""
    for n in range(0, len(order_ids), CHUNK):
        part = order_ids[n:n + CHUNK]
        found = _load_chunk(tx, list(dict.fromkeys(part)), history)
        for order_id in part:
            if order_id not in found:
                raise OrderError(f"no order with id {order_id}")
            yield found[order_id]


def _load_chunk(tx: Tx, ids: list[int], history: bool) -> dict[int, Order]:
    marks = ",".join("?" * len(ids))
    lines = _grouped(tx, "SELECT order_id, sku, channel_sku, name, options, qty, unit_price, recipient FROM order_lines "
                         f"WHERE order_id IN ({marks}) ORDER BY order_id, line_no", ids,
                     lambda r: Line(r[0] or None, r[1], r[2], _options(r[3]), r[4], r[5], r[6]))
    reserved = _grouped(tx, "SELECT order_id, sku, location, lot, qty FROM reservations "
                            f"WHERE order_id IN ({marks}) ORDER BY order_id, sku, location, lot", ids,
                        lambda r: Reservation(*r))
    shipments = _grouped(tx, "SELECT so.order_id, s.key, s.carrier, s.state, s.location, s.tracking, s.ship_date, "
                             "s.file, s.recipient FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
                             f"WHERE so.order_id IN ({marks}) ORDER BY so.order_id, s.key", ids,
                         lambda r: Shipment(*r))
    warehouse = _grouped(tx, "SELECT order_id, wms, state, updated_at FROM wms_orders "
                             f"WHERE order_id IN ({marks}) ORDER BY order_id, wms", ids, lambda r: WarehouseState(*r))
    changes = _grouped(tx, "SELECT order_id, at, from_status, to_status, note FROM order_history "
                           f"WHERE order_id IN ({marks}) ORDER BY order_id, id", ids,
                       lambda r: HistoryEntry(*r)) if history else None
    out = {}
    for row in tx.all("SELECT id, shop, order_no, status, hold_kind, hold_reason, ordered_at, total, source, data, "
                      f"mail_at, csv_at FROM orders WHERE id IN ({marks})", *ids):
        i = row[0]
        out[i] = _order(row, lines.get(i, ()), reserved.get(i, ()), shipments.get(i, ()), warehouse.get(i, ()),
                        changes.get(i, ()) if changes is not None else None)
    return out


def _grouped(tx: Tx, sql: str, ids: list[int], make) -> dict[int, tuple]:
    """Rows whose first column is the order id, made into values and grouped by it (in the query's order)."""
    out: dict[int, list] = {}
    for r in tx.all(sql, *ids):
        out.setdefault(r[0], []).append(make(r[1:]))
    return {k: tuple(v) for k, v in out.items()}


def _order(row: tuple, lines, reserved, shipments, warehouse, history) -> Order:
    order_id, shop, order_no, code, hold_kind, hold_reason, ordered_at, total, source, data, mail_at, csv_at = row
    data = json.loads(data)
    requested = data.get("requested_date")
    return Order(
        id=order_id, shop=shop, order_no=order_no, status=code, hold_kind=hold_kind, hold_reason=hold_reason,
        ordered_at=datetime.fromisoformat(ordered_at), buyer=_address(data.get("buyer")),
        ship_to=_address(data.get("ship_to")), payment_method=data.get("payment_method", ""),
        delivery_method=data.get("delivery_method", ""),
        requested_date=date.fromisoformat(requested) if requested else None,
        requested_time=data.get("requested_time", ""), shipping_fee=data.get("shipping_fee", 0),
        cod_fee=data.get("cod_fee", 0), discount=data.get("discount", 0), total=total, source=source,
        mail_at=mail_at, csv_at=csv_at, shipping=_plan(data.get("shipping")),
        channel_status=data.get("channel_status", ""), lines=lines, reserved=reserved, shipments=shipments,
        warehouse=warehouse, history=history,
        more_ship_to=tuple(_address(a) for a in data["more_ship_to"]) if "more_ship_to" in data else ())


# A label file reads thousands of orders: the common cases below skip the general (slower) path.

def _options(stored: str) -> tuple[str, ...]:
    return () if stored == "[]" else tuple(json.loads(stored))


def _address(stored: dict | None) -> Address:
    try:
        return Address(**stored)       # stored from Address itself, so it has its fields
    except TypeError:                  # missing, or with a key the model does not have: that is left out
        return Address(**{k: v for k, v in (stored or {}).items() if k in _ADDRESS_FIELDS})


def _plan(stored: dict | None) -> ShippingPlan | None:
    if not stored:
        return None
    try:
        return ShippingPlan(**stored)
    except TypeError:
        return ShippingPlan(**{k: v for k, v in stored.items() if k in _PLAN_FIELDS})
