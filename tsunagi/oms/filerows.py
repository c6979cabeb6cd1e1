"""A CSV file recorded row by row, by its sha256: the rows a run applied and the rows refused, with why."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tsunagi.common.clock import timestamp
from tsunagi.oms.store import Tx, record_applied


@dataclass(frozen=True)
class Pending:
    """The rows of a file still to apply: every row (never run), all but those a stopped run applied
    (done), or only the rows refused last time (only)."""
    only: frozenset[int] | None = None
    done: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return self.only is None and not self.done

    def wants(self, rows: Iterable[int]) -> bool:
        """Any of these rows still to apply (an order's rows go together)."""
        return any(r not in self.done and (self.only is None or r in self.only) for r in rows)


def pending(tx: Tx, sha256: str) -> Pending:
    """What a run of this file has left to do (applied_items answers for a file applied whole)."""
    if tx.one("SELECT 1 FROM file_runs WHERE sha256 = ?", sha256) is not None:
        return Pending(only=_rows(tx, sha256, "refused"))
    return Pending(done=_rows(tx, sha256, "applied"))


def _rows(tx: Tx, sha256: str, state: str) -> frozenset[int]:
    return frozenset(r for (r,) in tx.all("SELECT row FROM file_rows WHERE sha256 = ? AND state = ?", sha256, state))


def applied(tx: Tx, sha256: str, rows: Iterable[int]) -> None:
    """Rows applied, in the transaction of their effects: a run stopped after it commits skips them."""
    tx.many("INSERT INTO file_rows (sha256, row, state) VALUES (?, ?, 'applied') "
            "ON CONFLICT (sha256, row) DO UPDATE SET state = 'applied', reason = ''", [(sha256, r) for r in rows])


def finish(tx: Tx, sha256: str, item_id: str, refused: dict[int, str], outcome: str) -> str | None:
    """The end of a run. No row refused: the file is applied whole (a plain duplicate from now on) and
    its row records go; else only its refused rows stay, with their reasons, waiting for a retry.
    Returns the id of an earlier item whose rows waited and this one took over (None if none)."""
    before = tx.value("SELECT item_id FROM file_runs WHERE sha256 = ?", sha256)
    tx.run("DELETE FROM file_rows WHERE sha256 = ?", sha256)
    if refused:
        tx.many("INSERT INTO file_rows (sha256, row, state, reason) VALUES (?, ?, 'refused', ?)",
                [(sha256, row, why) for row, why in sorted(refused.items())])
        tx.run("INSERT INTO file_runs (sha256, item_id, updated_at) VALUES (?, ?, ?) ON CONFLICT (sha256) "
               "DO UPDATE SET item_id = excluded.item_id, updated_at = excluded.updated_at",
               sha256, item_id, timestamp())
    else:
        tx.run("DELETE FROM file_runs WHERE sha256 = ?", sha256)
        record_applied(tx, sha256, item_id, outcome)
    return before if before not in (None, item_id) else None


def waiting(tx: Tx, sha256: str) -> dict[int, str]:
    """The rows of a file refused and waiting, with their reasons."""
    return dict(tx.all("SELECT row, reason FROM file_rows WHERE sha256 = ? AND state = 'refused' ORDER BY row",
                       sha256))
