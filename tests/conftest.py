"""Fixtures: real config files, a real daemon on loopback, a settable clock, a real sshd, a real Dovecot.
The builders they use live in tests/support/."""
from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.configs import seed, write_config
from tests.support.browser import Page, chromium
from tests.support.console import Console
from tests.support.daemon import Running
from tests.support.imapd import ImapServer
from tests.support.sshd import SshServer
from tsunagi.common import clock


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = write_config(tmp_path)
    seed(path)
    return path


@pytest.fixture
def running(config_path):
    r = Running(config_path)
    yield r
    r.stop()


@pytest.fixture
def console(config_path):
    """The daemon with its web console on loopback, and a user of each role (tests/support/console.py)."""
    c = Console(config_path)
    yield c
    c.stop()


@pytest.fixture
def browser(console, tmp_path):
    """A real headless Chromium with a fresh profile, on the console (tests/support/browser.py)."""
    driver = chromium(tmp_path / "chromium-profile")
    yield Page(driver, console.port)
    driver.quit()


@pytest.fixture
def later():
    """Moves this process's clock forward (instead of editing rows' times); back to real time afterwards."""
    total = timedelta(0)

    def move(delta: timedelta) -> None:
        nonlocal total
        total += delta
        clock.set_shift(total)

    yield move
    clock.set_shift(timedelta(0))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on loopback with its own host and user keys (tests/support/sshd.py)."""
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def imapd():
    """A real Dovecot on loopback with its own CA, certificate and passwd-file (tests/support/imapd.py); each
    test takes a mailbox of its own (imapd.mailbox). Its folder is outside pytest's (closed) tmp folder: Dovecot
    reads mail as an unprivileged user."""
    root = Path(tempfile.mkdtemp(prefix="tsunagi-imapd-"))
    server = ImapServer(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
