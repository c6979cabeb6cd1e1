"""Words the console shows for code names: hold kinds, mail stages and states, shipment states."""
from __future__ import annotations

from tsunagi.outbound.mailtemplates import STAGE_LABELS

HOLD_KINDS = {
    "unknown_sku": "商品不明",
    "unmapped": "配送・支払の対応なし",
    "label_chars": "送り状に使えない文字",
    "review": "要確認",
    "channel_shipped": "カートで処理済",
    "mismatch": "メールとCSVの不一致",
    "conflict": "別の内容が届いた",
    "wms_cancelled": "倉庫がキャンセル",
    "": "(種別なし)",
}

MAIL_STAGES = STAGE_LABELS
MAIL_STATES = {"queued": "送信待ち", "sending": "送信中", "sent": "送信済", "failed": "失敗", "uncertain": "不確定",
               "skipped": "送らず", "cancelled": "取消"}


def hold_kind(code: str) -> str:
    return HOLD_KINDS.get(code, code)
