"""`tsunagi demo`, the README's first command, does what the README says it does."""
from __future__ import annotations

from tsunagi.app import cli


def test_the_demo_runs_the_daemon_and_shows_orders_labels_mails_and_feeds(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("250 accepted") == 5 and "550 5.1.1" in out
    assert "yamato-labels-" in out and "T00000001,0,0," in out
    assert "Subject: 【サンプル 自社サイト (EC-CUBE)】ご注文ありがとうございます（注文番号 1001）" in out
    assert "印刷待ち" in out and "保留" in out and "商品マスタにない商品コード: TS-999" in out
    assert "rakuten-stock-" in out and "yahoo-stock-" in out
