"""`tsunagi spec replay`: a candidate spec tried on the stored mails of a cart's shops before anyone switches."""
from __future__ import annotations

import pytest

from tests.support.configs import YAHOO_TO, edit_config, seed, write_config
from tests.support.daemon import Running
from tsunagi.demo.mails import Item, SampleOrder, build_mail, yahoo_body
from tsunagi.parsers.mailspec import SPEC_DIR

IN_USE = (SPEC_DIR / "yahoo.toml").read_text(encoding="utf-8").replace('cart = "yahoo"', 'cart = "yahoo-store"')
ORDER_NO = 'order_no = { label = "注文ID", required = true }'


def yahoo_mail(n: int, changed: bool = False) -> bytes:
    """The store copy as Yahoo sends it (ISO-2022-JP, 7bit); changed: 注文ID renamed 受付番号."""
    body = yahoo_body(SampleOrder(f"sample-store-{10000100 + n}", [Item("item-a", "商品A", 1, 1000)]))
    return build_mail(body.replace("注文ID：", "受付番号：") if changed else body, "【Yahoo!ショッピング】注文確認",
                      "store@shopping.yahoo.co.jp", YAHOO_TO, charset="iso-2022-jp", cte="7bit")


@pytest.fixture
def stored(tmp_path):
    """Two mails applied and two refused (the cart renamed its label), kept in the spool."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "yahoo-store.toml").write_text(IN_USE, encoding="utf-8")
    config = write_config(tmp_path, mail_spec_dir="specs")
    edit_config(config, lambda c: c["shop"][1].update(cart="yahoo-store"))
    seed(config)
    running = Running(config)
    for n, changed in ((1, False), (2, False), (3, True), (4, True)):
        running.send(yahoo_mail(n, changed), rcpt=YAHOO_TO)
        running.wait_idle()
    assert len(running.failed()) == 2
    yield running
    running.stop()


def changes(out: str) -> list[str]:
    """The change column of the mail-by-mail lines (not the summary)."""
    return [line.split()[2] for line in out.splitlines() if "  " in line and "T" in line.split()[0]]


def candidate(running: Running, text: str) -> str:
    path = running.config_path.parent / "candidate.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_candidate_reading_both_forms_applies_the_refused_and_changes_nothing_else(stored, capsys):
    spec = candidate(stored, IN_USE.replace(ORDER_NO, 'order_no = { label = ["注文ID", "受付番号"], required = true }'))
    assert stored.cli("spec", "replay", "yahoo-store", "--spec", spec) == 0
    out = capsys.readouterr().out
    assert changes(out) == ["now_applies"] * 2 and "order sample-store-10000103 total 1500" in out
    assert "4 mails of yahoo: 2 same, 0 changed, 2 now_applies, 0 now_fails, 0 still_fails" in out


def test_a_candidate_that_fails_what_reads_now_is_shown_mail_by_mail_and_exits_1(stored, capsys):
    spec = candidate(stored, IN_USE.replace(ORDER_NO, 'order_no = { label = "受付番号", required = true }'))
    assert stored.cli("spec", "replay", "yahoo-store", "--spec", spec, "--jobs", "1") == 1
    out = capsys.readouterr().out
    assert changes(out) == ["now_fails"] * 2 + ["now_applies"] * 2 and "order sample-store-10000101: [parse_error] order_no not found" in out


def test_a_changed_value_is_named_with_before_and_after(stored, capsys):
    spec = candidate(stored, IN_USE.replace('payment_method = { label = "お支払い方法" }\n', ""))
    assert stored.cli("spec", "replay", "yahoo-store", "--spec", spec, "--all") == 0
    out = capsys.readouterr().out
    assert out.count("payment_method: クレジットカード → ") == 2
    assert sorted(changes(out)) == ["changed", "changed", "still_fails", "still_fails"]


def test_since_leaves_out_older_mails(stored, capsys):
    assert stored.cli("spec", "replay", "yahoo-store", "--since", "2999-01-01") == 0
    assert "0 mails of yahoo" in capsys.readouterr().out


def test_replay_of_a_cart_no_shop_reads_is_refused_in_one_line(stored, capsys):
    assert stored.cli("spec", "replay", "rakuten-old") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no shop reads cart 'rakuten-old'") and len(err.strip().splitlines()) == 1
