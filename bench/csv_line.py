"""CSV line-limit benchmark: a file of one huge line dropped into a running daemon (issue 10).

A real daemon on loopback (`tsunagi serve`, a config copied from ./config.toml) has a file of a header and one
line of N MB (no newline) dropped into its first shop's drop folder. Reported: how long until it is in
spool/failed/ and with what reason, the daemon's peak resident memory (VmHWM) before and after, and the NOOP
answer times of a probe client meanwhile against the same probe on the idle daemon.

    python bench/csv_line.py                    # 1 GB, csv.max_line_bytes at its default (1 MB)
    python bench/csv_line.py --mb 200 --limit-mb 4096   # the old behaviour: no limit that the line meets
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hostile import probe_for  # noqa: E402
from bench.net import config_on_port, free_port, probe, wait_listening  # noqa: E402


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024


def huge_file(path: Path, mb: int) -> None:
    block = b"x" * (1 << 20)
    with open(path, "wb") as fh:
        fh.write("注文番号,ステータス\r\n".encode("cp932"))
        for _ in range(mb):
            fh.write(block)


def settled(tmp: Path) -> bool:
    spool = tmp / "var" / "spool"
    return bool(list((spool / "failed").glob("*.reason.json")) or list((spool / "done").glob("*/*")))


def run(mb: int, limit_mb: float | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-csvline-"))
    port = free_port()
    _, cfg = config_on_port(ROOT, tmp, port)
    shop = tomllib.loads(cfg)["shop"][0]["id"]
    env = dict(os.environ)
    if limit_mb:
        env["TSUNAGI_CSV__MAX_LINE_BYTES"] = str(int(limit_mb * (1 << 20)))
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(tmp / "config.toml"), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    failed = tmp / "var" / "spool" / "failed"
    try:
        wait_listening(port)
        idle = probe_for(port, 5)
        before = peak_rss(proc.pid)
        staged = tmp / "huge.part"
        huge_file(staged, mb)
        busy: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=probe, args=(port, stop, busy))
        prober.start()
        started = time.monotonic()
        staged.rename(tmp / "var" / "spool" / "drop" / shop / "huge.csv")
        while not settled(tmp) and time.monotonic() - started < 600:
            time.sleep(0.05)
        took = [time.monotonic() - started] if settled(tmp) else []
        time.sleep(1)
        stop.set()
        prober.join()
        after = peak_rss(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    reasons = [json.loads(p.read_text(encoding="utf-8")) for p in failed.glob("*.reason.json")]
    shutil.rmtree(tmp)                  # the spooled copy of the file is as big as the line
    print(f"{mb} MB single-line file, csv.max_line_bytes {limit_mb or 1:g} MB")
    print(f"  settled in {took[0]:.2f} s after the drop" if took else "  not settled within 600 s",
          f"({reasons[0]['kind']}: {reasons[0]['message'][:90]}…)" if reasons else "")
    print(f"  daemon peak RSS: {before / 2**20:.0f} MB before the drop, {after / 2**20:.0f} MB after")
    for name, answers in (("idle daemon (baseline)", idle), ("while the file is taken", busy)):
        q = statistics.quantiles(answers, n=100)
        print(f"  NOOP {name:<24} n={len(answers):>4}  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
              f"max {max(answers) * 1000:6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024, help="size of the line")
    ap.add_argument("--limit-mb", type=float, default=None, help="csv.max_line_bytes in MB (default: the default)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}")
    run(args.mb, args.limit_mb)


if __name__ == "__main__":
    main()
