"""Payments: 入金待ち orders confirmed by hand or by a payment file's rows, and the payments nothing matched."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tsunagi.common.clock import timestamp
from tsunagi.common.kana import payer_key
from tsunagi.oms import cancel, status
from tsunagi.oms.orders import OrderError, by_whom, set_status
from tsunagi.oms.records import PaymentRecord
from tsunagi.oms.shipping import after_payment
from tsunagi.oms.store import Tx

# confirmed: paid an order in full; partial: less than it owes (it waits on); over: more (confirmed, to refund);
# unmatched: no order; ambiguous: several orders fit (none confirmed)
LISTED = ("partial", "over", "unmatched", "ambiguous")
RETRIED = "('unmatched', 'ambiguous')"      # a payment seen again in these states is matched again
# where a payer may write an order number: letters, digits and hyphens, as banks print them
_TOKEN = re.compile(r"[0-9A-Z][0-9A-Z-]{3,}")


class PaymentError(OrderError):
    """A confirmation the order's state or the amount does not allow."""


@dataclass(frozen=True)
class Outcome:
    row: int
    state: str
    message: str


def _number_key(text: str) -> str:
    """An order number as a payer may write it: no hyphens, spaces or marks (str methods: 100,000 a file)."""
    return text.upper().replace("-", "").replace(" ", "").replace("#", "").replace("_", "")


def owed(tx: Tx, order_id: int) -> int:
    """What the order still owes: its total less the partial payments recorded for it."""
    total = tx.value("SELECT total FROM orders WHERE id = ?", order_id)
    return total - tx.value("SELECT COALESCE(SUM(amount), 0) FROM payments WHERE order_id = ? AND state = 'partial'",
                            order_id)


def confirm(tx: Tx, order_id: int, amount: int | None = None, paid_on: date | None = None, by: str = "",
            source: str = "manual") -> str:
    """Confirm a 入金待ち order's payment (the whole amount unless told): it goes on to 印刷待ち with the plan
    it already has. Refused, changing nothing, for an order not in 入金待ち or an amount short of what it owes."""
    current, order_no = tx.one("SELECT status, order_no FROM orders WHERE id = ?", order_id)
    if current != status.PAYMENT:
        raise PaymentError(f"{order_no} は入金待ちではありません (現在: {status.label(current)})")
    due = owed(tx, order_id)
    amount = due if amount is None else amount
    if amount < due:
        raise PaymentError(f"{order_no}: 入金額 {amount:,}円 は請求額 {due:,}円 に足りません")
    key = f"{source}:{order_id}:{timestamp()}"
    _record(tx, key, PaymentRecord(0, paid_on, amount), "over" if amount > due else "confirmed", order_id,
            f"過入金 {amount - due:,}円" if amount > due else "", source, by)
    _paid(tx, order_id, amount, paid_on, by, source)
    return tx.value("SELECT status FROM orders WHERE id = ?", order_id)


def _paid(tx: Tx, order_id: int, amount: int, paid_on: date | None, by: str, source: str,
          had_partial: bool = True) -> None:
    paid = {"amount": amount, "date": paid_on.isoformat() if paid_on else "", "source": source, "by": by}
    tx.run("UPDATE orders SET data = json_set(data, '$.paid', json(?)), updated_at = ? WHERE id = ?",
           json.dumps(paid, ensure_ascii=False), timestamp(), order_id)
    if had_partial:
        tx.run("UPDATE payments SET state = 'confirmed' WHERE order_id = ? AND state = 'partial'", order_id)
    on = f" ({paid_on.isoformat()})" if paid_on else ""
    plan = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id)).get("shipping") or {}
    set_status(tx, order_id, after_payment(plan), note=f"入金確認 {amount:,}円{on} {source}{by_whom(by)}")


def _record(tx: Tx, key: str, rec: PaymentRecord, state: str, order_id: int | None, note: str, source: str,
            by: str, shop: str | None = None) -> bool:
    if shop is None:
        shop = tx.value("SELECT shop FROM orders WHERE id = ?", order_id, default="") if order_id else ""
    cur = tx.run("INSERT INTO payments (key, order_id, shop, paid_on, amount, payer, reference, state, note, source, "
                 "recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                 "order_id = excluded.order_id, shop = excluded.shop, state = excluded.state, note = excluded.note, "
                 "recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by "
                 f"WHERE payments.state IN {RETRIED}",
                 key, order_id, shop, rec.paid_on.isoformat() if rec.paid_on else "", rec.amount, rec.payer,
                 rec.reference, state, note, source, timestamp(), by)
    return cur.rowcount == 1


