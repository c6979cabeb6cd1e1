"""Order statuses: English code names, Japanese labels for the operator."""
from __future__ import annotations

from tsunagi.common.errors import TsunagiError

NEW = "new"
CONFIRM = "confirm"
PAYMENT = "payment"
AWAITING_STOCK = "awaiting_stock"
WAITING_DATE = "waiting_date"
READY = "ready"
SHIPPED = "shipped"
CLOSED = "closed"
CANCELLED = "cancelled"
HOLD = "hold"

LABELS = {
    NEW: "新規受付",
    CONFIRM: "確認待ち",
    PAYMENT: "入金待ち",
    AWAITING_STOCK: "引当待ち",
    WAITING_DATE: "印刷日待ち",
    READY: "印刷待ち",
    SHIPPED: "出荷確定済",
    CLOSED: "請求済",
    CANCELLED: "キャンセル",
    HOLD: "保留",
}

ALL = tuple(LABELS)

# Statuses whose lines hold a reservation on stock.
RESERVING = frozenset({NEW, CONFIRM, PAYMENT, WAITING_DATE, READY})
SHIPPED_OR_CLOSED = (SHIPPED, CLOSED)     # the parcel has left: shipped, or confirmed to the channel since


def label(code: str) -> str:
    return LABELS.get(code, code)


class UnknownStatus(TsunagiError, ValueError):
    """A status name that is neither a code name nor a label."""


def parse(text: str) -> str:
    """Accept a code name or its Japanese label; raise ValueError otherwise."""
    if text in LABELS:
        return text
    for code, lab in LABELS.items():
        if lab == text:
            return code
    raise UnknownStatus(f"unknown status {text!r}: use one of {', '.join(ALL)}")
