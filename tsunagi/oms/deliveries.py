"""Each outbound file's delivery: written, sent (by an endpoint or by hand), failed, rejected by its channel."""
from __future__ import annotations

from tsunagi.common.clock import timestamp
from tsunagi.oms import relations, shipping
from tsunagi.oms.store import Tx

# written: in ready/, waiting; sent: the server has it under its final name (or a person uploaded it);
# failed: the last push of it failed (it stays in ready/ and is tried again); rejected: the channel's result
# file refused rows of it; withdrawn: it left ready/ without being sent (merged into a newer file, removed).
STATES = ("written", "sent", "failed", "rejected", "withdrawn")
WAITING = ("written", "failed")
# The kind of a file, by the words its writer puts in its name (feeds, confirmations, labels, warehouse files).
KINDS = (("-stock-", "stock"), ("-shipconfirm-", "confirm"), ("-instructions-", "wms"), ("-cancel-", "wms"),
         ("-labels-", "label"))
COLUMNS = ("target", "name", "kind", "state", "written_at", "sent_at", "failed_at", "rejected_at", "updated_at",
           "attempts", "sent_by", "remote", "detail")


def kind_of(name: str) -> str:
    return next((kind for word, kind in KINDS if word in name), "other")


def written(tx: Tx, target: str, name: str, at: str | None = None) -> None:
    """A file reached (or is about to reach) outbox/<target>/ready/; a file known already keeps its row."""
    stamp = at or timestamp()
    tx.run("INSERT INTO deliveries (target, name, kind, state, written_at, updated_at) VALUES (?, ?, ?, 'written', "
           "?, ?) ON CONFLICT DO NOTHING", target, name, kind_of(name), stamp, stamp)


def sent(tx: Tx, target: str, name: str, by: str, remote: str = "") -> int:
    """The file is on the channel's server (by = the endpoint, or "manual"); orders whose shipment confirmation
    it carries are closed (請求済) in the same transaction. How many were closed."""
    written(tx, target, name)
    stamp = timestamp()
    tx.run("UPDATE deliveries SET state = 'sent', sent_at = ?, updated_at = ?, sent_by = ?, remote = ?, "
           "attempts = attempts + ?, detail = '' WHERE target = ? AND name = ?",
           stamp, stamp, by, remote, 0 if by == "manual" else 1, target, name)
    return confirmations_delivered(tx, name, by)


def failed(tx: Tx, target: str, name: str, by: str, error: str) -> None:
    """A push of the file failed; it waits in ready/ for the next one. A file recorded sent stays sent."""
    written(tx, target, name)
    stamp = timestamp()
    tx.run("UPDATE deliveries SET state = 'failed', failed_at = ?, updated_at = ?, attempts = attempts + 1, "
           "detail = ? WHERE target = ? AND name = ? AND state <> 'sent'", stamp, stamp, f"{by}: {error}",
           target, name)


def rejected(tx: Tx, target: str, name: str, detail: str) -> None:
    """The channel's result file refused rows of this (sent) file; detail says which and why."""
    stamp = timestamp()
    tx.run("UPDATE deliveries SET state = 'rejected', rejected_at = ?, updated_at = ?, "
           "detail = CASE WHEN detail = '' THEN ? ELSE detail || char(10) || ? END WHERE target = ? AND name = ?",
           stamp, stamp, detail, detail, target, name)


def withdrawn(tx: Tx, target: str, names: list[str]) -> None:
    """Waiting files that left ready/ without being sent (merged into a newer file, removed by a person)."""
    stamp = timestamp()
    tx.many("UPDATE deliveries SET state = 'withdrawn', updated_at = ? WHERE target = ? AND name = ? "
            "AND state IN ('written', 'failed')", [(stamp, target, n) for n in names])


def state(tx: Tx, target: str, name: str) -> dict | None:
    row = tx.one(f"SELECT {', '.join(COLUMNS)} FROM deliveries WHERE target = ? AND name = ?", target, name)
    return dict(zip(COLUMNS, row)) if row else None


def states_of(tx: Tx, target: str, names: list[str]) -> dict[str, str]:
    """name -> state of those of these files of the target the store knows (a look-up by key: the history of
    sent files, however long, is not read)."""
    out: dict[str, str] = {}
    for n in range(0, len(names), 500):
        part = names[n:n + 500]
        out.update(tx.all(f"SELECT name, state FROM deliveries WHERE target = ? AND name IN ({', '.join('?' * len(part))})",
                          target, *part))
    return out


def waiting_names(tx: Tx, target: str) -> set[str]:
    """Names of the target's files waiting (written, or failed last time)."""
    return {r[0] for r in tx.all("SELECT name FROM deliveries WHERE state IN ('written', 'failed') AND target = ?",
                                 target)}


def listing(tx: Tx, target: str | None = None, states: tuple[str, ...] = WAITING) -> list[dict]:
    """The files in these states (of one target), oldest first."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM deliveries WHERE state IN ({', '.join('?' * len(states))})"
    params: list = list(states)
    if target is not None:
        sql += " AND target = ?"
        params.append(target)
    return [dict(zip(COLUMNS, r)) for r in tx.all(sql + " ORDER BY written_at, name", *params)]


def stale(tx: Tx, targets: set[str], before: str) -> list[dict]:
    """Waiting files of these targets written before `before` that no alert has named yet."""
    rows = tx.all(f"SELECT {', '.join(COLUMNS)} FROM deliveries WHERE state IN ('written', 'failed') AND "
                  "written_at < ? AND stale_alerted_at IS NULL ORDER BY written_at, name", before)
    return [dict(zip(COLUMNS, r)) for r in rows if r[0] in targets]


def stale_alerted(tx: Tx, target: str, name: str) -> None:
    tx.run("UPDATE deliveries SET stale_alerted_at = ? WHERE target = ? AND name = ?", timestamp(), target, name)


def find_sent(tx: Tx, name: str, before: str | None = None, prefer: str = "") -> tuple[str, str] | None:
    """(target, name) of the latest file sent as `name` (its own name or the remote name it was given), sent
    before `before`; the target `prefer` first."""
    rows = tx.all("SELECT target, name, sent_at, remote FROM deliveries WHERE state IN ('sent', 'rejected') AND "
                  "(name = ? OR remote = ? OR substr(remote, -?) = ?) ORDER BY sent_at DESC",
                  name, name, len(name) + 1, f"/{name}")
    rows = [r for r in rows if before is None or (r[2] or "") <= before]
    rows.sort(key=lambda r: r[0] != prefer)          # stable: the latest of the preferred target first
    return (rows[0][0], rows[0][1]) if rows else None


def confirmations_delivered(tx: Tx, file: str, by: str) -> int:
    """The channel has the confirmation file: its orders close, and the parts of a split order with the
    original (whose row alone the file carries)."""
    ids = [r[0] for r in tx.all("SELECT order_id FROM confirmations WHERE file = ? AND pushed_at IS NULL", file)]
    if not ids:
        return 0
    tx.run("UPDATE confirmations SET pushed_at = ? WHERE file = ?", timestamp(), file)
    ids += [part for i in list(ids) for part in relations.children(tx, i, relations.SPLIT) if part not in ids]
    how = "手動でアップロード" if by == "manual" else f"{by} で送信"
    return shipping.close(tx, ids, f"出荷通知 {file} を{how}")
