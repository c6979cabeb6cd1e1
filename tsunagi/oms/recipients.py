"""Several recipients in one order (複数送付先): the order's ship-to addresses, and which of them each line goes to.

Recipient 1 is the order's ship_to (the buyer where it names none); 2, 3, … are kept in the order's data as
more_ship_to. Every line names its recipient; each recipient its lines go to is a parcel of its own."""
from __future__ import annotations

import json

from tsunagi.common import japanese as jp
from tsunagi.common.clock import timestamp
from tsunagi.oms import allocate, status, voids
from tsunagi.oms.editlines import Changed, check_open
from tsunagi.oms.orders import EDITED, OrderError, by_whom, note_history, set_status
from tsunagi.oms.records import OrderRecord
from tsunagi.oms.store import Tx

PARTS = ("name", "postal_code", "prefecture", "address", "phone", "email", "kana")
NEEDED = ("name", "address")


def _data(tx: Tx, order_id: int) -> dict:
    return json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))


def addresses(data: dict) -> list[dict]:
    """Recipients 1… of an order's data: the ship_to (or the buyer where it names none), then more_ship_to."""
    first = data.get("ship_to") or {}
    return [first if first.get("name") else (data.get("buyer") or {}), *(data.get("more_ship_to") or [])]


def used(tx: Tx, order_id: int) -> list[int]:
    """The recipients the order's lines go to, in order: one parcel each."""
    return [r[0] for r in tx.all("SELECT DISTINCT recipient FROM order_lines WHERE order_id = ? ORDER BY recipient",
                                 order_id)]


def line_recipients(tx: Tx, order_id: int) -> list[int]:
    """Each line's recipient, in line order (line n is item n - 1)."""
    return [r[0] for r in tx.all("SELECT recipient FROM order_lines WHERE order_id = ? ORDER BY line_no", order_id)]


def hold_from_warehouse(tx: Tx, wms: str, order_id: int) -> str:
    """An order whose lines go to several recipients is held before a warehouse is told to ship it (an instruction
    carries one address); why, or "" when it goes to one. Split by recipient (order-split), then release."""
    count = len(used(tx, order_id))
    if count < 2:
        return ""
    why = (f"送付先が{count}件あります: 倉庫 {wms} の出荷指示は1件につき1送付先です (tsunagi order-split SHOP ORDER_NO "
           f"--lines … で送付先ごとに分けると保留は自動で解除。明細を1つの送付先にまとめたなら tsunagi order-release)")
    set_status(tx, order_id, status.HOLD, hold_kind="recipients", note=why)
    return why


def _check_changeable(tx: Tx, order_id: int) -> None:
    check_open(tx, order_id, "given other recipients")
    wms = allocate.warehouse_has(tx, order_id)
    if wms:
        raise OrderError(f"倉庫 {wms} に出荷を指示済みのため送付先を変更できません (倉庫の出荷またはキャンセルの報告を"
                         f"待つか、tsunagi order-cancel で取り消してください)")


def _address(values: dict[str, str], base: dict | None = None) -> dict:
    """An address from an operator's name=… postal_code=… values, cleaned as the edges clean them."""
    unknown = sorted(set(values) - set(PARTS))
    if unknown:
        raise OrderError(f"unknown field {unknown[0]} (a recipient has {', '.join(PARTS)})")
    out = {part: "" for part in PARTS} | dict(base or {}) | {k: v.strip() for k, v in values.items()}
    try:
        out["postal_code"] = jp.postal_code(out["postal_code"]) if out["postal_code"] else ""
    except jp.ValueProblem as exc:
        raise OrderError(f"postal_code {values.get('postal_code', '')!r}: {exc}") from None
    out["phone"] = jp.phone(out["phone"]) if out["phone"] else ""
    if out["address"] and not out["prefecture"]:
        out["prefecture"], out["address"] = jp.split_prefecture(out["address"])
    missing = [part for part in NEEDED if not out[part]]
    if missing:
        raise OrderError(f"a recipient needs {' and '.join(missing)} (e.g. name=\"高橋 花子\" "
                         f"postal_code=150-0001 address=\"東京都渋谷区神宮前1-1-1\")")
    return out


def _line_numbers(tx: Tx, order_id: int, line_nos: list[int]) -> list[int]:
    count = tx.value("SELECT COUNT(*) FROM order_lines WHERE order_id = ?", order_id)
    for n in line_nos:
        if not 1 <= n <= count:
            raise OrderError(f"the order has no line {n} (its lines are 1–{count}: see tsunagi order SHOP ORDER_NO)")
    return line_nos


def _save(tx: Tx, order_id: int, data: dict) -> None:
    if not data.get("more_ship_to"):
        data.pop("more_ship_to", None)
    tx.run("UPDATE orders SET data = ?, updated_at = ? WHERE id = ?", json.dumps(data, ensure_ascii=False),
           timestamp(), order_id)


def _changed(tx: Tx, order_id: int, note: str, by: str) -> Changed:
    """A written label no longer fits: voided (the next export writes a parcel per recipient); told in history."""
    voided = voids.void_labels(tx, order_id, "送付先の変更")
    note_history(tx, order_id, EDITED + note + by_whom(by))      # a label_chars hold is placed again after it
    current, total = tx.one("SELECT status, total FROM orders WHERE id = ?", order_id)
    return Changed(current, total, voided)


