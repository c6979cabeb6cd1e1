"""`tsunagi import` reads a file once: its spool copy is made durable in a thread while the same bytes are
planned, and nothing is applied before the copy is durable. A file the plan cannot take is read from its copy,
as before."""
from __future__ import annotations

import os
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from tests.support.configs import seed, write_config
from tests.support.daemon import wait_for
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder
from tsunagi.ingest import readahead
from tsunagi.ingest.csvimport import CsvImporter
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store


def order(no: int) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{no:010d}", [Item("item-a", "商品A", 1, 1000)])


def orders_file(tmp_path, name: str, numbers) -> str:
    path = tmp_path / name
    path.write_bytes(order_csv("rakuten-rms", [order(n) for n in numbers]))
    return str(path)


def run(config_path, capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["-c", str(config_path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def counted(config_path) -> tuple[int, int]:
    """(orders, remembered digests) in the store."""
    tx = Store(config_path.parent / "var" / "tsunagi.db").read()
    return tx.value("SELECT count(*) FROM orders"), tx.value("SELECT count(*) FROM order_csv_digests")


def test_nothing_is_applied_before_the_copy_is_durable(config_path, tmp_path, capsys, monkeypatch):
    planned, seen = threading.Event(), []
    prepare, put_file = CsvImporter.prepare, Spool.put_file

    def prepare_then_tell(self, data, meta):
        out = prepare(self, data, meta)
        seen.append(out)
        planned.set()
        return out

    def copy_after_the_plan(self, *args, **kw):     # the copy finishes only once the plan is made
        assert planned.wait(30)
        seen.append(counted(config_path))
        return put_file(self, *args, **kw)

    monkeypatch.setattr(CsvImporter, "prepare", prepare_then_tell)
    monkeypatch.setattr(Spool, "put_file", copy_after_the_plan)
    code, out, err = run(config_path, capsys, "import", orders_file(tmp_path, "a.csv", [1, 2]), "--shop", "rakuten")
    assert code == 0, err
    assert seen[0] is not None, "the file was not read ahead"
    assert seen[1] == (0, 0)           # planned, the copy not yet durable: the store untouched
    assert "created: 2" in out and counted(config_path) == (2, 2)


def test_a_re_import_read_ahead_leaves_unchanged_orders_out(config_path, tmp_path, capsys, monkeypatch):
    run(config_path, capsys, "import", orders_file(tmp_path, "a.csv", [1, 2, 3]), "--shop", "rakuten")
    plans = []
    prepare = CsvImporter.prepare
    monkeypatch.setattr(CsvImporter, "prepare", lambda self, *a: plans.append(prepare(self, *a)) or plans[-1])
    code, out, err = run(config_path, capsys, "import", orders_file(tmp_path, "b.csv", [1, 2, 3, 4]), "--shop", "rakuten")
    assert code == 0, err
    assert plans and plans[0] is not None
    assert "unchanged: 3" in out and "created: 1" in out


def test_a_file_larger_than_what_is_held_is_imported_from_its_copy(config_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(readahead, "IN_MEMORY", 100)
    monkeypatch.setattr(CsvImporter, "prepare", lambda *a: (_ for _ in ()).throw(AssertionError("read ahead")))
    code, out, err = run(config_path, capsys, "import", orders_file(tmp_path, "a.csv", [1, 2]), "--shop", "rakuten")
    assert code == 0, err
    assert "created: 2" in out


def test_a_file_that_grew_past_what_is_held_is_copied_whole_and_read_from_its_copy(config_path, tmp_path, capsys,
                                                                                 monkeypatch):
    path = orders_file(tmp_path, "a.csv", [1, 2, 3])
    fstat = os.fstat

    def looked_at_earlier(fd):      # the size seen before the file grew past what is held
        info = fstat(fd)
        return os.stat_result((*info[:6], 100, *info[7:])) if stat.S_ISREG(info.st_mode) else info
    monkeypatch.setattr(readahead, "IN_MEMORY", 200)
    monkeypatch.setattr(readahead.os, "fstat", looked_at_earlier)
    monkeypatch.setattr(CsvImporter, "prepare", lambda *a: (_ for _ in ()).throw(AssertionError("read ahead")))
    code, out, err = run(config_path, capsys, "import", path, "--shop", "rakuten")
    assert code == 0, err
    assert "created: 3" in out


def test_a_file_the_plan_cannot_read_is_refused_from_its_copy_naming_the_byte(config_path, tmp_path, capsys,
                                                                             monkeypatch):
    good = order_csv("rakuten-rms", [order(1)])
    path = tmp_path / "bad.csv"
    path.write_bytes(good + good.splitlines(keepends=True)[1].replace("商品A".encode("cp932"), b"\x82\xff\x82"))
    plans = []
    prepare = CsvImporter.prepare
    monkeypatch.setattr(CsvImporter, "prepare", lambda self, *a: plans.append(prepare(self, *a)) or plans[-1])
    code, _, err = run(config_path, capsys, "import", str(path), "--shop", "rakuten")
    assert plans == [None]            # the plan gave up; the copy's own read refused it
    assert code == 1
    assert f"byte {len(good) + good.splitlines(keepends=True)[1].index('商品A'.encode('cp932'))}" in err
    assert "not imported" in err
    assert counted(config_path) == (0, 0)
    assert len(list(Spool(config_path.parent / "var" / "spool").dir("failed").glob("*.meta.json"))) == 1


def test_ctrl_c_while_reading_ahead_leaves_the_import_for_the_next_run(config_path, tmp_path, capsys, monkeypatch):
    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(CsvImporter, "prepare", interrupted)
    code, _, err = run(config_path, capsys, "import", orders_file(tmp_path, "a.csv", [1, 2]), "--shop", "rakuten")
    assert code == 130 and "次の tsunagi import がこの取り込み" in err
    assert counted(config_path) == (0, 0)
    monkeypatch.undo()
    code, out, err = run(config_path, capsys, "import")
    assert code == 0, err
    assert out.splitlines()[0].endswith("を完了します") and "created: 2" in out


def cp932(data: bytes) -> str:
    return data.decode("cp932")


SAME_AS_PLAIN = {     # files imported one after another: (name, bytes, extra arguments)
    "cumulative": [("a.csv", order_csv("rakuten-rms", [order(n) for n in range(1, 6)]), []),
                   ("b.csv", order_csv("rakuten-rms", [order(n) for n in range(1, 9)]), [])],
    "utf-8 with a BOM": [("a.csv", b"\xef\xbb\xbf" + cp932(order_csv("rakuten-rms", [order(1), order(2)])).encode(), [])],
    "EUC-JP twice": [("a.csv", cp932(order_csv("rakuten-rms", [order(1)])).encode("euc_jp"), []),
                     ("b.csv", cp932(order_csv("rakuten-rms", [order(1)])).encode("euc_jp"), [])],
    "refused rows tried again": [
        ("a.csv", order_csv("rakuten-rms", [order(1), SampleOrder(order(2).order_no, [Item("no-such", "謎", 1, 10)]),
                                            SampleOrder(order(3).order_no, [Item("item-a", "商品A", 0, 1000)])]), []),
        ("b.csv", order_csv("rakuten-rms", [order(1), SampleOrder(order(2).order_no, [Item("no-such", "謎", 1, 10)]),
                                            SampleOrder(order(3).order_no, [Item("item-a", "商品A", 0, 1000)])]), [])],
    "a named layout": [("a.csv", order_csv("rakuten-rms", [order(1)]), ["--layout", "rakuten-rms"])],
}


def imported(folder, files, capsys) -> tuple[list, tuple]:
    """Each import's exit status and lines (times and ids left out), and the store's orders, digests and lines."""
    folder.mkdir()
    config_path = write_config(folder)
    seed(config_path)
    said = []
    for name, data, extra in files:
        (folder / name).write_bytes(data)
        code, out, err = run(config_path, capsys, "import", str(folder / name), "--shop", "rakuten", *extra)
        said.append((code, re.sub(r"[\d.,]+ s \([\d,]+ rows/s\)|\d{8}T[\d.]+-[0-9a-f]+|/\S+/", "", out + err)))
    tx = Store(folder / "var" / "tsunagi.db").read()
    return said, (tx.all("SELECT order_no, status, hold_reason FROM orders ORDER BY order_no"),
                  tx.all("SELECT order_no, digest FROM order_csv_digests ORDER BY order_no"),
                  tx.value("SELECT count(*) FROM order_lines"))


@pytest.mark.parametrize("case", SAME_AS_PLAIN)
def test_a_planned_import_says_and_stores_what_one_read_from_its_copy_does(tmp_path, capsys, monkeypatch, case):
    planned = imported(tmp_path / "planned", SAME_AS_PLAIN[case], capsys)
    monkeypatch.setattr(CsvImporter, "prepare", lambda *a: None)
    assert planned == imported(tmp_path / "plain", SAME_AS_PLAIN[case], capsys)


def at_work(spool: Spool) -> bool:
    """An import's copy being written (tmp/) or its item being applied (cur/)."""
    return any(spool.dir("tmp").glob("*.part")) or any(spool.dir("cur").glob("*.csv"))


def test_sigkill_at_random_moments_of_imports_leaves_each_order_once(config_path, tmp_path):
    """Cumulative files (each the last one plus 300 orders) imported and SIGKILLed at random moments; the
    next run finishes what a killed one left: every order is there once, with its one line."""
    rng = random.Random(11)
    spool, caught = Spool(config_path.parent / "var" / "spool"), []
    for n in range(6):
        path = orders_file(tmp_path, f"pull-{n}.csv", range(1, 300 * (n + 1) + 1))
        proc = subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "import", path,
                                 "--shop", "rakuten"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: at_work(spool) or proc.poll() is not None, timeout=60)
        time.sleep(rng.uniform(0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        caught.append(at_work(spool))
    assert any(caught), "no kill caught an import at work"
    last = orders_file(tmp_path, "pull-last.csv", range(1, 1801))
    done = subprocess.run([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), "import", last,
                           "--shop", "rakuten"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tx = Store(config_path.parent / "var" / "tsunagi.db").read()
    assert tx.value("SELECT count(*) FROM orders") == 1800
    assert tx.value("SELECT count(DISTINCT order_no) FROM orders") == 1800
    assert tx.value("SELECT count(*) FROM order_lines") == 1800
    assert not list(spool.dir("cur").glob("*.csv"))
