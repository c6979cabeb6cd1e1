"""Drop folders watched by the running daemon: a file is taken once complete, applied, and removed."""
from __future__ import annotations

import json
import os
import time

from tests.support.configs import RAKUTEN_TO
from tests.support.daemon import Running, wait_for
from tsunagi.demo.csvs import order_csv, stock_csv
from tsunagi.demo.mails import Item, SampleOrder, order_mail


def _order(no: int) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{no:010d}", [Item("item-b", "商品B", 1, 500)])


def _status(running: Running, no: int) -> str | None:
    return running.store.read().value("SELECT status FROM orders WHERE order_no = ?", _order(no).order_no)


def _drop(running: Running, shop: str = "rakuten"):
    return running.spool.dir("drop") / shop


def test_a_file_dropped_in_a_shops_folder_is_applied_and_removed(running):
    (_drop(running) / "orders.csv").write_bytes(order_csv("rakuten-rms", [_order(1)]))
    wait_for(lambda: _status(running, 1) == "confirm")
    wait_for(lambda: not list(_drop(running).iterdir()))
    done = wait_for(lambda: list(running.spool.dir("done").glob("*/*.meta.json")))   # filed after the commit
    meta = json.loads(done[0].read_text())
    assert meta["source"] == "drop" and meta["shop"] == "rakuten" and meta["file"] == "orders.csv"