def _assign(tx: Tx, order_id: int, line_nos: list[int], n: int) -> None:
    tx.many("UPDATE order_lines SET recipient = ? WHERE order_id = ? AND line_no = ?",
            [(n, order_id, line_no) for line_no in line_nos])


def add(tx: Tx, order_id: int, values: dict[str, str], line_nos: list[int], by: str = "") -> tuple[int, Changed]:
    """A new recipient (the next number), optionally taking these lines. Returns its number."""
    _check_changeable(tx, order_id)
    _line_numbers(tx, order_id, line_nos)
    data = _data(tx, order_id)
    address = _address(values)
    data.setdefault("more_ship_to", []).append(address)
    n = len(addresses(data))
    _save(tx, order_id, data)
    _assign(tx, order_id, line_nos, n)
    lines = f" 明細 {', '.join(map(str, line_nos))} をこの送付先へ" if line_nos else ""
    return n, _changed(tx, order_id, f"送付先{n}を追加: {address['name']} 〒{address['postal_code']} "
                                     f"{address['prefecture']}{address['address']}{lines}", by)


def assign(tx: Tx, order_id: int, pairs: dict[int, int], by: str = "") -> Changed:
    """Lines to recipients: {line number: recipient number}."""
    _check_changeable(tx, order_id)
    _line_numbers(tx, order_id, list(pairs))
    count = len(addresses(_data(tx, order_id)))
    for line_no, n in pairs.items():
        if not 1 <= n <= count:
            raise OrderError(f"the order has no recipient {n} (its recipients are 1–{count}: add one with "
                             f"tsunagi order-ship-to SHOP ORDER_NO add name=… address=…)")
    before = line_recipients(tx, order_id)
    if all(before[line_no - 1] == n for line_no, n in pairs.items()):
        raise OrderError("every line named already goes to that recipient: nothing to change")
    for line_no, n in pairs.items():
        _assign(tx, order_id, [line_no], n)
    shown = ", ".join(f"明細{line_no}→送付先{n}" for line_no, n in sorted(pairs.items()))
    return _changed(tx, order_id, f"送付先の割当: {shown}", by)


def _more(tx: Tx, order_id: int, n: int, or_else: str = "") -> dict:
    """The order's data, once it may be changed and has a recipient n of its more_ship_to (2 or more)."""
    _check_changeable(tx, order_id)
    data = _data(tx, order_id)
    count = len(addresses(data))
    if n == 1:
        raise OrderError("recipient 1 is the order's own ship_to: correct it with tsunagi order-set SHOP ORDER_NO "
                         f"ship_to.name=…{or_else}")
    if not 2 <= n <= count:
        raise OrderError(f"the order has no recipient {n} (its recipients are 1–{count})")
    return data


def remove(tx: Tx, order_id: int, n: int, by: str = "") -> Changed:
    """Recipient n (2 or more) taken out: its lines go to recipient 1, later recipients move up one."""
    data = _more(tx, order_id, n, " (or assign its lines elsewhere)")
    gone = data["more_ship_to"].pop(n - 2)
    _save(tx, order_id, data)
    tx.run("UPDATE order_lines SET recipient = CASE WHEN recipient = ? THEN 1 WHEN recipient > ? THEN recipient - 1 "
           "ELSE recipient END WHERE order_id = ?", n, n, order_id)
    return _changed(tx, order_id, f"送付先{n} ({gone.get('name', '')}) を削除: その明細は送付先1へ", by)


def correct(tx: Tx, order_id: int, n: int, values: dict[str, str], by: str = "") -> Changed:
    """Recipient n's details corrected (recipient 1 is the ship_to: order-set corrects it)."""
    data = _more(tx, order_id, n)
    data["more_ship_to"][n - 2] = _address(values, data["more_ship_to"][n - 2])
    _save(tx, order_id, data)
    return _changed(tx, order_id, f"送付先{n}: " + ", ".join(f"{k}={v}" for k, v in values.items()), by)


def from_record(tx: Tx, order_id: int, rec: OrderRecord) -> bool:
    """A later copy of the order (its CSV after its mail) that names several recipients assigns the lines
    to them, as long as no line has a recipient other than 1 yet (a person's assignment stands) and the
    order's recipients are the copy's. Lines are matched by code and quantity, in order. Whether it did."""
    if not rec.more_ship_to:
        return False
    if any(n != 1 for n in line_recipients(tx, order_id)):
        return False
    if _data(tx, order_id).get("more_ship_to") != [dict(a.__dict__) for a in rec.more_ship_to]:
        return False
    taken: set[int] = set()
    rows = tx.all("SELECT line_no, channel_sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", order_id)
    for line in rec.lines:
        match = next((no for no, code, qty in rows if no not in taken and (code, qty) == (line.channel_sku, line.qty)),
                     None)
        if match is not None:
            taken.add(match)
            _assign(tx, order_id, [match], line.recipient)
    voids.void_labels(tx, order_id, "送付先の変更")
    note_history(tx, order_id, f"受注CSVの送付先 {len(rec.more_ship_to) + 1}件で明細を割当")
    return True
