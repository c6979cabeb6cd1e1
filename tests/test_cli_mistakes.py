"""What an operator types wrong, or points tsunagi at wrongly, is one line and exit status 2, never a traceback."""
from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config
from tsunagi.app import cli
from tsunagi.demo.mails import Item, SampleOrder, order_mail

ORDER_NO = "402853-20260612-0000000001"


def refusal(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip()


def tsunagi(path, *args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsunagi", "-c", str(path), *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def ordered(config_path) -> None:
    mail = config_path.parent / "order.eml"
    mail.write_bytes(order_mail("rakuten", SampleOrder(ORDER_NO, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO))
    assert cli.main(["-c", str(config_path), "ingest", "--shop", "rakuten", str(mail)]) == 0


def test_a_config_file_that_is_not_utf8_text_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_bytes('data_dir = "倉庫"\n'.encode("cp932"))
    assert cli.main(["-c", str(path), "check"]) == 2
    assert refusal(capsys) == f"config error: {path}: not a TOML text file (byte 12 is not UTF-8): save it as UTF-8"


def test_a_price_of_many_digits_is_refused_naming_the_limit(config_path, capsys):
    ordered(config_path)
    code = cli.main(["-c", str(config_path), "order-lines", "rakuten", ORDER_NO, "add", "item-b", "1", "9" * 25])
    assert code == 2
    assert refusal(capsys).endswith(f"error: PRICE {'9' * 25} is too large (at most 999,999,999)")


def test_a_quantity_of_many_digits_is_refused_naming_the_limit(config_path, capsys):
    ordered(config_path)
    code = cli.main(["-c", str(config_path), "order-lines", "rakuten", ORDER_NO, "set", "1", "qty=" + "9" * 25])
    assert code == 2
    assert refusal(capsys).endswith(f"error: qty {'9' * 25} is too large (at most 999,999,999)")


def test_spec_replay_refuses_more_worker_processes_than_it_would_ever_need(config_path):
    out = tsunagi(config_path, "spec", "replay", "rakuten", "--jobs", "9" * 25)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"argument --jobs: {'9' * 25}: give at most 64 processes" in out.stderr


def test_user_audit_refuses_a_limit_larger_than_the_store_can_count(config_path):
    out = tsunagi(config_path, "user", "audit", "--limit", "9" * 25)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "argument --limit" in out.stderr


def test_user_add_with_no_terminal_and_no_password_env_says_how_to_give_the_password(config_path):
    out = tsunagi(config_path, "user", "add", "hanako", "--role", "operator", stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "error: no password was typed: run it at a terminal, or give --password-env VAR" in out.stderr


def test_an_empty_payment_file_is_refused_in_one_line(config_path, tmp_path, capsys):
    (tmp_path / "statement.csv").write_bytes(b"")
    assert cli.main(["-c", str(config_path), "payment", "import", str(tmp_path / "statement.csv")]) == 2
    assert refusal(capsys) == "error: the file is empty: export the statement again"


def test_a_csv_whose_name_is_not_utf8_is_imported_its_name_kept_as_escapes(config_path, tmp_path, capsys):
    name = tmp_path / os.fsdecode(b"counts-\xff.csv")
    name.write_text("sku,location,lot,qty\nitem-a,本店倉庫,1,7\n", encoding="utf-8")
    assert cli.main(["-c", str(config_path), "import", "--shop", "rakuten", str(name)]) == 0
    metas = list((config_path.parent / "var" / "spool" / "done").glob("*/*.meta.json"))
    assert [json.loads(m.read_text(encoding="utf-8"))["file"] for m in metas] == [f"{tmp_path}/counts-\\xff.csv"]


def test_a_mail_file_whose_name_is_not_utf8_is_taken(config_path, tmp_path, capsys):
    mail = tmp_path / os.fsdecode(b"order-\xfe.eml")
    mail.write_bytes(order_mail("rakuten", SampleOrder(ORDER_NO, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO))
    assert cli.main(["-c", str(config_path), "ingest", "--shop", "rakuten", str(mail)]) == 0
    assert f"order created: rakuten {ORDER_NO}" in capsys.readouterr().out


def test_a_database_file_that_is_not_sqlite_is_named_by_a_command_that_writes(config_path, capsys):
    db = config_path.parent / "var" / "tsunagi.db"
    for extra in ("-wal", "-shm"):
        (config_path.parent / "var" / f"tsunagi.db{extra}").unlink(missing_ok=True)
    db.write_text("not a database at all\n")
    assert cli.main(["-c", str(config_path), "stock", "import", str(config_path.parent / "counts.csv")]) == 2
    assert refusal(capsys) == f"error: cannot read {db}: file is not a database"


def test_a_database_another_process_holds_is_said_to_be_busy(config_path, tmp_path):
    edit_config(config_path, lambda d: d["store"].update(busy_timeout_seconds=0.5))
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                               "c.execute('BEGIN IMMEDIATE'); c.execute('CREATE TABLE held (x)')\n"
                               "print('held', flush=True); time.sleep(60)",
                               str(config_path.parent / "var" / "tsunagi.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        out = tsunagi(config_path, "products", "delete", "--force", "item-c")
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 1 and "Traceback" not in out.stderr      # the moment's state, not a mistake
    assert out.stderr.startswith("error: the database is busy: another program has held it too long")
    with sqlite3.connect(config_path.parent / "var" / "tsunagi.db") as db:     # the refusal lost nothing
        assert db.execute("SELECT count(*) FROM products WHERE sku = 'item-c'").fetchone() == (1,)


class CtrlCWhileLoading:
    """An import finder that stands for a Ctrl-C arriving while the commands' modules load."""

    def find_spec(self, name, path=None, target=None):
        if name == "tsunagi.app.commands":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_commands_load_is_interrupted_not_a_traceback(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "tsunagi.app.commands")
    monkeypatch.setattr(sys, "meta_path", [CtrlCWhileLoading(), *sys.meta_path])
    with pytest.raises(SystemExit) as stopped:
        importlib.reload(cli)
    assert stopped.value.code == 130
    assert refusal(capsys) == "interrupted"


def test_user_add_with_stdin_closed_says_how_to_give_the_password(config_path):
    out = subprocess.run(f"{sys.executable} -m tsunagi -c {config_path} user add hanako --role operator <&-",
                         shell=True, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "error: no password was typed" in out.stderr


@pytest.mark.parametrize("action", ["show", "retry"])
def test_an_unknown_spool_item_is_refused_saying_where_the_ids_are(config_path, capsys, action):
    assert cli.main(["-c", str(config_path), "spool", action, "20260101T000000.000000-nosuch"]) == 2
    err = refusal(capsys)
    assert err.startswith("error: no item 20260101T000000.000000-nosuch in ")
    assert err.endswith("(the ids are in tsunagi spool list)")


@pytest.mark.parametrize("command", [["import", "--shop", "rakuten"], ["stock", "import"], ["products", "import"],
                                     ["ingest", "--shop", "rakuten"], ["payment", "import"]])
def test_a_fifo_given_as_the_file_is_refused_in_one_line_without_waiting(config_path, tmp_path, command):
    fifo = tmp_path / "orders.csv"
    os.mkfifo(fifo)
    at = command.index("import") + 1 if "import" in command else 1
    out = tsunagi(config_path, *command[:at], str(fifo), *command[at:])     # opening it would wait for ever
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"error: {fifo}: not a file (a folder, a FIFO or a device): give the file itself"
