"""Whether each shop's mail spec still reads its mail: failures in a row since it last did, and the spec in use."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from tsunagi.oms.store import Tx

KEEP = 10      # the failures of a streak kept to show (the count goes on)


@dataclass
class Health:
    worked: bool = False          # a mail of the shop has been read by its spec
    failing: int = 0              # mails refused by the spec in a row since
    alerted: bool = False         # this streak was reported
    failures: list = field(default_factory=list)     # [item id, message] of the streak, the first KEEP
    spec: str = ""                # fingerprint of the spec files in use


def load_all(tx: Tx) -> dict[str, Health]:
    rows = tx.all("SELECT shop, worked, failing, alerted, failures, spec FROM mail_spec_health")
    return {shop: Health(bool(w), f, bool(a), json.loads(fs), spec) for shop, w, f, a, fs, spec in rows}


def save_counts(tx: Tx, shop: str, h: Health) -> None:
    """The streak as the pipeline saw it (the spec's fingerprint is the switch check's, left alone)."""
    tx.run("INSERT INTO mail_spec_health (shop, worked, failing, alerted, failures) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (shop) DO UPDATE SET worked = excluded.worked, failing = excluded.failing, "
           "alerted = excluded.alerted, failures = excluded.failures",
           shop, int(h.worked), h.failing, int(h.alerted), json.dumps(h.failures[:KEEP], ensure_ascii=False))


def switched(tx: Tx, shop: str, spec: str, first: bool) -> None:
    """The spec files now in use; after a switch (not the first time) the streak starts again."""
    tx.run("INSERT INTO mail_spec_health (shop, spec) VALUES (?, ?) ON CONFLICT (shop) DO UPDATE SET "
           "spec = excluded.spec" + ("" if first else ", failing = 0, alerted = 0, failures = '[]'"), shop, spec)
