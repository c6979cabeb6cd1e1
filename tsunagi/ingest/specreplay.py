"""Stored order mails run through a candidate spec before anyone switches: what would change, mail by mail.

The mails are those of the cart's shops in spool done/ and failed/; each is read once and parsed with the
spec in use and with the candidate, side by side in worker processes."""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

from tsunagi.ingest.spool import ID_TIME, Spool, read_meta
from tsunagi.oms.records import OrderRecord
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import read_mail
from tsunagi.parsers.mailspec import load_spec
from tsunagi.parsers.ordermail import parse_view, spec_for

CHUNK = 256
COMPARED = ("order_no", "ordered_at", "total", "shipping_fee", "cod_fee", "discount", "payment_method",
            "delivery_method", "requested_date", "requested_time", "note", "buyer", "ship_to", "lines")


@dataclass(frozen=True)
class Replayed:
    item_id: str
    folder: str       # done or failed: applied, or refused, when it arrived
    change: str       # same, changed, now_applies, now_fails, still_fails
    detail: str


@dataclass(frozen=True)
class Plan:
    """What a worker needs: the shops, and for each side the spec files (the rest of a shop's carts as they are)."""
    shops: frozenset[str]
    spool: str                        # the spool's folder
    current: tuple[str, ...]          # spec files in use
    candidate: tuple[str, ...]        # the same with the cart's replaced by the candidate


def stored(spool: Spool, since: date | None) -> Iterator[tuple[str, str]]:
    """(folder, item id) of the mails kept in done/ (by day) and failed/, oldest days first."""
    day = since.isoformat() if since else ""
    first = since.strftime(ID_TIME[:6]) if since else ""
    for folder in sorted(p for p in spool.dir("done").iterdir() if p.is_dir() and p.name >= day):
        yield from ((str(folder), n[:-10]) for n in sorted(os.listdir(folder)) if n.endswith(".meta.json"))
    failed = spool.dir("failed")
    yield from ((str(failed), n[:-10]) for n in sorted(os.listdir(failed))
                if n.endswith(".meta.json") and n[:8] >= first)


_specs: dict = {}


def _load(plan: Plan) -> tuple[list, list]:
    """The plan's specs, made once a worker process."""
    key = (plan.current, plan.candidate)
    if key not in _specs:
        _specs.clear()
        _specs[key] = ([load_spec(Path(p)) for p in plan.current], [load_spec(Path(p)) for p in plan.candidate])
    return _specs[key]


def replay_one(plan: Plan, folder: str, item_id: str) -> Replayed | None:
    """One stored mail under both specs; None when it is no order mail of these shops."""
    current, candidate = _load(plan)
    # the spool's own files read directly (folder is absolute): a Path and an Item a mail cost a tenth of it
    meta = read_meta(folder, item_id)
    if meta.get("kind", "order_mail") != "order_mail" or meta.get("shop") not in plan.shops:
        return None
    raw = _read(os.path.join(folder, item_id + meta.get("suffix", ".eml")))
    place = "failed" if folder.endswith("failed") else "done"
    try:
        view = read_mail(raw)
    except Exception as exc:       # the MIME parser gave up: the same for either spec
        return Replayed(item_id, place, "still_fails", f"unreadable MIME: {exc}")
    mail_from = meta.get("mail_from", "x")
    before = _parse(view, meta["shop"], current, mail_from)
    after = _parse(view, meta["shop"], candidate, mail_from)
    return Replayed(item_id, place, *compare(before, after))


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _parse(view, shop: str, specs: list, mail_from: str):
    try:
        return parse_view(view, shop, specs, mail_from)
    except ParseError as exc:
        return exc


def compare(before, after) -> tuple[str, str]:
    """(change, detail) between what the spec in use makes of a mail and what the candidate would."""
    if isinstance(before, OrderRecord) and isinstance(after, OrderRecord):
        diffs = [f"{name}: {_short(getattr(before, name))} → {_short(getattr(after, name))}"
                 for name in COMPARED if getattr(before, name) != getattr(after, name)]
        return ("changed", "; ".join(diffs)) if diffs else ("same", after.order_no)
    if isinstance(after, OrderRecord):
        return "now_applies", f"order {after.order_no} total {after.total} (now: [{before.kind}] {before.message})"
    if isinstance(before, OrderRecord):
        return "now_fails", f"order {before.order_no}: [{after.kind}] {after.message}"
    return "still_fails", f"[{after.kind}] {after.message}"


def _short(value) -> str:
    if isinstance(value, tuple):        # lines
        return ", ".join(f"{line.channel_sku}×{line.qty}@{line.unit_price}" for line in value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _work(job: tuple[Plan, list[tuple[str, str]]]) -> list[Replayed]:
    plan, items = job
    return [r for folder, item_id in items if (r := replay_one(plan, folder, item_id))]


def replay(spool: Spool, plan: Plan, since: date | None, jobs: int = 2) -> Iterator[Replayed]:
    """Every stored mail of the plan's shops, in spool order, as worker processes finish them."""
    chunks = _chunks(stored(spool, since))
    if jobs <= 1:
        for chunk in chunks:
            yield from _work((plan, chunk))
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for done in pool.imap(_work, ((plan, chunk) for chunk in chunks)):
            yield from done


def _chunks(items: Iterator) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def plan_for(spool: Spool, shop_specs: dict[str, list[str]], cart: str, candidate: str | None,
             spec_dir: str) -> Plan:
    """The shops reading the cart, their spec files in use, and the same with the candidate in the cart's place."""
    shops = frozenset(shop for shop, carts in shop_specs.items() if cart in carts)
    carts = next((carts for shop, carts in shop_specs.items() if cart in carts), [cart])
    current = tuple(spec_for(c, spec_dir).path for c in carts)
    chosen = str(Path(candidate).resolve()) if candidate else spec_for(cart, spec_dir).path
    load_spec(Path(chosen))           # a broken candidate is named now, not in a worker
    return Plan(shops, str(spool.root), current, tuple(chosen if c == cart else p for c, p in zip(carts, current)))
