"""IMAP as a second intake: a real Dovecot on loopback (its own CA, certificate and user), mails delivered into a
folder, read over verified TLS, spooled once, moved or flagged only after they are durable."""
from __future__ import annotations

import os
import random
import secrets
import signal
import time
from datetime import timedelta

import pytest

from tests.support.configs import edit_config, seed, write_config
from tests.support.daemon import Running, Serving, wait_for
from tests.support.imapd import JA_PASSWORD, JA_USER, Relay, make_ca
from tests.support.sinks import Sink
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.app.imapintake import run_mailbox
from tsunagi.common.imap import ImapError, mutf7
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.ingest import imap_pull
from tsunagi.ingest.imap_pull import BATCH_BYTES, FolderMissing, Taken, locked
from tsunagi.ingest.spool import Spool
from tsunagi.oms.store import Store
from tests.support.configs import RAKUTEN_TO

PASSWORD_ENV = "TSUNAGI_TEST_IMAP_PASSWORD"
FOLDER, DONE = "受注", "受注済"


def mail(n: int, msgid: str = "", padding: int = 0) -> bytes:
    """Rakuten's order mail for order n; padding: that many bytes more, in a header nobody reads."""
    extra = {"X-Padding": "\r\n\t".join(["p" * 70] * (padding // 73))} if padding else None
    return order_mail("rakuten", SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品A", 1, 1000)]),
                      RAKUTEN_TO, msgid=msgid or f"<order-{n}-{secrets.token_hex(4)}@cart.example>",
                      extra_headers=extra)


@pytest.fixture
def site(tmp_path, imapd, monkeypatch):
    box = imapd.mailbox()
    box.deliver(DONE)
    monkeypatch.setenv(PASSWORD_ENV, box.password)
    return Site(tmp_path, imapd, box)


class Site:
    """The rakuten shop, whose order mails its mail rules file into 受注 on the shop's own IMAP server."""

    def __init__(self, folder, imapd, box):
        self.folder, self.imapd, self.box = folder, imapd, box
        self.config_path = write_config(folder)
        seed(self.config_path)
        self.set_mailbox()

    def set_mailbox(self, **changes) -> None:
        endpoint = {"name": "rakuten-mail", "host": "127.0.0.1", "port": self.imapd.tls_port, "user": self.box.user,
                    "password_env": PASSWORD_ENV, "ca_file": str(self.imapd.ca_file), "folder": FOLDER,
                    "into": "rakuten", "after": "move", "processed_folder": DONE, "every_minutes": 0, "timeout": 10}
        endpoint.update(changes)
        edit_config(self.config_path, lambda config: config.update(imap=[endpoint]))
        self.cfg = config_mod.load(self.config_path)
        self.spool = Spool(self.cfg.spool_dir)

    def run(self) -> dict:
        return run_mailbox(self.cfg, self.spool, self.cfg.mailbox("rakuten-mail"))

    def cli(self, *args) -> int:
        return cli.main(["-c", str(self.config_path), *args])

    def orders(self) -> list:
        return Store(self.cfg.db_path).read().all("SELECT order_no, status FROM orders ORDER BY order_no")

    def imap_items(self) -> list[str]:
        """Ids of the spool items read from the mailbox, wherever they are now."""
        while True:
            try:
                return sorted(p.name[:-10] for p in self.spool.root.rglob("*.meta.json")
                              if '"source": "imap"' in p.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue      # a running daemon moved an item on between the listing and the read: look again


def test_mails_delivered_into_the_folder_become_orders_and_are_moved_to_the_processed_folder(site, capsys):
    site.box.deliver(FOLDER, mail(1), mail(2))
    assert site.cli("imap", "run", "rakuten-mail") == 0
    assert "pulled: 2" in capsys.readouterr().out
    assert [s for _, s in site.orders()] == ["new", "new"]
    assert site.box.count(FOLDER) == 0 and site.box.count(DONE) == 2
    assert site.box.count(DONE, "UNSEEN") == 2        # read with PEEK: the shop's staff still see them unread
    [meta] = [site.spool.find(i)[0].meta for i in site.imap_items()[:1]]
    assert meta["shop"] == "rakuten" and meta["endpoint"] == "rakuten-mail" and meta["message_id"].startswith("<order-")


def test_after_flag_leaves_the_mail_in_its_folder_with_the_flag_and_the_next_run_passes_it_by(site):
    site.set_mailbox(after="flag", processed_folder="")
    site.box.deliver(FOLDER, mail(3))
    assert len(site.run()["pulled"]) == 1
    assert site.box.count(FOLDER, "KEYWORD $Tsunagi") == 1 and site.box.count(FOLDER, "UNSEEN") == 1
    site.box.deliver(FOLDER, mail(4))
    out = site.run()
    assert len(out["pulled"]) == 1 and out["already_pulled"] == []
    assert site.box.count(FOLDER, "KEYWORD $Tsunagi") == 2 and len(site.imap_items()) == 2


def test_after_flag_with_seen_marks_the_mail_read(site):
    site.set_mailbox(after="flag", processed_folder="", flag="\\Seen")
    site.box.deliver(FOLDER, mail(5))
    assert len(site.run()["pulled"]) == 1
    assert site.box.count(FOLDER, "SEEN") == 1 and site.run()["pulled"] == []


def test_a_mail_delivered_twice_with_the_same_message_id_is_spooled_once(site, capsys):
    raw = mail(6, msgid="<same-6@cart.example>")
    again = b"Received: from forwarder.example by mx.example; Fri, 12 Jun 2026 09:00:01 +0900\r\n" + raw
    site.box.deliver(FOLDER, raw, again)
    out = site.run()
    assert len(out["pulled"]) == 1 and len(out["already_pulled"]) == 1 and out["pull_errors"] == []
    assert site.box.count(FOLDER) == 0 and site.box.count(DONE) == 2
    site.box.deliver(FOLDER, raw)                         # and again, in a later run (which applies what waits)
    assert site.cli("imap", "run", "rakuten-mail") == 0
    assert "pulled: 0" in capsys.readouterr().out
    assert len(site.imap_items()) == 1 and len(site.orders()) == 1


def test_a_folder_longer_than_one_listing_is_read_whole_in_one_pass_a_batch_at_a_time(site, monkeypatch):
    monkeypatch.setattr(imap_pull, "LIST_AT_ONCE", 5)
    monkeypatch.setattr(imap_pull, "BATCH_MAILS", 2)
    site.box.deliver(FOLDER, *[mail(n) for n in range(50, 62)])
    out = site.run()
    assert len(out["pulled"]) == 12 and out["pull_errors"] == []
    assert site.box.count(FOLDER) == 0 and site.box.count(DONE) == 12


def test_starttls_on_the_plain_port_reads_the_mailbox_too(site):
    site.set_mailbox(security="starttls", port=site.imapd.port)
    site.box.deliver(FOLDER, mail(7))
    assert len(site.run()["pulled"]) == 1 and site.box.count(DONE) == 1


def test_a_password_that_is_not_ascii_logs_in_too(site, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, JA_PASSWORD)
    site.set_mailbox(user=JA_USER, after="flag", processed_folder="", folder="INBOX")
    assert site.run()["pull_errors"] == []


def test_a_wrong_password_is_one_line_naming_the_mailbox_and_nothing_is_taken(site, monkeypatch, capsys):
    site.box.deliver(FOLDER, mail(8))
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    assert site.cli("imap", "run", "rakuten-mail") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "imap rakuten-mail" in line and "login refused" in line and PASSWORD_ENV in line
    assert "not-the-password" not in line
    assert site.box.count(FOLDER) == 1 and site.imap_items() == []


def test_a_password_variable_not_set_is_said_before_connecting(site, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(ImapError, match=f"{PASSWORD_ENV} .* is not set"):
        site.run()


def test_a_certificate_no_trusted_ca_signed_refuses_the_connection(site, tmp_path):
    other_ca, _, _ = make_ca(tmp_path, "someone else's CA")
    site.box.deliver(FOLDER, mail(9))
    site.set_mailbox(ca_file=str(other_ca))
    with pytest.raises(ImapError, match="certificate is not trusted"):
        site.run()
    site.set_mailbox(ca_file="")                          # the system's CAs do not know the test's CA either
    with pytest.raises(ImapError, match="certificate is not trusted.*ca_file"):
        site.run()
    assert site.box.count(FOLDER) == 1 and site.imap_items() == []


def test_a_processed_folder_missing_on_the_server_is_said_and_nothing_is_taken(site):
    site.set_mailbox(processed_folder="どこにもない")
    site.box.deliver(FOLDER, mail(10))
    with pytest.raises(FolderMissing, match="processed_folder 'どこにもない' does not exist"):
        site.run()
    assert site.box.count(FOLDER) == 1 and site.imap_items() == []


def test_a_mail_larger_than_smtp_max_message_bytes_is_left_on_the_server_and_said(site):
    edit_config(site.config_path, lambda config: config["smtp"].update(max_message_bytes=4096))
    site.set_mailbox()
    site.box.deliver(FOLDER, mail(19, padding=8192), mail(20))
    out = site.run()
    assert len(out["pulled"]) == 1 and "over smtp.max_message_bytes; left on the server" in out["pull_errors"][0]
    assert site.box.count(FOLDER) == 1 and site.box.count(DONE) == 1


def test_a_mailbox_being_read_by_another_process_is_said_not_read_twice_at_once(site, capsys):
    site.box.deliver(FOLDER, mail(21))
    state = site.cfg.data_dir / "imap"
    state.mkdir(parents=True)
    with locked(state / "rakuten-mail.taken", "rakuten-mail"):      # the daemon's pass, say
        assert site.cli("imap", "run", "rakuten-mail") == 1
    assert "another tsunagi process is reading this mailbox now" in capsys.readouterr().err
    assert site.box.count(FOLDER) == 1 and site.run()["pulled"]


def test_the_server_dropping_the_connection_mid_fetch_loses_nothing_and_takes_nothing_twice(site):
    relay = Relay(site.imapd.tls_port)
    site.set_mailbox(port=relay.port)
    site.box.deliver(FOLDER, mail(11), mail(12, padding=BATCH_BYTES), mail(13))   # the large one fetched alone
    relay.cut_after(400_000, on_cut=site.imapd.kill)     # Dovecot dies while the large mail comes down
    try:
        out = site.run()
        assert relay.tripped.is_set()
        assert len(out["pulled"]) == 1 and "connection dropped" in out["pull_errors"][0]
    finally:
        site.imapd.start()
    assert not list(site.spool.dir("tmp").iterdir())
    relay.cut_after(None)
    out = site.run()
    assert len(out["pulled"]) == 2 and out["pull_errors"] == []
    assert site.box.count(FOLDER) == 0 and site.box.count(DONE) == 3
    assert len(site.imap_items()) == 3
    assert site.cli("imap", "run", "rakuten-mail") == 0      # nothing more to take; applies what waits
    assert [n for n, _ in site.orders()] == [f"402853-20260612-{n:010d}" for n in (11, 12, 13)]
    relay.close()


def test_a_connection_cut_at_any_point_is_said_in_one_line_and_the_mails_are_still_taken_once(site, capsys):
    relay = Relay(site.imapd.tls_port)
    site.set_mailbox(port=relay.port)
    site.box.deliver(FOLDER, *[mail(n) for n in range(30, 40)])
    capsys.readouterr()
    for cut in (300, 1500, 3000, 4500, 8000, 12000, 14000, 16000, 18000, 20000):   # greeting … MOVE
        relay.cut_after(cut)
        assert site.cli("imap", "run", "rakuten-mail") in (0, 1)
        err = capsys.readouterr().err
        assert "Traceback" not in err and len([line for line in err.splitlines() if line.startswith("error")]) <= 1
    relay.cut_after(None)
    assert site.cli("imap", "run", "rakuten-mail") == 0
    assert site.box.count(FOLDER) == 0 and site.box.count(DONE) == 10
    assert len(site.imap_items()) == 10 and len(site.orders()) == 10
    relay.close()


def test_the_daemon_reads_the_mailbox_on_its_schedule_and_applies_the_orders(site):
    site.set_mailbox(every_minutes=0.01)
    site.box.deliver(FOLDER, mail(14), mail(15))
    running = Running(site.config_path)
    try:
        wait_for(lambda: len(site.orders()) == 2, timeout=20)
        wait_for(lambda: site.box.count(DONE) == 2, timeout=10)
        site.box.deliver(FOLDER, mail(16))
        wait_for(lambda: len(site.orders()) == 3, timeout=20)
    finally:
        running.stop()


def test_a_daemon_killed_between_the_spool_write_and_the_move_takes_the_mail_once_after_restart(site):
    relay = Relay(site.imapd.tls_port)
    site.set_mailbox(port=relay.port, every_minutes=0.01, timeout=60)
    site.box.deliver(FOLDER, mail(17, padding=300_000))
    relay.stall_up_after(200_000)         # the mail comes down whole; the MOVE that follows never reaches Dovecot
    serving = Serving(site.config_path)
    try:
        wait_for(lambda: site.imap_items(), timeout=30)
        wait_for(lambda: len(site.orders()) == 1, timeout=30)
        os.kill(serving.proc.pid, signal.SIGKILL)
        serving.proc.wait()
    finally:
        if serving.proc.poll() is None:
            serving.stop()
    assert site.box.count(FOLDER) == 1 and site.box.count(DONE) == 0        # not moved: the daemon died first
    relay.stall_up_after(None)
    serving = Serving(site.config_path)
    try:
        wait_for(lambda: site.box.count(DONE) == 1, timeout=30)
        assert site.box.count(FOLDER) == 0
    finally:
        serving.stop()
    assert len(site.imap_items()) == 1 and len(site.orders()) == 1
    relay.close()


def test_the_daemon_killed_at_random_while_it_reads_the_mailbox_takes_every_mail_exactly_once(site):
    site.set_mailbox(every_minutes=0.005)
    site.box.deliver(FOLDER, *[mail(n) for n in range(100, 700)])     # six batches: three kills leave some
    rng = random.Random(15)
    for _ in range(3):               # each time killed once it has taken some, at a random moment after
        serving = Serving(site.config_path)
        before = len(site.imap_items())
        wait_for(lambda: len(site.imap_items()) > before, timeout=30, step=0.005)
        time.sleep(rng.uniform(0, 0.2))
        os.kill(serving.proc.pid, signal.SIGKILL)
        serving.proc.wait()
    assert site.box.count(FOLDER) > 0            # killed before it was done
    serving = Serving(site.config_path)
    try:
        wait_for(lambda: site.box.count(FOLDER) == 0, timeout=120)
        wait_for(lambda: len(site.orders()) == 600, timeout=120)
    finally:
        serving.stop()
    assert site.box.count(DONE) == 600
    items = site.imap_items()
    assert len(items) == 600
    assert len({site.spool.find(i)[0].meta["message_id"] for i in items}) == 600


def test_a_mailbox_failing_longer_than_failing_minutes_is_alerted_and_so_is_its_recovery(site, monkeypatch):
    sink = Sink().start()
    try:
        edit_config(site.config_path, lambda config: config.update(
            relay={"host": "127.0.0.1", "port": sink.port, "security": "none"},
            alerts={"to": ["ops@example.jp"], "sender": "tsunagi@example.jp", "digest_minutes": 0,
                    "failing_minutes": 0}))
        site.set_mailbox(every_minutes=0.01)
        site.box.deliver(FOLDER, mail(18))
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        running = Running(site.config_path)
        try:
            def told(text: str) -> list[str]:
                bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in sink.handler.parsed()]
                return [b for b in bodies if text in b]
            wait_for(lambda: told("IMAP rakuten-mail が"), timeout=20)
            assert "login refused" in told("IMAP rakuten-mail が")[0]
            assert "tsunagi imap run rakuten-mail" in told("IMAP rakuten-mail が")[0]
            monkeypatch.setenv(PASSWORD_ENV, site.box.password)
            wait_for(lambda: told("IMAP rakuten-mail は復旧しました"), timeout=20)
            wait_for(lambda: len(site.orders()) == 1, timeout=20)
            assert len(told("IMAP rakuten-mail が")) == 1
        finally:
            running.stop()
    finally:
        sink.stop()


@pytest.mark.parametrize("table, key", [({"into": "nosuchshop", "processed_folder": "済"}, "into"),
                                        ({"into": "rakuten"}, "processed_folder"),
                                        ({"into": "rakuten", "processed_folder": "INBOX"}, "processed_folder"),
                                        ({"into": "rakuten", "after": "flag", "flag": "a b"}, "flag")])
def test_an_imap_mailbox_names_a_shop_and_somewhere_else_for_mails_once_taken(config_path, capsys, table, key):
    edit_config(config_path, lambda config: config.update(imap=[
        {"name": "m", "host": "imap.example.jp", "user": "u", "password_env": "P", **table}]))
    capsys.readouterr()
    assert cli.main(["-c", str(config_path), "check"]) == 2
    assert f"imap[0].{key}" in capsys.readouterr().err


def test_folder_names_are_sent_in_modified_utf7():
    assert mutf7("受注") == "&U9ds6A-" and mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert mutf7("A&B") == "A&-B"


def test_a_record_line_cut_by_a_crash_is_passed_over_and_the_next_record_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "box.taken"
    Taken(path).add([("<a@x>", "aa", "item-a", "1")])
    with open(path, "a") as fh:
        fh.write('{"message_id": "<b@x>", "sha2')              # the crash: the item it names was never written
    Taken(path).add([("<c@x>", "cc", "item-c", "3")])
    taken = Taken(path)
    assert taken.item_for("<a@x>", "") == "item-a" and taken.item_for("<c@x>", "") == "item-c"
    assert taken.item_for("<b@x>", "bb") is None


def test_a_long_record_keeps_what_was_taken_in_the_last_30_days(tmp_path, later):
    path = tmp_path / "box.taken"
    Taken(path).add([(f"<old-{n}@x>", f"o{n}", f"item-o{n}", str(n)) for n in range(5)])
    later(timedelta(days=31))
    taken = Taken(path)
    taken.add([(f"<new-{n}@x>", f"n{n}", f"item-n{n}", str(n)) for n in range(5)])
    assert taken.compact(above=20) == 0 and taken.compact(above=8) == 5
    again = Taken(path)
    assert again.item_for("<old-1@x>", "o1") is None and again.item_for("<new-1@x>", "") == "item-n1"
