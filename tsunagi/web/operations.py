"""The order operations of the console, each the domain function its CLI command calls, with the user's name
for the order's history; then what follows a change (ready, mails, feeds) as after the command."""
from __future__ import annotations

from datetime import date

from tsunagi.common import clock
from tsunagi.oms import adopt, cancel, copies, editlines, merge, orders, payments, queries, returns, split, status, unship
from tsunagi.oms.outbound_tables import queue_mail
from tsunagi.outbound.mailtemplates import STAGE_LABELS, STAGES
from tsunagi.web.routing import Ctx, Refused


LARGEST = 10 ** 12       # past any count or yen amount of a shop; far inside what the store's integers hold


def whole(form: dict, key: str, what: str, default: int | None = None) -> int | None:
    """A whole number from the form, or the default when left empty; a refusal naming it otherwise."""
    text = str(form.get(key) or "").replace(",", "").strip()
    if not text:
        if default is None:
            raise Refused(f"{what}を入力してください")
        return default
    try:
        value = int(text)
    except ValueError:
        raise Refused(f"{what}は整数で入力してください ({text!r})") from None
    if abs(value) > LARGEST:
        raise Refused(f"{what}が大きすぎます (上限 {LARGEST:,})")
    return value


def _moved(ctx: Ctx, order_id: int, before: str, verb: str) -> str:
    shop, order_no = queries.order_ref(ctx.backend.store.read(), order_id)
    ctx.backend.after_change(shop)
    now = queries.order_status(ctx.backend.store.read(), order_id)
    return f"{order_no}: {verb} ({status.label(before)} → {status.label(now)})"


def _in_tx(ctx: Ctx, order_id: int, verb: str, change) -> str:
    """change(tx) in one transaction, then what follows it; the message says how the status moved."""
    with ctx.backend.store.transaction() as tx:
        before = queries.order_status(tx, order_id)
        extra = change(tx)
    message = _moved(ctx, order_id, before, verb)
    return f"{message} {extra}" if isinstance(extra, str) and extra else message


def release(ctx: Ctx, order_id: int, form: dict) -> str:
    return _in_tx(ctx, order_id, "保留を解除", lambda tx: orders.release(tx, order_id, ctx.user.name) and "")


def adopt_version(ctx: Ctx, order_id: int, form: dict) -> str:
    return _in_tx(ctx, order_id, "チャネルの内容を採用", lambda tx: adopt.adopt(tx, order_id, ctx.user.name) and "")


def cancel_order(ctx: Ctx, order_id: int, form: dict) -> str:
    reason = str(form.get("reason") or "")
    line = whole(form, "line", "明細番号", 0)
    if line:
        return _in_tx(ctx, order_id, f"明細 {line} をキャンセル",
                      lambda tx: _voided(cancel.cancel_line(tx, order_id, line, ctx.user.name, reason)))
    return _in_tx(ctx, order_id, "キャンセル", lambda tx: _voided(cancel.cancel_order(tx, order_id, ctx.user.name, reason)))


def _voided(changed) -> str:
    """What the operator must do about a change's written labels and warehouse, as the CLI says it."""
    notes = [f"送り状 {key} ({file}) を無効にしました: 印刷済みなら破棄してください" for key, file in changed.voided]
    if changed.warehouse:
        notes.append(f"倉庫 {changed.warehouse} にキャンセルを送ります")
    return " ".join(notes)


def edit_lines(ctx: Ctx, order_id: int, form: dict) -> str:
    by, kind = ctx.user.name, form.get("edit")
    if kind == "set":
        n, qty = whole(form, "line", "明細番号"), whole(form, "qty", "数量")
        price = whole(form, "price", "単価", -1)
        return _in_tx(ctx, order_id, f"明細 {n} を変更", lambda tx: _voided(
            editlines.set_line(tx, order_id, n, qty, None if price == -1 else price, by=by)))
    if kind == "add":
        code = str(form.get("sku") or "").strip()
        if not code:
            raise Refused("追加する商品コードを入力してください")
        qty, price = whole(form, "qty", "数量"), whole(form, "price", "単価")
        return _in_tx(ctx, order_id, f"明細 {code} を追加",
                      lambda tx: _voided(editlines.add_line(tx, order_id, code, qty, price, by=by)))
    if kind == "remove":
        n = whole(form, "line", "明細番号")
        return _in_tx(ctx, order_id, f"明細 {n} を削除", lambda tx: _voided(editlines.remove_line(tx, order_id, n, by=by)))
    raise Refused("set, add, remove のどれかを選んでください")


