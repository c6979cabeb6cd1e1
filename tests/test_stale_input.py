"""No stale input wins: an import killed part-way is finished or abandoned by the command's next run and never
replayed by the daemon behind newer files; a stock count older than the figure's own count is refused, reported."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.configs import COUNTS, seed, write_config
from tests.support.daemon import Running, wait_for
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.demo.csvs import stock_csv
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store

HOUR = 3600.0
DAY = 24 * HOUR
FILLER_ROWS = 50_000       # rows after the first that change nothing: the import is still running when killed


def write(path: Path, data: bytes, age: float = 0.0) -> Path:
    """A real file, made `age` seconds ago (its modification time is when its counts were taken)."""
    path.write_bytes(data)
    made = time.time() - age
    os.utime(path, (made, made))
    return path


@pytest.fixture
def config_path(tmp_path) -> Path:
    """The sample site, its stock (10 of each) counted yesterday: every file a test makes is newer."""
    path = write_config(tmp_path)
    seed(path, counts="sku,location,lot,qty\n")
    counted = write(tmp_path / "yesterday.csv", COUNTS.encode(), age=DAY)
    assert cli.main(["-c", str(path), "stock", "import", str(counted)]) == 0
    return path


def on_hand(config_path: Path, sku: str = "item-a") -> int:
    tx = Store.open_read_only(config_mod.load(config_path).db_path).read()
    return tx.value("SELECT SUM(on_hand) FROM stock WHERE sku = ?", sku, default=0)


def spool_of(config_path: Path) -> Spool:
    return Spool(config_mod.load(config_path).spool_dir)


def tsunagi(config_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def big_count(tmp_path: Path, qty: int, age: float) -> Path:
    """item-a counted at qty on its first row, then many rows that change nothing."""
    rows = [("item-a", "本店倉庫", "1", qty)] + [("item-b", "本店倉庫", "1", 10)] * FILLER_ROWS
    return write(tmp_path / "stale.csv", stock_csv(rows, encoding="utf-8"), age)


def killed_mid_file(config_path: Path, tmp_path: Path, qty: int = 100, age: float = HOUR) -> str:
    """`tsunagi import` of a big count file SIGKILLed once its first chunk is committed; the item's id."""
    proc = tsunagi(config_path, "import", str(big_count(tmp_path, qty, age)), "--shop", "rakuten")
    wait_for(lambda: on_hand(config_path) == qty or proc.poll() is not None, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cur = spool_of(config_path).dir("cur")
    left = [p.name[:-10] for p in cur.glob("*.meta.json")]
    assert proc.returncode == -signal.SIGKILL and len(left) == 1, "the import ended before it was killed"
    return left[0]


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys):
    """A command run here, as the operator types it: its exit status and what it printed."""
    def command(config_path: Path, *args: str) -> Ran:
        capsys.readouterr()
        code = cli.main(["-c", str(config_path), *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return command


def test_an_import_killed_mid_file_is_not_replayed_by_the_daemon_after_a_newer_count(config_path, tmp_path):
    """The issue's case: 10 on hand, a count of 100 killed part-way, a corrected count of 50, the daemon
    started: 50 stays, and the killed import waits in cur/ for the command's next run."""
    stale = killed_mid_file(config_path, tmp_path)
    newer = write(tmp_path / "corrected.csv", stock_csv([("item-a", "本店倉庫", "1", 50)], encoding="utf-8"))
    assert cli.main(["-c", str(config_path), "stock", "import", str(newer)]) == 0
    daemon = Running(config_path)
    try:
        assert daemon.spool.waiting() == []                     # recovery put nothing back in new/
        assert (daemon.spool.dir("cur") / f"{stale}.meta.json").exists()
        assert on_hand(config_path) == 50
    finally:
        daemon.stop()


def test_the_next_import_first_finishes_the_interrupted_one_then_the_newer_file(config_path, tmp_path, run):
    stale = killed_mid_file(config_path, tmp_path)
    newer = write(tmp_path / "corrected.csv", stock_csv([("item-a", "本店倉庫", "1", 50)], encoding="utf-8"))
    done = run(config_path, "import", str(newer), "--shop", "rakuten")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith(f"前回中断した取り込み {stale} ({tmp_path / 'stale.csv'}, ") and \
        lines[0].endswith(") を完了します")
    assert lines.index(next(x for x in lines if x.startswith(f"{newer}: "))) > 0     # the newer file after it
    found = spool_of(config_path).find(stale)
    assert found and "done" in str(found[0].folder)
    assert on_hand(config_path) == 50 and on_hand(config_path, "item-b") == 10


def test_an_import_without_a_file_finishes_what_a_killed_run_left(config_path, tmp_path, run):
    stale = killed_mid_file(config_path, tmp_path, qty=100)
    done = run(config_path, "import")
    assert done.code == 0, done.err
    assert done.out.splitlines()[0].endswith("を完了します")
    assert f"{FILLER_ROWS + 1:,} rows" in done.out
    assert "done" in str(spool_of(config_path).find(stale)[0].folder)
    assert run(config_path, "import").code == 2        # nothing left, no file: a one-line refusal


def test_abandon_interrupted_sets_the_killed_import_aside_and_keeps_what_it_applied(config_path, tmp_path, run):
    stale = killed_mid_file(config_path, tmp_path, qty=100)
    done = run(config_path, "import", "--abandon-interrupted")
    assert done.code == 0, done.err
    assert done.out.startswith(f"前回中断した取り込み {stale} (") and "を破棄しました" in done.out
    item, reason = spool_of(config_path).find(stale)
    assert item.folder == spool_of(config_path).dir("failed") and reason["kind"] == "abandoned"
    assert on_hand(config_path) == 100                       # its committed chunk stays, as the line says
    assert run(config_path, "import", "--abandon-interrupted").out.strip() == "前回中断した取り込みはありません"


def test_an_import_still_running_when_the_daemon_starts_is_left_to_its_own_process(config_path, tmp_path, run):
    """A live import holds its lock: the daemon's recovery neither requeues its item nor removes its
    working files, and a second import run does not take it over."""
    proc = tsunagi(config_path, "import", str(big_count(tmp_path, 100, HOUR)), "--shop", "rakuten")
    cur = spool_of(config_path).dir("cur")
    wait_for(lambda: list(cur.glob("*.meta.json")) or proc.poll() is not None, timeout=60)
    daemon = Running(config_path)
    try:
        assert proc.poll() is None and daemon.spool.waiting() == []      # started while the import runs
        other = run(config_path, "import", "--abandon-interrupted")
        assert other.out.strip() == "前回中断した取り込みはありません"
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"{FILLER_ROWS + 1:,} rows" in out and on_hand(config_path) == 100
        assert not list(cur.iterdir())
    finally:
        daemon.stop()


def test_a_count_older_than_the_figures_own_is_refused_and_named_while_the_newer_stands(config_path, tmp_path, run):
    newer = write(tmp_path / "newer.csv", stock_csv([("item-a", "本店倉庫", "1", 50)], encoding="utf-8"), age=60)
    older = write(tmp_path / "older.csv", stock_csv([("item-a", "本店倉庫", "1", 100), ("item-b", "本店倉庫", "1", 20)],
                                                   encoding="utf-8"), age=HOUR)
    assert run(config_path, "import", str(newer), "--shop", "rakuten").code == 0
    done = run(config_path, "import", str(older), "--shop", "rakuten")
    assert done.code == 1
    refusal = next(x.strip() for x in done.out.splitlines() if "item-a" in x)
    assert refusal.startswith("行 2: item-a (本店倉庫 ロット 1): ") and "時点の在庫数 100 は、より新しい" in refusal
    assert on_hand(config_path) == 50 and on_hand(config_path, "item-b") == 20      # the rest of the file applied


def test_the_refusal_names_both_count_times(config_path, tmp_path, run):
    newer = write(tmp_path / "newer.csv", stock_csv([("item-a", "本店倉庫", "1", 50)], encoding="utf-8"), age=60)
    older = write(tmp_path / "older.csv", stock_csv([("item-a", "本店倉庫", "1", 100)], encoding="utf-8"), age=HOUR)
    assert run(config_path, "stock", "import", str(newer)).code == 0
    done = run(config_path, "stock", "import", str(older))
    assert done.code == 1

    def jst(path: Path) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(os.stat(path).st_mtime + 9 * HOUR))

    assert f"item-a (本店倉庫 ロット 1): {jst(older)} 時点の在庫数 100 は、より新しい {jst(newer)} 時点の在庫数があるため" \
           f"反映しません" in done.err
    assert on_hand(config_path) == 50


def test_an_older_file_dropped_late_is_refused_per_row_in_its_report(running, tmp_path):
    drop = running.spool.dir("drop") / "rakuten"
    os.rename(write(tmp_path / "newer.csv", stock_csv([("item-a", "本店倉庫", "1", 50)]), age=60), drop / "newer.csv")
    wait_for(lambda: on_hand(running.config_path) == 50)
    os.rename(write(tmp_path / "older.csv", stock_csv([("item-a", "本店倉庫", "1", 100)]), age=HOUR), drop / "older.csv")
    wait_for(lambda: running.failed())
    (reason,) = running.failed()
    assert "より新しい" in reason["problems"][0]["message"] and "item-a (本店倉庫 ロット 1)" in reason["problems"][0]["message"]
    assert on_hand(running.config_path) == 50


def test_a_counted_at_column_is_honoured_over_the_files_time(config_path, tmp_path, run):
    assert run(config_path, "import", str(write(tmp_path / "a.csv", stock_csv([("item-a", "本店倉庫", "1", 50)]),
                                                  age=60)), "--shop", "rakuten").code == 0
    # a file made now, whose item-a row says it was counted in 2020: older than the count of a minute ago
    text = "sku,location,lot,qty,counted_at\nitem-a,本店倉庫,1,100,2020/01/01 09:00\nitem-b,本店倉庫,1,20,\n"
    done = run(config_path, "import", str(write(tmp_path / "b.csv", text.encode())), "--shop", "rakuten")
    assert done.code == 1 and "2020-01-01 09:00:00 時点の在庫数 100" in done.out
    assert on_hand(config_path) == 50 and on_hand(config_path, "item-b") == 20      # no time: the file's, newer
    # a file made two hours ago whose row was counted half a minute ago (in UTC): newer than the count above
    recent = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 30))
    text = f"sku,location,lot,qty,counted_at\nitem-a,本店倉庫,1,70,{recent}\n"
    assert run(config_path, "import", str(write(tmp_path / "c.csv", text.encode(), age=2 * HOUR)),
               "--shop", "rakuten").code == 0
    assert on_hand(config_path) == 70


def test_a_count_of_the_same_time_as_the_figures_own_is_applied(config_path, tmp_path, run):
    first = write(tmp_path / "first.csv", stock_csv([("item-a", "本店倉庫", "1", 30)]), age=60)
    second = write(tmp_path / "second.csv", stock_csv([("item-a", "本店倉庫", "1", 40)]))
    os.utime(second, ns=(os.stat(first).st_atime_ns, os.stat(first).st_mtime_ns))
    assert run(config_path, "import", str(first), "--shop", "rakuten").code == 0
    assert run(config_path, "import", str(second), "--shop", "rakuten").code == 0
    assert on_hand(config_path) == 40

