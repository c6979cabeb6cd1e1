"""Loopback helpers the benchmarks share: a free port, the sample config on it, waiting until a server listens,
a probe client timing SMTP answers."""
from __future__ import annotations

import smtplib
import socket
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def config_on_port(tree: Path, folder: Path, port: int) -> tuple[Path, str]:
    """The repository's sample config.toml (from tree) written into folder, listening on port: its path and text."""
    text = (tree / "config.toml").read_text(encoding="utf-8").replace('listen = "127.0.0.1:2525"',
                                                                      f'listen = "127.0.0.1:{port}"')
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path, text


def probe(port: int, stop: threading.Event, out: list[float], pause: float = 0.05) -> None:
    """One SMTP session sending NOOP every pause seconds until stop, each answer's time appended to out."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        while not stop.is_set():
            started = time.perf_counter()
            smtp.noop()
            out.append(time.perf_counter() - started)
            time.sleep(pause)
