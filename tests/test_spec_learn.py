"""`tsunagi spec learn`: a spec proposed from a refused mail by finding the order's values in it."""
from __future__ import annotations

import re
from pathlib import Path

from tests.support.configs import write_config
from tsunagi.app import cli
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, SampleOrder, build_mail, yahoo_body
from tsunagi.parsers.mailspec import load_spec

ORDER = SampleOrder("sample-store-10000123", [Item("item-a", "商品Ａ", 1, 1280), Item("item-b", "商品B", 2, 2000)],
                    cod_fee=330)


def changed_mail(tmp_path, order: SampleOrder = ORDER, change=lambda b: b.replace("注文ID：", "受付番号：")) -> str:
    """The Yahoo store copy after the cart renamed 注文ID, as it sends it (ISO-2022-JP, 7bit)."""
    raw = build_mail(change(yahoo_body(order)), "【Yahoo!ショッピング】注文確認", "store@shopping.yahoo.co.jp",
                     "orders@example.jp", charset="iso-2022-jp", cte="7bit")
    path = tmp_path / "changed.eml"
    path.write_bytes(raw)
    return str(path)


def proposal_path(config, out: str) -> Path:
    """The file the command says it wrote (relative paths are the config's folder's: data_dir is)."""
    written = Path(re.search(r"^wrote (\S+)$", out, re.M).group(1))
    return written if written.is_absolute() else Path(config).parent / written


def test_learn_writes_a_spec_that_reads_the_refused_mail(tmp_path, capsys):
    config = write_config(tmp_path)
    mail = changed_mail(tmp_path)
    assert cli.main(["-c", str(config), "spec", "test", "yahoo", mail]) == 1
    capsys.readouterr()
    assert cli.main(["-c", str(config), "spec", "learn", "yahoo", "--mail", mail,
                     "--values", "order_no=sample-store-10000123,total=6,110"]) == 0
    out = capsys.readouterr().out
    assert "order_no: label '受付番号' (line 3" in out and "order sample-store-10000123" in out
    proposal = proposal_path(config, out)
    assert load_spec(proposal).cart.startswith("yahoo-learned-")
    assert cli.main(["-c", str(config), "spec", "test", str(proposal), mail]) == 0


def test_a_value_standing_under_two_labels_is_reported_ambiguous_and_left_as_it_was(tmp_path, capsys):
    """No shipping, no fee: 商品合計 and 合計金額 both say 5,280, so the total's label cannot be told."""
    free = SampleOrder(ORDER.order_no, ORDER.items, shipping=0)
    mail = changed_mail(tmp_path, free, lambda b: b.replace("注文ID：", "受付番号：").replace("合計金額：", "お支払総額："))
    config = write_config(tmp_path)
    assert cli.main(["-c", str(config), "spec", "learn", "yahoo", "--mail", mail,
                     "--values", "order_no=sample-store-10000123,total=5280"]) == 1
    out = capsys.readouterr().out
    assert "total: AMBIGUOUS, the value stands under 2 labels ('商品合計' line 33; 'お支払総額' line 37)" in out
    text = proposal_path(config, out).read_text(encoding="utf-8")
    assert "# total: AMBIGUOUS" in text and 'label = "受付番号"' in text
    assert "the proposal does not read the mail yet" in out


def test_learn_takes_the_values_from_the_same_orders_csv_row(tmp_path, capsys):
    config = write_config(tmp_path)
    (tmp_path / "orders.csv").write_bytes(order_csv("yahoo-order", [ORDER]))
    mail = changed_mail(tmp_path, change=lambda b: b.replace("合計金額：", "ご購入金額："))
    assert cli.main(["-c", str(config), "spec", "learn", "yahoo", "--mail", mail,
                     "--order-csv", str(tmp_path / "orders.csv")]) == 0
    out = capsys.readouterr().out
    assert "total: label 'ご購入金額'" in out and "order sample-store-10000123" in out


def test_learn_refuses_values_it_cannot_use_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path)
    assert cli.main(["-c", str(config), "spec", "learn", "yahoo", "--mail", changed_mail(tmp_path),
                     "--values", "ordr=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --values: 'ordr=1'") and len(err.strip().splitlines()) == 1