class _Open:
    """The 入金待ち orders, indexed once a file: by order number and by (amount owed, payer kana)."""

    def __init__(self, tx: Tx, amounts: set[int]):
        self.by_number: dict[str, int] = {}
        self.by_name: dict[tuple[int, str], list[int]] = defaultdict(list)
        self.owed: dict[int, int] = {}
        self.number: dict[int, str] = {}
        self.shop: dict[int, str] = {}
        self.kana: dict[int, str] = {}
        partial = dict(tx.all("SELECT order_id, SUM(amount) FROM payments WHERE state = 'partial' "
                              "GROUP BY order_id"))
        self.partial = set(partial)
        # the buyer's kana is read (and folded) only where the amount owed can match a payment of the file
        for order_id, shop, order_no, total, kana in tx.all(
                "SELECT id, shop, order_no, total, CASE WHEN total IN (SELECT value FROM json_each(?)) "
                "OR id IN (SELECT order_id FROM payments WHERE state = 'partial') "
                "THEN json_extract(data, '$.buyer.kana') END FROM orders WHERE status = ?",
                json.dumps(sorted(amounts)), status.PAYMENT):
            self.number[order_id], self.shop[order_id] = order_no, shop
            self.by_number.setdefault(_number_key(order_no), order_id)
            self.kana[order_id] = payer_key(kana) if kana else ""
            self._owe(order_id, total - partial.get(order_id, 0))

    def _owe(self, order_id: int, amount: int) -> None:
        if order_id in self.owed:
            self._unname(order_id)
        self.owed[order_id] = amount
        if self.kana[order_id]:
            self.by_name[(amount, self.kana[order_id])].append(order_id)

    def _unname(self, order_id: int) -> None:
        ids = self.by_name.get((self.owed.get(order_id), self.kana[order_id]))
        if ids and order_id in ids:
            ids.remove(order_id)

    def find_number(self, text: str) -> int | None:
        for token in _TOKEN.findall(text):
            found = self.by_number.get(_number_key(token))
            if found is not None:
                return found
        return None

    def paid_part(self, order_id: int, amount: int) -> None:
        self._owe(order_id, self.owed[order_id] - amount)

    def drop(self, order_id: int) -> None:
        """A confirmed order matches no later payment."""
        self.by_number.pop(_number_key(self.number[order_id]), None)
        self._unname(order_id)


def apply_file(tx: Tx, records: list[PaymentRecord], source: str, by: str = "") -> list[Outcome]:
    """Match each payment to a 入金待ち order: the order number in the payer's name or reference, else the
    exact amount owed and the payer's kana; a payment seen before (same date, amount, payer, reference and
    occurrence) is skipped, unless it matched no order or several then: it is tried again (its order may have
    arrived since, or been paid another way). Returns one outcome a row."""
    open_ = _Open(tx, {rec.amount for rec in records})
    seen: Counter = Counter()
    keys = []
    for rec in records:
        content = f"{rec.paid_on}|{rec.amount}|{rec.payer}|{rec.reference}"
        seen[content] += 1
        keys.append("file:" + hashlib.sha256(f"{content}|{seen[content]}".encode()).hexdigest())
    known = {k for (k,) in tx.all("SELECT key FROM payments WHERE key IN (SELECT value FROM json_each(?)) "
                                  f"AND state NOT IN {RETRIED}", json.dumps(keys))}
    return [Outcome(rec.row, "seen", "取り込み済みの入金です") if key in known else _match(tx, open_, rec, key, source, by)
            for rec, key in zip(records, keys)]


def _match(tx: Tx, open_: _Open, rec: PaymentRecord, key: str, source: str, by: str) -> Outcome:
    text = unicodedata.normalize("NFKC", f"{rec.payer} {rec.reference}").upper()
    order_id = open_.find_number(text)
    if order_id is None:
        name = payer_key(_TOKEN.sub("", unicodedata.normalize("NFKC", rec.payer).upper()))
        found = open_.by_name.get((rec.amount, name), []) if name else []
        if len(found) > 1:
            both = ", ".join(open_.number[i] for i in found)
            _record(tx, key, rec, "ambiguous", None, f"金額と名義が複数の注文に一致: {both}", source, by)
            return Outcome(rec.row, "ambiguous", f"{rec.amount:,}円 {rec.payer}: 複数の注文に一致するため消し込みません ({both})")
        if not found:
            _record(tx, key, rec, "unmatched", None, "", source, by)
            return Outcome(rec.row, "unmatched", f"{rec.amount:,}円 {rec.payer}: 一致する入金待ちの注文がありません")
        order_id = found[0]
    order_no, due = open_.number[order_id], open_.owed[order_id]
    if rec.amount < due:
        _record(tx, key, rec, "partial", order_id, f"不足 {due - rec.amount:,}円", source, by, open_.shop[order_id])
        open_.paid_part(order_id, rec.amount)
        open_.partial.add(order_id)
        return Outcome(rec.row, "partial", f"{order_no}: 一部入金 {rec.amount:,}円 (残り {due - rec.amount:,}円)")
    state = "over" if rec.amount > due else "confirmed"
    _record(tx, key, rec, state, order_id, f"過入金 {rec.amount - due:,}円" if state == "over" else "", source, by,
            open_.shop[order_id])
    _paid(tx, order_id, rec.amount, rec.paid_on, by, source, had_partial=order_id in open_.partial)
    open_.drop(order_id)
    extra = f" (過入金 {rec.amount - due:,}円)" if state == "over" else ""
    return Outcome(rec.row, state, f"{order_no}: 入金確認 {rec.amount:,}円{extra}")


