"""The transactional outbox: events written with the change that caused them, read by consumers."""
from __future__ import annotations

import json

from tsunagi.common.clock import timestamp
from tsunagi.oms.store import Tx

STOCK = "stock"     # key: a SKU whose free stock may have changed
ORDER = "order"     # key: an order id whose status changed; payload: from, to
SHIPMENT = "shipment"   # key: an order id whose tracking numbers changed after it shipped


def emit(tx: Tx, topic: str, key: str, payload: dict | None = None) -> None:
    tx.run("INSERT INTO outbox (at, topic, key, payload) VALUES (?, ?, ?, ?)",
           timestamp(), topic, key, json.dumps(payload or {}, ensure_ascii=False))


def cursor(tx: Tx, consumer: str) -> int:
    return tx.value("SELECT last_id FROM consumers WHERE name = ?", consumer, default=0)


def _after_cursor(tx: Tx, consumer: str, topics: tuple[str, ...], limit: int) -> list:
    return tx.all(f"SELECT id, at, key, payload FROM outbox WHERE topic IN ({','.join('?' * len(topics))}) "
                  "AND id > ? ORDER BY id LIMIT ?", *topics, cursor(tx, consumer), limit)


def pending(tx: Tx, consumer: str, topic: str | tuple[str, ...], limit: int = 100000) -> list[tuple[int, str, dict]]:
    """Events of the topic(s) after the consumer's cursor: (id, key, payload)."""
    topics = (topic,) if isinstance(topic, str) else topic
    return [(r[0], r[2], json.loads(r[3])) for r in _after_cursor(tx, consumer, topics, limit)]


def events(tx: Tx, consumer: str, topic: str, limit: int) -> list[tuple[int, str, str, dict]]:
    """Like pending, with each event's time: (id, at, key, payload)."""
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in _after_cursor(tx, consumer, (topic,), limit)]


def advance(tx: Tx, consumer: str, last_id: int) -> None:
    """Move the consumer's cursor; done in the same transaction as the consumer's own effects."""
    tx.run("INSERT INTO consumers (name, last_id) VALUES (?, ?) "
           "ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id", consumer, last_id)


def last_id(tx: Tx) -> int:
    """The newest event's id (0 when none): what a snapshot has seen."""
    return tx.value("SELECT MAX(id) FROM outbox", default=0) or 0


def keys_after(tx: Tx, topic: str, after_id: int) -> set[str]:
    """The keys of the topic's events newer than after_id (what changed since a snapshot was taken)."""
    return {r[0] for r in tx.all("SELECT DISTINCT key FROM outbox WHERE topic = ? AND id > ?", topic, after_id)}
