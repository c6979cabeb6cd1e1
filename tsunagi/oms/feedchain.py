"""What a channel holds while its stock file waits unsent, and a deleted product's codes waiting to leave the feeds."""
from __future__ import annotations

from dataclasses import dataclass

from tsunagi.oms import deliveries
from tsunagi.oms.store import Tx

# A shop's unsent stock file is a chain: every file merged into it since the last one that left ready/. Each
# figure published names the chain it went into and keeps the figure before that chain (`prior`): until the
# unsent file is read, that is what the channel holds.


@dataclass(frozen=True)
class Chain:
    number: int
    file: str              # the name it was last written under ("" before the first)


@dataclass(frozen=True)
class Figure:
    qty: int               # the figure last written to the shop's stock file
    chain: int | None      # the chain it went into
    prior: int | None      # the figure before that chain (None: never written before it)


@dataclass(frozen=True)
class Retired:
    shop: str
    channel_sku: str
    sku: str
    name: str


def current(tx: Tx, shop: str) -> Chain:
    row = tx.one("SELECT chain, file FROM feed_chains WHERE shop = ?", shop)
    return Chain(row[0], row[1]) if row else Chain(0, "")


def continued(tx: Tx, shop: str, chain: Chain, merged: list[str]) -> int:
    """The number of the chain a file merged from these unsent files belongs to. It goes on while its last file
    is among them, or was merged away unsent (a write a crash undid, whose file holds its rows); a file holding
    none of it starts the next one."""
    if not merged or not chain.file:
        return chain.number + 1
    if chain.file in merged:
        return chain.number
    state = deliveries.state(tx, shop, chain.file)
    delivered = state is not None and state["state"] in ("sent", "rejected")
    return chain.number + 1 if delivered else chain.number


def wrote(tx: Tx, shop: str, number: int, file: str) -> None:
    """The shop's unsent file is now `file`, of chain `number`."""
    tx.run("INSERT INTO feed_chains (shop, chain, file) VALUES (?, ?, ?) ON CONFLICT (shop) DO UPDATE SET "
           "chain = excluded.chain, file = excluded.file", shop, number, file)


def figures(tx: Tx, shop: str, codes: list[str]) -> dict[str, Figure]:
    """channel_sku -> its Figure, for those of these codes the shop's feed ever carried."""
    out: dict[str, Figure] = {}
    for n in range(0, len(codes), 500):
        part = codes[n:n + 500]
        for code, qty, chain, prior in tx.all(
                f"SELECT channel_sku, qty, chain, prior FROM feed_state WHERE shop = ? AND channel_sku IN "
                f"({', '.join('?' * len(part))})", shop, *part):
            out[code] = Figure(qty, chain, prior)
    return out


def retire(tx: Tx, sku: str, name: str, codes: list[str]) -> None:
    """A deleted product's codes: each shop's feed that carried one tells its channel 0 where the channel may
    hold more, then forgets it (see outbound/feedgone.py)."""
    tx.many("INSERT INTO feed_retired (shop, channel_sku, sku, name) SELECT shop, channel_sku, ?, ? FROM feed_state "
            "WHERE channel_sku = ? ON CONFLICT (shop, channel_sku) DO UPDATE SET sku = excluded.sku, "
            "name = excluded.name", [(sku, name, code) for code in codes])


def retiring(tx: Tx) -> list[Retired]:
    """The codes still waiting to leave a shop's feed, by shop and code."""
    return [Retired(*r) for r in tx.all("SELECT shop, channel_sku, sku, name FROM feed_retired "
                                        "ORDER BY shop, channel_sku")]


def kept(tx: Tx, shop: str, codes: list[str]) -> None:
    """These codes are a product's again (made anew): they stay in the feed with what it published."""
    tx.many("DELETE FROM feed_retired WHERE shop = ? AND channel_sku = ?", [(shop, c) for c in codes])


def gone(tx: Tx, shop: str, codes: list[str]) -> None:
    """The channel holds 0 for these codes, or never held more: they leave the shop's feed for good, and a
    product given one of them later is published afresh."""
    kept(tx, shop, codes)
    tx.many("DELETE FROM feed_state WHERE shop = ? AND channel_sku = ?", [(shop, c) for c in codes])