class _Waiting:
    """The payments no order took when they came (unmatched, ambiguous), indexed once a transaction: by the
    order numbers their text may hold, and by (amount, payer kana)."""

    def __init__(self, tx: Tx):
        self.by_number: dict[str, list[tuple]] = defaultdict(list)
        self.by_name: dict[tuple[int, str], list[tuple]] = defaultdict(list)
        for row in tx.all(f"SELECT id, paid_on, amount, payer, reference, source FROM payments "
                          f"WHERE state IN {RETRIED} ORDER BY paid_on, id"):
            _, _, amount, payer, reference, _ = row
            for token in _TOKEN.findall(unicodedata.normalize("NFKC", f"{payer} {reference}").upper()):
                self.by_number[_number_key(token)].append(row)
            name = payer_key(_TOKEN.sub("", unicodedata.normalize("NFKC", payer).upper()))
            if name:
                self.by_name[(amount, name)].append(row)

    def take(self, row: tuple) -> None:
        for rows in (*self.by_number.values(), *self.by_name.values()):
            if row in rows:
                rows.remove(row)


def match_arrived(tx: Tx, order_id: int) -> str:
    """An order that has just entered 入金待ち takes a payment that came before it waited (held for review, say, or
    not yet imported), as a payment file's row would have matched it: the order number in the payer's name or
    reference, else the exact amount owed and the payer's kana (unless another 入金待ち order fits them too).
    Returns the order's status (印刷待ち or 印刷日待ち once paid in full)."""
    if "waiting_payments" not in tx.memo:
        tx.memo["waiting_payments"] = _Waiting(tx) if tx.one(
            f"SELECT 1 FROM payments WHERE state IN {RETRIED} LIMIT 1") else None
    waiting = tx.memo["waiting_payments"]
    if waiting is None:
        return status.PAYMENT
    order_no, kana = tx.one("SELECT order_no, json_extract(data, '$.buyer.kana') FROM orders WHERE id = ?", order_id)
    due = owed(tx, order_id)
    found = waiting.by_number.get(_number_key(order_no)) or []
    if not found and kana:
        found = waiting.by_name.get((due, payer_key(kana))) or []
        others = found and [i for i, k in tx.all(      # asked only when a payment fits by name
            "SELECT id, json_extract(data, '$.buyer.kana') FROM orders WHERE status = ? AND total = ? AND id <> ?",
            status.PAYMENT, due, order_id) if k and payer_key(k) == payer_key(kana)]
        if others:
            return status.PAYMENT           # the payment fits several orders: a person decides
    if not found:
        return status.PAYMENT
    payment_id, paid_on, amount, _, _, source = row = found[0]
    waiting.take(row)
    state = "partial" if amount < due else "over" if amount > due else "confirmed"
    note = {"partial": f"不足 {due - amount:,}円", "over": f"過入金 {amount - due:,}円"}.get(state, "")
    shop = tx.value("SELECT shop FROM orders WHERE id = ?", order_id)
    tx.run("UPDATE payments SET order_id = ?, shop = ?, state = ?, note = ? WHERE id = ?", order_id, shop, state,
           note + " (注文が入金待ちになった時に照合)", payment_id)
    if state == "partial":
        return match_arrived(tx, order_id)      # another payment may make up the rest
    _paid(tx, order_id, amount, date.fromisoformat(paid_on) if paid_on else None, "", f"{source} (先に届いた入金)")
    return tx.value("SELECT status FROM orders WHERE id = ?", order_id)


def unmatched(tx: Tx) -> list[dict]:
    """Payments a person must look at: partial, over, unmatched and ambiguous, oldest first."""
    rows = tx.all("SELECT p.paid_on, p.amount, p.payer, p.reference, p.state, p.note, p.source, COALESCE(o.shop, ''), "
                  "COALESCE(o.order_no, '') FROM payments p LEFT JOIN orders o ON o.id = p.order_id "
                  f"WHERE p.state IN ({','.join('?' * len(LISTED))}) ORDER BY p.paid_on, p.id", *LISTED)
    keys = ("paid_on", "amount", "payer", "reference", "state", "note", "source", "shop", "order_no")
    return [dict(zip(keys, r)) for r in rows]


def cancel_unpaid(tx: Tx, days_by_shop: dict[str, int], now: datetime) -> list[str]:
    """Cancel 入金待ち orders of these shops unpaid for their number of days since they entered it."""
    done = []
    for order_id, shop, order_no, since in tx.all(
            "SELECT o.id, o.shop, o.order_no, MAX(h.at) FROM orders o JOIN order_history h ON h.order_id = o.id "
            "AND h.to_status = ? AND h.from_status <> ? WHERE o.status = ? GROUP BY o.id ORDER BY o.id",
            status.PAYMENT, status.PAYMENT, status.PAYMENT):
        days = days_by_shop.get(shop, 0)
        if days and datetime.fromisoformat(since) + timedelta(days=days) <= now:
            cancel.cancel_order(tx, order_id, by="tsunagi", reason=f"入金待ちのまま {days} 日を過ぎたため自動キャンセル "
                                                                  f"(shipping.unpaid_cancel_days)")
            done.append(f"{shop} {order_no}")
    return done
