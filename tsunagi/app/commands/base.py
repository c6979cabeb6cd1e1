"""What every command shares: the configuration, the store, output as lines or JSON, applying now if idle."""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys

from tsunagi.app import config as config_mod
from tsunagi.app import wiring
from tsunagi.app.runlock import AlreadyRunning, take_lock
from tsunagi.common.errors import TsunagiError
from tsunagi.common.safetext import printable
from tsunagi.oms import queries
from tsunagi.oms.store import Store
from tsunagi.outbound import mailqueue, resync


def config(args: argparse.Namespace) -> config_mod.Config:
    """The configuration, with a --shop the command was given checked against it (a typo is named)."""
    cfg = config_mod.load(args.config or os.environ.get("TSUNAGI_CONFIG") or "config.toml")
    if getattr(args, "shop", None):
        cfg.shop(args.shop)
    return cfg


_writers: list[Store] = []


def writer(cfg: config_mod.Config) -> Store:
    """The store for a command that changes something; finish() queues the mails its changes start."""
    store = wiring.open_store(cfg)
    _writers.append(store)
    return store


def finish() -> None:
    """After a command: the buyer mails its status changes start are queued before it returns."""
    while _writers:
        mailqueue.drain(_writers.pop())


def at_most(most: int, what: str, example: int):
    """An argparse type: a whole number of what, at most most (a slipped key of many digits is refused, never
    used: it would fork without end, or overflow the store's integers)."""
    def whole(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of {what}, e.g. {example}") from None
        if number > most:
            raise argparse.ArgumentTypeError(f"{text}: give at most {most:,} {what}")
        return number
    return whole


def input_file(path: str) -> str:
    """A file a command is to read, refused in one line when it is a folder, a FIFO or a device (opening a FIFO
    would wait for a writer for ever); a missing one is main's one line."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise TsunagiError(f"{printable(path)}: not a file (a folder, a FIFO or a device): give the file itself")
    return path


def reader(cfg: config_mod.Config) -> Store:
    """The store for a command that only reads: it never writes, so it never waits for a writer."""
    return Store.open_read_only(cfg.db_path)


def print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def show(args, rows: list[dict], noun: str, line) -> int:
    """A listing: the stable JSON with --json, else one line a row and the count."""
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(line(row))
    print(f"({len(rows)} {noun})")
    return 0


def order_id(store: Store, shop: str, order_no: str) -> int:
    found = queries.find_order(store.read(), shop, order_no)
    if found is None:
        raise TsunagiError(f"no order {order_no} in shop {shop}")
    return found


def apply_now_if_idle(cfg: config_mod.Config) -> int:
    """Apply waiting items here unless a daemon owns the spool (then it applies them itself)."""
    try:
        lock = take_lock(cfg.data_dir)
    except AlreadyRunning:
        print("the daemon is running and will apply it")
        return 0
    try:
        spool, store, pipeline = wiring.open_parts(cfg)
        spool.recover(max_tmp_age=60)
        for item_id in spool.waiting():
            outcome = pipeline.process(item_id)
            if outcome is not None:
                print(f"{item_id}: {outcome}")
        write_feeds(wiring.feed_writer(cfg, spool, store))
    finally:
        lock.close()
    return 0


def flush_feeds_if_idle(cfg: config_mod.Config, spool, store) -> None:
    try:
        lock = take_lock(cfg.data_dir)
    except AlreadyRunning:
        return      # the daemon writes the feeds itself
    try:
        write_feeds(wiring.feed_writer(cfg, spool, store))
    finally:
        lock.close()


def write_feeds(writer) -> None:
    """What the daemon's feed worker would write now: changed figures, and drifted ones again."""
    writer.flush()
    resync.repush(writer)


def stderr(text: str) -> None:
    print(text, file=sys.stderr)
