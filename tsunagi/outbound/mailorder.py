"""Stage order of one order's buyer mails: a stage's mail never goes out after a later stage's mail."""
from __future__ import annotations

from tsunagi.oms import outbound_tables, status
from tsunagi.oms.store import Tx
from tsunagi.outbound.mailtemplates import STAGE_LABELS

# The order a buyer meets the stages in (not STAGES' order, which only grew): a reminder to pay comes after the
# purchase mail and before any shipment mail; a reminder sent must never hold back the shipment mail.
RANK = {stage: n for n, stage in enumerate(("purchase", "payment_reminder", "shipment", "post_purchase"))}
assert set(RANK) == set(outbound_tables.STAGES)
GONE = ("sending", "sent", "uncertain")      # the buyer has it, or may
SHIPPED = status.SHIPPED_OR_CLOSED
SKIPPED = "発送済みのため送信しません (purchase.skip_after_shipment)"


def _skipped(stage: str, order_status: str, stages: dict[str, dict]) -> bool:
    """A purchase mail («発送まで今しばらく») says nothing true once the order has shipped."""
    return (stage == "purchase" and order_status in SHIPPED
            and stages.get("purchase", {}).get("skip_after_shipment", True))


def may_go(tx: Tx, mail_id: int, order_id: int, stage: str, order_status: str, stages: dict[str, dict]) -> bool:
    """Whether this due mail may be built and sent now; if not, it is settled here: cancelled with the reason
    (a later stage's mail has gone, or its stage is skipped once shipped) or put back to wait for an earlier
    stage's mail still queued. Earlier mails that are skipped now are cancelled on the way. A resend is
    on purpose: it is never held back, and holds nothing back."""
    mails = outbound_tables.order_mails(tx, order_id)
    if any(m[0] == mail_id and m[4] for m in mails):
        return True
    others = [m for m in mails if m[0] != mail_id and not m[4]]
    gone = [m for m in others if RANK[m[1]] > RANK[stage] and m[2] in GONE]
    if gone:
        outbound_tables.mark_mail(tx, mail_id, "cancelled", f"後の段階のメール ({STAGE_LABELS[gone[0][1]]}) を"
                                                          f"送信済みのため送信しません")
        return False
    if _skipped(stage, order_status, stages):
        outbound_tables.mark_mail(tx, mail_id, "cancelled", SKIPPED)
        return False
    waits_for = ""
    for other_id, other_stage, state, due_at, _ in others:
        if RANK[other_stage] >= RANK[stage] or state != "queued":
            continue
        if _skipped(other_stage, order_status, stages):
            outbound_tables.mark_mail(tx, other_id, "cancelled", SKIPPED)
        else:
            waits_for = max(waits_for, due_at)
    if waits_for:
        outbound_tables.mark_mail(tx, mail_id, "queued", "先の段階のメールを待っています (その後に送ります)",
                                  due_at=waits_for)
        return False
    return True
