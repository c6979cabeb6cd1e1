"""Commands that only read never wait for a writer and never create anything."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.support.configs import write_config
from tsunagi.app import cli

HOLD_A_WRITE = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
c.execute("INSERT INTO alerts (at, kind, subject, detail) VALUES ('x', 'x', 'x', 'x')")
print('holding', flush=True)
time.sleep(60)
"""


def test_orders_and_stock_answer_while_another_process_holds_a_write_transaction(tmp_path, capsys):
    path = write_config(tmp_path)
    assert cli.main(["-c", str(path), "ship", "ready"]) == 0          # the database exists, at the current schema
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_WRITE, str(tmp_path / "var" / "tsunagi.db")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for command in (["orders", "--json"], ["stock", "--json"], ["mail", "log", "--json"]):
            capsys.readouterr()
            started = time.monotonic()
            assert cli.main(["-c", str(path), *command]) == 0
            assert time.monotonic() - started < 2, command
            assert json.loads(capsys.readouterr().out) == []
    finally:
        holder.kill()
        holder.wait()


def test_check_on_a_fresh_directory_creates_nothing(tmp_path, capsys):
    path = write_config(tmp_path)
    assert cli.main(["-c", str(path), "check"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_read_command_before_any_data_says_so_in_one_line(tmp_path, capsys):
    path = write_config(tmp_path)
    assert cli.main(["-c", str(path), "orders"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no database at ") and err.count("\n") == 1
    assert not (tmp_path / "var").exists()


def test_version_and_module_entry_point_answer(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tsunagi", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("tsunagi ")