def test_a_file_still_being_written_is_taken_only_once_complete(running):
    data = order_csv("rakuten-rms", [_order(n) for n in range(10, 40)])
    path = _drop(running) / "slow.csv"
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        time.sleep(1.5)                     # longer than drop_stable_seconds: still open, so not taken
        assert path.exists()
        fh.write(data[len(data) // 2:])
    wait_for(lambda: _status(running, 39) is not None)    # item-b has 10 in stock: the rest wait (引当待ち)
    assert running.store.read().value("SELECT COUNT(*) FROM orders") == 30
    done = wait_for(lambda: list(running.spool.dir("done").glob("*/*.csv")))     # filed after the commit
    assert len(done) == 1 and done[0].read_bytes() == data
    assert running.failed() == []


def test_a_file_renamed_into_the_folder_is_taken_at_once(running):
    tmp = _drop(running) / ".upload.part"
    tmp.write_bytes(order_csv("rakuten-rms", [_order(2)]))
    time.sleep(1.0)
    assert tmp.exists()                     # a temporary name is left alone
    os.rename(tmp, _drop(running) / "final.csv")
    wait_for(lambda: _status(running, 2) == "confirm", timeout=5)


def test_a_stock_file_dropped_sets_absolute_counts(running):
    (_drop(running, "yahoo") / "count.csv").write_bytes(stock_csv([("item-a", "本店倉庫", "1", 42)]))
    wait_for(lambda: running.store.read().value("SELECT SUM(on_hand) FROM stock WHERE sku = 'item-a'") == 42)


def test_a_file_dropped_while_the_daemon_was_down_is_taken_at_start_up(config_path):
    cfg_dir = config_path.parent
    first = Running(config_path)
    first.stop()
    (cfg_dir / "var" / "spool" / "drop" / "rakuten" / "while-down.csv").write_bytes(
        order_csv("rakuten-rms", [_order(3)]))
    again = Running(config_path)
    try:
        wait_for(lambda: _status(again, 3) == "confirm")
    finally:
        again.stop()


def test_a_bad_dropped_file_is_quarantined_and_the_daemon_keeps_serving(running):
    (_drop(running) / "broken.csv").write_bytes(b"\x82\xa0\xff\xfe\xfd,\x81\r\n")
    wait_for(lambda: running.failed())
    assert running.failed()[0]["kind"] == "encoding"
    running.send(order_mail("rakuten", _order(4), RAKUTEN_TO))
    wait_for(lambda: _status(running, 4) == "new")


def test_a_folder_that_is_not_a_shop_is_left_alone(running):
    stray = running.spool.dir("drop") / "unknown-shop"
    stray.mkdir()
    (stray / "x.csv").write_bytes(b"a,b\n")
    time.sleep(3)
    assert (stray / "x.csv").exists() and not running.failed()


def test_a_long_file_does_not_hold_up_orders_arriving_by_mail(running):
    big = order_csv("rakuten-rms", [SampleOrder(f"402853-20260612-{n:010d}", [Item("item-b", "商品B", 1, 500)])
                                    for n in range(1000, 9000)])
    (_drop(running) / "big.csv").write_bytes(big)
    wait_for(lambda: running.store.read().value("SELECT COUNT(*) FROM orders") > 0, timeout=30)
    running.send(order_mail("rakuten", _order(5), RAKUTEN_TO))
    wait_for(lambda: _status(running, 5) is not None, timeout=10)
    assert running.store.read().value("SELECT COUNT(*) FROM orders") < 8001      # the file was still going
    wait_for(lambda: running.store.read().value("SELECT COUNT(*) FROM orders") == 8001, timeout=120)


SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"


def _files_holding(folder, needle: bytes) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_a_symlink_is_refused_with_its_reason_and_its_target_is_never_read(running, tmp_path, capsys):
    secret = tmp_path / "outside" / "id_ed25519"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    os.symlink(secret, _drop(running) / "orders.csv")
    [reason] = wait_for(running.failed)
    assert reason["kind"] == "refused" and "シンボリックリンク" in reason["message"] and "orders.csv" in reason["message"]
    assert not (_drop(running) / "orders.csv").is_symlink() and secret.read_bytes() == SECRET
    assert _files_holding(running.cfg.data_dir, b"b3BlbnNzaC1rZXkt") == []
    assert _files_holding(running.cfg.data_dir, b"BEGIN OPENSSH") == []
    capsys.readouterr()
    assert running.cli("spool", "list") == 0
    listed = capsys.readouterr().out
    assert "シンボリックリンク" in listed and "OPENSSH" not in listed
    time.sleep(2.5)                         # a sweep later: refused once, not again
    assert len(running.failed()) == 1


def test_a_fifo_in_a_drop_folder_is_left_alone_and_other_files_are_still_taken(running):
    os.mkfifo(_drop(running) / "pipe.csv")
    os.mkfifo(_drop(running) / ".moved")
    os.rename(_drop(running) / ".moved", _drop(running) / "moved.csv")     # a rename announces it at once
    time.sleep(2.5)                          # the sweep has met both
    (_drop(running) / "orders.csv").write_bytes(order_csv("rakuten-rms", [_order(6)]))
    wait_for(lambda: _status(running, 6) == "confirm", timeout=5)
    assert (_drop(running) / "pipe.csv").exists() and running.failed() == []


def test_a_file_name_that_is_not_utf8_is_taken_once_and_no_copy_stays_in_tmp(running):
    folder = os.fsencode(_drop(running))
    with open(os.path.join(folder, b"\xff\xfe.csv"), "wb") as fh:
        fh.write(order_csv("rakuten-rms", [_order(7)]))
    wait_for(lambda: _status(running, 7) == "confirm")
    wait_for(lambda: not os.listdir(folder))
    time.sleep(2.5)                          # sweeps later: nothing copied again
    assert list(running.spool.dir("tmp").iterdir()) == []
    [meta] = [json.loads(p.read_text()) for p in running.spool.dir("done").glob("*/*.meta.json")]
    assert meta["file"] == "\\xff\\xfe.csv"
    assert len(list(running.spool.dir("done").glob("*/*.csv"))) == 1


def test_a_binary_file_is_quarantined_without_its_bytes_in_the_listing(running, capsys):
    (_drop(running) / "photo.csv").write_bytes(b"\x1b[2J\x00\x01secret-ish\x07,\x1b]0;x\x07\n" * 3)
    wait_for(running.failed)
    capsys.readouterr()
    assert running.cli("spool", "list") == 0
    listed = capsys.readouterr().out
    assert "\x1b" not in listed and "\x00" not in listed and "\x07" not in listed
    assert "secret-ish" not in listed and "テキストではない" in listed


def test_a_hard_link_to_a_file_outside_is_refused_and_the_file_kept(running, tmp_path):
    secret = tmp_path / "elsewhere.key"
    secret.write_bytes(SECRET)
    os.link(secret, _drop(running) / "linked.csv")
    [reason] = wait_for(running.failed)
    assert reason["kind"] == "refused" and "ハードリンク" in reason["message"]
    assert secret.read_bytes() == SECRET and _files_holding(running.cfg.data_dir, b"BEGIN OPENSSH") == []
