"""Hostile-input benchmark: parse time against size for what an attacker would send, and SMTP's answers meanwhile.

Part 1: for blank lines, spaces and one repeated label, from 1 KB to 10 MB, the time each shipped cart spec
takes to read the body (the spec's patterns, the part an attacker aims at), against reading the same text
once (splitting it into lines) in the same run. Linear parsing keeps the ratio flat as the size grows.

Part 2: a real daemon on loopback is sent the worst of them (10 MB of blank lines) while a probe client
sends NOOP every 50 ms; the probe's answer times are reported against the same probe on the idle daemon.

    python bench/hostile.py              # sizes 1 KB … 10 MB
    python bench/hostile.py --max-mb 1   # a quicker run
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.net import config_on_port, free_port, probe, wait_listening  # noqa: E402
from tsunagi.parsers.errors import ParseError  # noqa: E402
from tsunagi.parsers.mailmsg import MailView  # noqa: E402
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts, load_spec
from tsunagi.parsers.specread import parse_with_spec  # noqa: E402

RCPT = "rakuten-7f3k@orders.example.jp"
SHAPES = {"blank lines": "\n", "spaces": " ", "repeated label": "[受注番号]"}
SUBJECTS = {"rakuten": "【楽天市場】注文内容ご確認(自動配信メール)", "yahoo": "【Yahoo!ショッピング】注文確認",
            "ec-cube": "[サンプルショップ] ご注文ありがとうございます"}


def text_of(shape: str, size: int) -> str:
    unit = SHAPES[shape]
    return unit * max(1, size // len(unit.encode()))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def spec_time(spec, text: str) -> float:
    view = MailView(subject=SUBJECTS.get(spec.cart, ""), sender="order@rakuten.co.jp", date="", text=text)

    def run():
        try:
            parse_with_spec(spec, view, "shop")
        except ParseError:
            pass      # hostile text is no order: what is measured is how long it takes to say so
    return timed(run)


def part1(max_mb: float) -> None:
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000, 10_000_000) if s <= max_mb * 1_000_000]
    specs = [load_spec(SPEC_DIR / f"{cart}.toml") for cart in available_carts()]
    print("part 1: seconds to read the body with each spec (ratio to splitting the same text into lines)")
    print(f"{'shape':<16} {'size':>10} {'bare split':>11} " + " ".join(f"{s.cart:>18}" for s in specs))
    for shape in SHAPES:
        for size in sizes:
            text = text_of(shape, size)
            bare = max(timed(lambda: text.split("\n")), 1e-6)
            cells = [spec_time(spec, text) for spec in specs]
            print(f"{shape:<16} {size:>10,} {bare:>10.4f}s " +
                  " ".join(f"{t:>8.3f}s ({t / bare:>6.1f}x)" for t in cells))


def probe_for(port: int, seconds: float, during=None) -> list[float]:
    answers: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=probe, args=(port, stop, answers))
    thread.start()
    if during:
        during()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return answers


def part2(max_mb: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-hostile-"))
    port = free_port()
    config_on_port(ROOT, tmp, port)
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(tmp / "config.toml"), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        idle = probe_for(port, 5)
        body = b"\r\n" * int(max_mb * 1_000_000 // 2)
        raw = b"From: order@rakuten.co.jp\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body

        def send():
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                smtp.sendmail("order@rakuten.co.jp", [RCPT], raw)
        busy = probe_for(port, 15, send)
    finally:
        proc.terminate()
        proc.wait()
    failed = sorted((tmp / "var" / "spool" / "failed").glob("*.reason.json"))
    print(f"part 2: NOOP answer times of a probe client, {len(body) / 1e6:.0f} MB of blank lines sent meanwhile")
    for name, answers in (("idle daemon (baseline)", idle), ("while parsing the mail", busy)):
        q = statistics.quantiles(answers, n=100)
        print(f"  {name:<24} n={len(answers):>4}  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
              f"max {max(answers) * 1000:6.1f} ms")
    kinds = [json.loads(path.read_text(encoding="utf-8")).get("kind") for path in failed]
    print(f"  the mail: {'set aside in failed/ as ' + kinds[0] if kinds else 'not set aside'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-mb", type=float, default=10)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}")
    part1(args.max_mb)
    part2(args.max_mb)


if __name__ == "__main__":
    main()
