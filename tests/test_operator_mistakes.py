"""An operator's mistake is one line saying what is wrong and what to do, exit status 2, never a traceback."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

from tests.support.configs import edit_config, write_config


def tsunagi(path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsunagi", "-c", str(path), *args], capture_output=True, text=True,
                          timeout=120)


def one_line_refusal(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out.stderr.strip().splitlines()[-1]      # serve logs its start before it refuses


def test_a_mistyped_shop_is_refused_listing_the_shops_there_are(tmp_path, config_path):
    err = one_line_refusal(tsunagi(config_path, "orders", "--shop", "yaho"))
    assert "no shop with id 'yaho'" in err and "rakuten, yahoo, ec" in err


def test_an_unknown_status_is_refused_listing_the_statuses(tmp_path, config_path):
    err = one_line_refusal(tsunagi(config_path, "orders", "--status", "shipd"))
    assert "shipd" in err and "shipped" in err


def test_a_missing_input_file_is_named(tmp_path, config_path):
    err = one_line_refusal(tsunagi(config_path, "import", str(tmp_path / "nowhere.csv"), "--shop", "rakuten"))
    assert "nowhere.csv" in err and "No such file" in err


def test_an_unknown_order_is_named(tmp_path, config_path):
    err = one_line_refusal(tsunagi(config_path, "order", "rakuten", "no-such-order"))
    assert "no order no-such-order in shop rakuten" in err


def test_the_smtp_port_in_use_is_said_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write_config(tmp_path)
        edit_config(path, lambda d: d["smtp"].update(listen=f"127.0.0.1:{port}"))
        err = one_line_refusal(tsunagi(path, "serve"))
    assert f"cannot listen on 127.0.0.1:{port}" in err and "smtp.listen" in err


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path, config_path):
    proc = subprocess.Popen(f"{sys.executable} -m tsunagi -c {config_path} check | head -c 10",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_what_tsunagi_writes_is_not_readable_by_others(tmp_path, config_path):
    assert tsunagi(config_path, "ship", "ready").returncode == 0
    db = config_path.parent / "var" / "tsunagi.db"
    assert stat.S_IMODE(os.stat(db).st_mode) & 0o007 == 0
