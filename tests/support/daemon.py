"""A daemon running in the test's own process, and waiting for what it does."""
from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from tests.support.configs import RAKUTEN_TO, edit_config
from tests.support.net import free_port, listening
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app.daemon import start_in_thread
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02):
    """predicate()'s first truthy value, polled every step; AssertionError after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


class Running:
    """A daemon in this process, its config and its parts, as a test sees them."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.cfg = config_mod.load(config_path)
        self.daemon, self.thread = start_in_thread(self.cfg)
        self.port = self.daemon.port
        self.spool = Spool(self.cfg.spool_dir)
        self.store = Store(self.cfg.db_path)

    def send(self, raw: bytes, rcpt: str = RAKUTEN_TO, sender: str = "cart@example.jp") -> dict:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            return smtp.sendmail(sender, [rcpt], raw)

    def idle(self) -> bool:
        return not self.spool.waiting() and not any(self.spool.dir("cur").iterdir())

    def wait_idle(self, timeout: float = 15) -> None:
        wait_for(self.idle, timeout)

    def failed(self) -> list[dict]:
        return self.spool.failed()

    def cli(self, *args: str) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(timeout=15)
        self.store.close()


class Serving:
    """`tsunagi serve` in a process of its own (the command path, its logging and its memory are the real ones),
    on a free loopback port; stopped with SIGTERM."""

    def __init__(self, config_path: Path, env: dict | None = None):
        self.port = free_port()
        edit_config(config_path, lambda config: config["smtp"].update(listen=f"127.0.0.1:{self.port}"))
        self.cfg = config_mod.load(config_path)
        self.spool = Spool(self.cfg.spool_dir)
        self.stderr = config_path.parent / "serve.stderr"     # a file: a pipe nobody reads would stall it
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "serve"],
                                         env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: listening(self.port) or self.proc.poll() is not None, timeout=30)
        assert self.proc.poll() is None, self.stderr.read_text()

    def peak_rss(self) -> int:
        """The most memory the process has held so far, in bytes (Linux's VmHWM)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024

    def probe(self) -> float:
        """Seconds an SMTP session takes to be greeted and to answer NOOP."""
        started = time.monotonic()
        # local_hostname given: smtplib would ask DNS for this machine's name (getfqdn), which can stall
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30, local_hostname="probe.test") as smtp:
            smtp.noop()
        return time.monotonic() - started

    def stop(self) -> str:
        """SIGTERM, wait; what it wrote to stderr."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return self.stderr.read_text(errors="replace")
