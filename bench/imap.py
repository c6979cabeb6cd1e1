"""IMAP intake benchmark: mails/s read from a real Dovecot into the spool (fetched, recorded, fsync'd, moved), against
a bare imaplib fetch of the same mails in the same run (and a bare fetch + MOVE of as many others).

    python bench/imap.py                 # 2,000 mails
    python bench/imap.py -n 500
"""
from __future__ import annotations

import argparse
import imaplib
import os
import platform
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.configs import edit_config, write_config  # noqa: E402
from tests.support.imapd import DOVECOT, ImapServer  # noqa: E402
from tsunagi.app import config as config_mod  # noqa: E402
from tsunagi.app.imapintake import run_mailbox  # noqa: E402
from tsunagi.common.imap import quoted  # noqa: E402
from tsunagi.demo.mails import Item, SampleOrder, order_mail  # noqa: E402
from tsunagi.ingest.imap_pull import BATCH_MAILS  # noqa: E402
from tsunagi.ingest.spool import Spool  # noqa: E402

RCPT = "rakuten-7f3k@orders.example.jp"
FOLDER, OTHERS, DONE = "受注", "受注2", "受注済"
ENV = "TSUNAGI_BENCH_IMAP_PASSWORD"


def make_mails(n: int, first: int = 0) -> list[bytes]:
    return [order_mail("rakuten", SampleOrder(f"402853-20260612-{i:010d}", [Item("item-a", "商品A", 1, 1200)]), RCPT)
            for i in range(first, first + n)]


def bare(box, folder: str, move: bool, batch: int) -> tuple[int, float]:
    """imaplib alone: the mails fetched (BODY.PEEK[]) batch UIDs per command; moved too (a command a batch)
    if move."""
    conn = box.client()
    conn.select(quoted(folder), readonly=not move)
    uids = [u.decode() for u in conn.uid("SEARCH", "ALL")[1][0].split()]
    started = time.perf_counter()
    total = 0
    for i in range(0, len(uids), batch):
        uid_set = ",".join(uids[i:i + batch])
        data = conn.uid("FETCH", uid_set, "(BODY.PEEK[])")[1]
        total += sum(len(p[1]) for p in data if isinstance(p, tuple))
        if move:
            conn.uid("MOVE", uid_set, quoted(DONE))
    elapsed = time.perf_counter() - started
    conn.logout()
    assert total > 0
    return len(uids), elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tsunagi-bench-imapd-"))
    work = Path(tempfile.mkdtemp(prefix="tsunagi-bench-imap-"))
    server = ImapServer(root)
    server.start()
    try:
        box = server.mailbox()
        box.deliver(DONE)
        box.deliver(FOLDER, *make_mails(args.n))
        box.deliver(OTHERS, *make_mails(args.n, first=args.n))
        os.environ[ENV] = box.password
        path = write_config(work)
        edit_config(path, lambda c: c.update(imap=[{
            "name": "bench", "host": "127.0.0.1", "port": server.tls_port, "user": box.user, "password_env": ENV,
            "ca_file": str(server.ca_file), "folder": FOLDER, "into": "rakuten", "processed_folder": DONE,
            "every_minutes": 0}]))
        cfg = config_mod.load(path)
        spool = Spool(cfg.spool_dir)

        n_one, t_one = bare(box, FOLDER, move=False, batch=1)
        n_bare, t_bare = bare(box, FOLDER, move=False, batch=BATCH_MAILS)
        started = time.perf_counter()
        out = run_mailbox(cfg, spool, cfg.mailbox("bench"))
        t_pull = time.perf_counter() - started
        assert len(out["pulled"]) == args.n and not out["pull_errors"], out["pull_errors"][:3]
        n_move, t_move = bare(box, OTHERS, move=True, batch=BATCH_MAILS)
        started = time.perf_counter()
        again = run_mailbox(cfg, spool, cfg.mailbox("bench"))
        t_empty = time.perf_counter() - started
        assert again["pulled"] == []
        ledger = cfg.data_dir / "imap" / "bench.taken"

        dovecot = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True).stdout.split()[0]
        print(f"# IMAP intake, {args.n} mails of {len(make_mails(1)[0])} bytes, Dovecot {dovecot} on loopback "
              f"(TLS, verified), Python {platform.python_version()}, {os.cpu_count()} cores")
        rows = [("bare imaplib fetch, one mail a command", n_one, t_one),
                (f"bare imaplib fetch, {BATCH_MAILS} mails a command", n_bare, t_bare),
                (f"bare imaplib fetch + UID MOVE, {BATCH_MAILS} a command", n_move, t_move),
                ("tsunagi imap pull (fetch, record, fsync'd spool items, MOVE)", args.n, t_pull)]
        for label, n, t in rows:
            print(f"{label:<62} {n / t:8.0f} mails/s  ({t:.2f} s)")
        print(f"a pass with nothing to take (ledger of {args.n} lines, {ledger.stat().st_size} bytes read): "
              f"{t_empty * 1000:.0f} ms")
        print(f"ssl: {ssl.OPENSSL_VERSION}; imaplib {imaplib.__version__}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