def split_order(ctx: Ctx, order_id: int, form: dict) -> str:
    numbers = [n for n in str(form.get("lines") or "").replace("、", ",").split(",") if n.strip()]
    lines = [whole({"n": n}, "n", "明細番号") for n in numbers]
    if not lines:
        raise Refused("分ける明細の番号を入力してください (例: 2,3)")
    shop = queries.order_ref(ctx.backend.store.read(), order_id)[0]
    made: list[str] = []

    def change(tx):
        new_no, changed = split.split(tx, order_id, lines, ctx.user.name, ctx.backend.split_refuses_sets(shop))
        made.append(new_no)
        return _voided(changed)
    return _in_tx(ctx, order_id, "分割", change) + f" 分割先: {made[0]}"


def merge_orders(ctx: Ctx, order_id: int, form: dict) -> str:
    shop = queries.order_ref(ctx.backend.store.read(), order_id)[0]
    others = [n.strip() for n in str(form.get("others") or "").replace("、", ",").split(",") if n.strip()]
    if not others:
        raise Refused("同梱する注文番号を入力してください")
    ids = []
    for no in others:
        found = queries.find_order(ctx.backend.store.read(), shop, no)
        if found is None:
            raise Refused(f"{no}: この店舗にその注文はありません")
        ids.append(found)
    return _in_tx(ctx, order_id, f"{', '.join(others)} を同梱",
                  lambda tx: _voided(merge.merge(tx, order_id, ids, ctx.user.name)))


def copy_order(ctx: Ctx, order_id: int, form: dict) -> str:
    with ctx.backend.store.transaction() as tx:
        new_no, _ = copies.copy_order(tx, order_id, ctx.user.name)
    shop = queries.order_ref(ctx.backend.store.read(), order_id)[0]
    ctx.backend.after_change(shop)
    return f"{new_no}: 再送用のコピーを作りました"


def unship_order(ctx: Ctx, order_id: int, form: dict) -> str:
    return _in_tx(ctx, order_id, "出荷を取消", lambda tx: "送り状 " + (", ".join(unship.unship(tx, order_id,
                                                                                       ctx.user.name)) or "-") + " を取消")


def return_order(ctx: Ctx, order_id: int, form: dict) -> str:
    line, qty = whole(form, "line", "明細番号", 0) or None, whole(form, "qty", "数量", -1)
    refund = whole(form, "refund", "返金額", 0)
    damaged = ctx.backend.damaged_location if form.get("damaged") else ""

    def change(tx):
        done = returns.take_back(tx, order_id, line, None if qty == -1 else qty, str(form.get("to") or ""), damaged,
                                 refund, ctx.user.name)
        return f"返品 {done.units} 点 → {done.location or '-'}" + (f" 返金累計 {done.refunded:,}円" if done.refunded else "")
    return _in_tx(ctx, order_id, "返品", change)


def confirm_payment(ctx: Ctx, order_id: int, form: dict) -> str:
    amount = whole(form, "amount", "金額", -1)
    text = str(form.get("paid_on") or "").strip()
    try:
        paid_on = date.fromisoformat(text) if text else clock.today()
    except ValueError:
        raise Refused(f"入金日 {text!r} は 2026-06-15 の形で入力してください") from None
    return _in_tx(ctx, order_id, "入金確認", lambda tx: payments.confirm(
        tx, order_id, None if amount == -1 else amount, paid_on, ctx.user.name) and "")


def resend_mail(ctx: Ctx, order_id: int, form: dict) -> str:
    stage = str(form.get("stage") or "")
    if stage not in STAGES:
        raise Refused(f"メールの種類 {stage!r} がありません")
    shop, order_no = queries.order_ref(ctx.backend.store.read(), order_id)
    if shop not in ctx.backend.mailing_shops:
        raise Refused(f"店舗 {shop} は購入者にメールを送りません ([shop.mail] がありません)")
    to = str(form.get("to") or "").strip()
    with ctx.backend.store.transaction() as tx:
        queue_mail(tx, order_id, shop, stage, clock.timestamp(), to_addr=to, resend=True)
        orders.note_history(tx, order_id, f"メール再送: {STAGE_LABELS[stage]}" + (f" ({to} へ)" if to else "")
                            + orders.by_whom(ctx.user.name))
    return f"{order_no}: {STAGE_LABELS[stage]}メールを再送します"


# name in the URL -> (label, operation); the order page shows a form for each
ORDER_OPERATIONS = {
    "release": ("保留解除", release), "adopt": ("チャネルの内容を採用", adopt_version), "cancel": ("キャンセル", cancel_order),
    "lines": ("明細の変更", edit_lines), "split": ("分割", split_order), "merge": ("同梱", merge_orders),
    "copy": ("コピー (再送用)", copy_order), "unship": ("出荷取消", unship_order), "return": ("返品", return_order),
    "confirm-payment": ("入金確認", confirm_payment), "resend-mail": ("メール再送", resend_mail),
}
