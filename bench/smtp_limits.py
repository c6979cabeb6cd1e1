"""SMTP answer times while the connection limit is reached: a probe client's NOOPs and a newcomer's 421.

A real daemon on loopback with the shipped config.toml (smtp.max_connections = 100, 20 per peer) is measured
three ways, each for a few seconds, a probe client sending NOOP every 20 ms:

  1. the idle daemon (baseline);
  2. max_connections - 1 idle sessions held (from 127.0.0.2 … 127.0.0.6, 20 each at most) beside the probe,
     so the daemon is full;
  3. the same, while a flooder opens new connections as fast as it can (each one gets 421 and is closed):
     the probe's answer times, and how long a newcomer waits for its 421.

    python bench/smtp_limits.py
    python bench/smtp_limits.py --seconds 10
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
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

MAX_CONNECTIONS = 100     # the shipped defaults, which the shipped config.toml leaves as they are
PER_PEER = 20


def flood(port: int, stop: threading.Event, refusals: list[float], other: list[str]) -> None:
    """New connections one after another; the time each waits for its first line (421 when full)."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.9", 0)) as s:
                line = s.recv(200)
        except OSError as exc:
            other.append(str(exc))
            continue
        if line.startswith(b"421 "):
            refusals.append(time.perf_counter() - started)
        else:
            other.append(line.decode(errors="replace").strip())


def run(port: int, seconds: float, *background) -> list[float]:
    """The probe's NOOP answer times over that many seconds, with the background threads running."""
    stop = threading.Event()
    answers: list[float] = []
    threads = [threading.Thread(target=probe, args=(port, stop, answers, 0.02))]
    threads[0].start()
    while not answers and threads[0].is_alive():    # the probe holds its session before a flooder may take the slot
        time.sleep(0.005)
    threads += [threading.Thread(target=fn, args=(port, stop, *args)) for fn, *args in background]
    for t in threads[1:]:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return answers


def hold(port: int, count: int) -> list[socket.socket]:
    """count greeted idle sessions, PER_PEER from each loopback address in turn."""
    held = []
    for n in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(f"127.0.0.{2 + n // PER_PEER}", 0))
        assert s.recv(200).startswith(b"220 "), "an idle session was refused"
        held.append(s)
    return held


def row(name: str, times: list[float]) -> str:
    q = statistics.quantiles(times, n=100)
    return (f"  {name:<52} n={len(times):>6}  p50 {q[49] * 1000:7.2f} ms  p99 {q[98] * 1000:7.2f} ms  "
            f"max {max(times) * 1000:7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}")
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-limits-"))
    port = free_port()
    config_on_port(ROOT, tmp, port)
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi", "-c", str(tmp / "config.toml"), "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        time.sleep(1)                   # wait_listening's own session is closed and uncounted by now
        idle = run(port, args.seconds)
        held = hold(port, MAX_CONNECTIONS - 1)
        full = run(port, args.seconds)
        refusals: list[float] = []
        other: list[str] = []
        flooded = run(port, args.seconds, (flood, refusals, other))
        for s in held:
            s.close()
    finally:
        proc.terminate()
        proc.wait()
    print(f"NOOP answer times of a probe session; max_connections = {MAX_CONNECTIONS}")
    print(row("idle daemon (baseline)", idle))
    print(row(f"{MAX_CONNECTIONS - 1} idle sessions held + the probe (full)", full))
    print(row("full, and a flooder's new connections refused", flooded))
    print(row("a refused newcomer: connect to its 421", refusals))
    print(f"  refused connections: {len(refusals)} in {args.seconds:.0f} s "
          f"({len(refusals) / args.seconds:.0f}/s); other outcomes: {len(other)} {other[:3]}")


if __name__ == "__main__":
    main()
