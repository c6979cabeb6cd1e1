"""Benchmark: the CPU one order mail costs to read (MIME, headers, body text), per cart's sample mail.

    python bench/mail_parse.py [--mails 3000] [--tree DIR --python PY]

Timed: parsers.mailmsg.read_mail over the demo's order mail of each shipped cart, in one process, after a
warm-up. Baseline in the same run: the standard library's email.message_from_bytes of the same bytes
(what any reader must do at least). --tree/--python time another checkout (the release before) the same way."""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import email, json, sys, time
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.parsers import mailmsg
n = int(sys.argv[1])
out = {}
for cart in ("rakuten", "yahoo", "ec-cube"):
    o = SampleOrder("402853-20260612-0000000001", [Item("item-a", "商品A", 1, 1000), Item("item-b", "商品B", 2, 500)])
    raw = order_mail(cart, o, "shop@example.jp")
    raw = raw if isinstance(raw, bytes) else raw.as_bytes()
    for fn in (mailmsg.read_mail, email.message_from_bytes):
        for _ in range(100):
            fn(raw)
    times = {}
    for name, fn in (("read_mail", mailmsg.read_mail), ("email", email.message_from_bytes)):
        t = time.perf_counter()
        for _ in range(n):
            fn(raw)
        times[name] = (time.perf_counter() - t) / n * 1000
    out[cart] = times
print(json.dumps(out))
"""


def run(python: str, tree: str, n: int) -> dict:
    done = subprocess.run([python, "-c", CHILD, str(n)], cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin"}, check=True)
    return json.loads(done.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=3000)
    ap.add_argument("--tree", help="another checkout to time the same way (e.g. the release before)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {args.mails} mails per cart")
    sides = [("this tree", sys.executable, str(ROOT))]
    if args.tree:
        sides.append((args.tree, args.python, args.tree))
    for label, python, tree in sides:
        for cart, t in run(python, tree, args.mails).items():
            print(f"{label:>16}  {cart:8}  read_mail {t['read_mail']:.3f} ms  email.message_from_bytes "
                  f"{t['email']:.3f} ms  ratio {t['read_mail'] / t['email']:.1f}x")


if __name__ == "__main__":
    main()
