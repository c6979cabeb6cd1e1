"""Operator alerts: trouble gathered as it happens and mailed as one digest at most every N minutes."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tsunagi.common import clock
from tsunagi.oms import deliveries, outbound_tables, outbox, queries, status
from tsunagi.oms.store import Store
from tsunagi.outbound import delivery
from tsunagi.outbound.mailbuild import Outgoing, build, message_id
from tsunagi.outbound.mailer import (
    PermanentFailure,
    TemporaryFailure,
    connect,
    hand_over,
)
from tsunagi.outbound.push import waiting_reasons
from tsunagi.outbound.settings import AlertSettings, RelaySettings

log = logging.getLogger("tsunagi.alerts")
CONSUMER = "alerts"


def _now() -> float:
    """Seconds on the one clock (settable in tests), so "failing for N minutes" can be shown without waiting."""
    return clock.now().timestamp()


@dataclass
class Alerts:
    store: Store
    relay: RelaySettings
    settings: AlertSettings
    outbox_dir: Path
    pushed: set[str] = field(default_factory=set)        # outbox targets a push endpoint delivers
    last_digest: float = 0.0
    failing: dict[str, float] = field(default_factory=dict)   # what -> since when (_now())
    reported: set[str] = field(default_factory=set)

    def record(self, kind: str, subject: str, detail: str) -> None:
        with self.store.transaction() as tx:
            outbound_tables.add_alert(tx, kind, subject, detail)

    def failed(self, what: str, message: str, command: str) -> None:
        """Something keeps failing (an SFTP endpoint, the relay): reported once it has for long enough."""
        since = self.failing.setdefault(what, _now())
        if what not in self.reported and _now() - since >= self.settings.failing_minutes * 60:
            minutes = int((_now() - since) // 60)
            self.record("failing", f"{what} が {minutes} 分以上失敗しています", f"{message}\n詳しく: {command}")
            self.reported.add(what)

    def recovered(self, what: str) -> None:
        """Working again; if its failing was reported, that it recovered is reported too."""
        since = self.failing.pop(what, None)
        if what in self.reported:
            minutes = int((_now() - since) // 60) if since else 0
            self.record("recovered", f"{what} は復旧しました", f"約 {minutes} 分間失敗していました")
            self.reported.discard(what)

    def collect(self) -> None:
        """Holds (from the orders' own events) and stock feeds nobody has delivered."""
        with self.store.transaction() as tx:
            events = outbox.pending(tx, CONSUMER, outbox.ORDER)
            for _, key, payload in events:
                if payload.get("to") == status.HOLD:
                    shop, order_no = queries.order_ref(tx, int(key))
                    outbound_tables.add_alert(tx, "hold", f"注文 {shop} {order_no} を保留にしました",
                                              f"{payload.get('note', '')}\n詳しく: tsunagi order {shop} {order_no}")
                elif payload.get("from") == status.HOLD and payload.get("to") == status.SHIPPED:
                    shop, order_no = queries.order_ref(tx, int(key))     # the warehouse shipped it while held
                    outbound_tables.add_alert(tx, "hold", f"保留中の注文 {shop} {order_no} が出荷されました",
                                              f"{payload.get('note', '')}\n詳しく: tsunagi order {shop} {order_no}")
            if events:
                outbox.advance(tx, CONSUMER, events[-1][0])
        self.stale_files()

    def stale_files(self) -> None:
        """Each file a push endpoint should deliver that has waited longer than feed_stale_minutes, once (its
        delivery state says it waits: written, or failed last time)."""
        if not self.pushed:
            return
        delivery.sync(self.store, self.outbox_dir, self.pushed)
        minutes = self.settings.feed_stale_minutes
        before = (clock.now() - timedelta(minutes=minutes)).isoformat(timespec="microseconds")
        if not deliveries.stale(self.store.read(), self.pushed, before):
            return
        with self.store.transaction() as tx:
            for row in deliveries.stale(tx, self.pushed, before):
                deliveries.stale_alerted(tx, row["target"], row["name"])
                error = f"\n最後の送信エラー: {row['detail']}" if row["state"] == "failed" else ""
                waiting = waiting_reasons(self.outbox_dir / row["target"]).get(row["name"])
                error += f"\n待っている理由: {waiting[1]}" if waiting else ""
                outbound_tables.add_alert(tx, "feed", f"{row['target']} へのファイルが {minutes:g} 分以上届いていません",
                                          f"{row['name']} ({row['written_at'][:16].replace('T', ' ')} から待っています)"
                                          f"{error}\n詳しく: tsunagi outbox list --target {row['target']}")

    def flush(self, force: bool = False) -> bool:
        """One digest of everything not yet told, if the last was long enough ago. True if one was sent."""
        if not force and _now() - self.last_digest < self.settings.digest_minutes * 60:
            return False
        rows = outbound_tables.unsent_alerts(self.store.read())
        if not rows:
            return False
        body = "tsunagi からのお知らせです。\n\n" + "\n\n".join(
            f"■ {at[:16].replace('T', ' ')}  {subject}\n{detail}" for _, at, subject, detail in rows) + "\n"
        mail = Outgoing(f"【tsunagi】{len(rows)} 件のお知らせ", body, None, "tsunagi", self.settings.sender,
                        self.settings.to[0])
        try:
            data, _ = build(mail, message_id(self.relay.message_id_domain))
            smtp = connect(self.relay)
            try:
                hand_over(smtp, self.settings.sender, self.settings.to, data)
            finally:
                smtp.close()
        except (TemporaryFailure, PermanentFailure) as exc:
            log.error("alert digest not sent (tried again later): %s", exc)
            return False
        with self.store.transaction() as tx:
            outbound_tables.mark_alerts_sent(tx, [r[0] for r in rows])
        self.last_digest = _now()
        log.info("alert digest sent: %d alerts", len(rows))
        return True

