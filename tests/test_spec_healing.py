"""A cart that changes its order mail: the shop is alerted after N refused in a row, and a switched spec
runs the refused mails again (real daemon, real SMTP both ways)."""
from __future__ import annotations

import pytest

from tests.support.configs import YAHOO_TO, edit_config, seed, write_config
from tests.support.daemon import Running, wait_for
from tests.support.sinks import Sink
from tsunagi.demo.mails import Item, SampleOrder, build_mail, yahoo_body
from tsunagi.oms import outbound_tables, queries
from tsunagi.parsers.mailspec import SPEC_DIR

CHANGED = "yahoo の受注メールの形式が変わった可能性があります"


def order(n: int) -> SampleOrder:
    return SampleOrder(f"sample-store-{10000100 + n}", [Item("item-a", "商品A", 1, 1000)])


def yahoo_mail(n: int, changed: bool = False, subject: str = "【Yahoo!ショッピング】注文確認") -> bytes:
    """The store copy; changed: the cart now writes 受付番号 where it wrote 注文ID."""
    body = yahoo_body(order(n))
    body = body.replace("注文ID：", "受付番号：") if changed else body
    return build_mail(body, subject, "Yahoo!ショッピング <store@shopping.yahoo.co.jp>",
                      YAHOO_TO, charset="iso-2022-jp", cte="7bit")


@pytest.fixture
def site(tmp_path):
    sink = Sink().start()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "yahoo-store.toml").write_text(
        (SPEC_DIR / "yahoo.toml").read_text(encoding="utf-8").replace('cart = "yahoo"', 'cart = "yahoo-store"'),
        encoding="utf-8")
    config = write_config(tmp_path, mail_spec_dir="specs",
                          relay={"host": "127.0.0.1", "port": sink.port, "security": "none"},
                          alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp", "digest_minutes": 0})
    edit_config(config, lambda c: c["shop"][1].update(cart="yahoo-store"))
    seed(config)
    running = Running(config)
    yield running, sink
    running.stop()
    sink.stop()


def send(running: Running, *mails: bytes) -> None:
    for raw in mails:
        running.send(raw, rcpt=YAHOO_TO)
        running.wait_idle()


def spec_alerts(running: Running) -> list[str]:
    rows = running.store.read().all("SELECT subject, detail FROM alerts WHERE kind = 'spec'")
    return [f"{subject}\n{detail}" for subject, detail in rows]


def test_a_shop_whose_spec_worked_is_alerted_after_three_refused_mails_in_a_row(site):
    running, sink = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True), yahoo_mail(3, changed=True), yahoo_mail(4, changed=True))
    digest = wait_for(lambda: [m for m in sink.handler.parsed() if CHANGED in m.get_body().get_content()], 20)
    text = digest[0].get_body().get_content()
    failed = [r["id"] for r in running.failed()]
    assert len(failed) == 3 and all(item_id in text for item_id in failed)
    assert "order_no not found" in text and "tsunagi spec learn yahoo --mail" in text
    send(running, yahoo_mail(5, changed=True))                    # the same streak is told once
    assert len(spec_alerts(running)) == 1


def test_a_renamed_subject_counts_as_a_changed_format(site):
    running, _ = site
    renamed = [yahoo_mail(n, subject="【Yahoo!ショッピング】新しいご注文") for n in (2, 3, 4)]
    send(running, yahoo_mail(1), *renamed)
    assert [r["kind"] for r in running.failed()] == ["not_an_order"] * 3
    (alert,) = spec_alerts(running)
    assert alert.startswith(CHANGED) and "no order spec" in alert


def test_fewer_refused_in_a_row_than_the_limit_are_not_alerted(site):
    running, _ = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True), yahoo_mail(3, changed=True), yahoo_mail(4),
         yahoo_mail(5, changed=True), yahoo_mail(6, changed=True))
    assert len(running.failed()) == 4 and spec_alerts(running) == []


def test_a_shop_whose_spec_never_worked_is_not_alerted_as_changed(site):
    running, _ = site
    send(running, *(yahoo_mail(n, changed=True) for n in range(1, 5)))
    assert len(running.failed()) == 4 and spec_alerts(running) == []
    told = [subject for _, _, subject, _ in outbound_tables.unsent_alerts(running.store.read())]
    assert len([s for s in told if s.startswith("取り込めませんでした: yahoo")]) == 4   # each told as a failed item


def test_after_a_switch_the_mails_the_old_spec_refused_are_applied(site):
    running, _ = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True), yahoo_mail(3, changed=True))
    assert len(running.failed()) == 2
    running.stop()
    # The operator reviews a proposal and switches the shop to it (here: written by hand).
    spec = running.config_path.parent / "specs" / "yahoo-store.toml"
    (spec.parent / "yahoo-v2.toml").write_text(spec.read_text(encoding="utf-8").replace(
        'order_no = { label = "注文ID", required = true }', 'order_no = { label = "受付番号", required = true }'),
        encoding="utf-8")
    edit_config(running.config_path, lambda c: c["shop"][1].update(cart="yahoo-v2"))
    restarted = Running(running.config_path)
    try:
        restarted.wait_idle()
        tx = restarted.store.read()
        assert all(queries.find_order(tx, "yahoo", order(n).order_no) for n in (1, 2, 3))
        assert restarted.failed() == []
    finally:
        restarted.stop()
        running.stop = lambda: None      # already stopped


def test_a_spec_edited_while_the_daemon_runs_applies_what_it_refused(site):
    running, _ = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True))
    spec = running.config_path.parent / "specs" / "yahoo-store.toml"
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        'order_no = { label = "注文ID", required = true }', 'order_no = { label = ["注文ID", "受付番号"], required = true }'),
        encoding="utf-8")
    wait_for(lambda: queries.find_order(running.store.read(), "yahoo", order(2).order_no), timeout=30)
    assert running.failed() == []


def test_a_learned_spec_switched_to_applies_what_the_old_one_refused(site, capsys):
    """The whole repair: the alert's mail, spec learn, spec replay, the switch, the refused mails applied."""
    running, _ = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True), yahoo_mail(3, changed=True))
    first = running.failed()[0]["id"]
    mail = running.spool.dir("failed") / f"{first}.eml"
    assert running.cli("spec", "learn", "yahoo", "--mail", str(mail),
                       "--values", f"order_no={order(2).order_no},total=1,500") == 0
    out = capsys.readouterr().out
    name = out.split('set the shop\'s cart = "')[1].split('"')[0]
    assert (running.config_path.parent / "specs" / f"{name}.toml").exists()
    assert running.cli("spec", "replay", "yahoo-store", "--spec",
                       str(running.config_path.parent / "specs" / f"{name}.toml")) == 1   # 注文ID mails would fail
    assert "2 now_applies, 1 now_fails" in capsys.readouterr().out
    running.stop()
    edit_config(running.config_path, lambda c: c["shop"][1].update(cart=name))
    restarted = Running(running.config_path)
    try:
        restarted.wait_idle()
        assert all(queries.find_order(restarted.store.read(), "yahoo", order(n).order_no) for n in (1, 2, 3))
        assert restarted.failed() == []
    finally:
        restarted.stop()
        running.stop = lambda: None


def test_a_restart_with_the_same_spec_retries_nothing(site):
    running, _ = site
    send(running, yahoo_mail(1), yahoo_mail(2, changed=True))
    running.stop()
    restarted = Running(running.config_path)
    try:
        restarted.wait_idle()
        assert len(restarted.failed()) == 1
    finally:
        restarted.stop()
        running.stop = lambda: None
