"""Results without a tracking number: taken only for parcels whose every order ships by a service that issues none."""
from __future__ import annotations

import json

from tsunagi.oms.store import Tx

Untracked = frozenset[tuple[str, str]]       # (carrier, service) pairs, from the carriers' untracked_services


def blank_refused(tx: Tx, key: str, untracked: Untracked) -> bool:
    """Whether a shipped result for this shipment needs a number: some order in it ships by a service that
    issues one (an unknown key is not judged here: applying it says so)."""
    plans = [json.loads(data).get("shipping") or {} for (data,) in tx.all(
        "SELECT o.data FROM shipments s JOIN shipment_orders so ON so.shipment_id = s.id "
        "JOIN orders o ON o.id = so.order_id WHERE s.key = ?", key)]
    return any((plan.get("carrier"), plan.get("delivery")) not in untracked for plan in plans)
