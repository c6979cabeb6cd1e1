"""Who may send orders, on the real receiver: STARTTLS, AUTH PLAIN/LOGIN after it, each shop's accept_from
refusing other senders at RCPT (nothing spooled), require_tls, and `tsunagi check` warning of an open port."""
from __future__ import annotations

import base64
import shutil
import smtplib
import ssl
import subprocess

import pytest

from tests.support.configs import RAKUTEN_TO, YAHOO_TO, edit_config, seed, shop, write_config
from tests.support.daemon import Running
from tests.support.keys import self_signed
from tsunagi.app import cli
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms import queries

PASSWORD_ENV = "TSUNAGI_TEST_FORWARDER_PASSWORD"
PASSWORD = "correct-horse-battery"


def rakuten(order_no="402853-20260612-0000000001") -> bytes:
    return order_mail("rakuten", SampleOrder(order_no, [Item("item-a", "商品A", 1, 1000)]), RAKUTEN_TO)


@pytest.fixture
def tls_site(tmp_path, monkeypatch):
    """A config with a certificate, one SMTP user, and the rakuten shop's accept_from left to each test."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    self_signed(tmp_path)
    path = write_config(tmp_path, smtp={"tls_cert": "cert.pem", "tls_key": "key.pem",
                                        "user": [{"name": "forwarder", "password_env": PASSWORD_ENV}]})
    seed(path)
    return path


def start(path, accept_from: list[str] | None = None, **smtp) -> Running:
    def change(data):
        if accept_from is not None:
            shop(data, "rakuten")["accept_from"] = accept_from
        data["smtp"].update(smtp)
    edit_config(path, change)
    return Running(path)


@pytest.fixture
def daemon(tls_site):
    started: list[Running] = []

    def run(accept_from=None, **smtp) -> Running:
        started.append(start(tls_site, accept_from, **smtp))
        return started[-1]
    yield run
    for r in started:
        r.stop()


def tls(r: Running) -> smtplib.SMTP:
    """A session that has said STARTTLS, the certificate verified against the test's own."""
    smtp = smtplib.SMTP("127.0.0.1", r.port, timeout=30)
    smtp.starttls(context=ssl.create_default_context(cafile=str(r.config_path.parent / "cert.pem")))
    smtp.ehlo()
    return smtp


def spooled(r: Running) -> list:
    return [p for p in r.spool.root.glob("**/*.meta.json")]


def test_starttls_is_offered_with_a_certificate_and_a_mail_is_taken_over_it(daemon):
    r = daemon()
    with smtplib.SMTP("127.0.0.1", r.port) as plain:
        plain.ehlo()
        assert plain.has_extn("starttls")
    with tls(r) as smtp:
        assert not smtp.has_extn("starttls")
        assert smtp.sendmail("cart@example.jp", [RAKUTEN_TO], rakuten()) == {}
    r.wait_idle()
    assert queries.find_order(r.store.read(), "rakuten", "402853-20260612-0000000001")


def test_auth_is_not_offered_before_starttls_and_is_refused_if_tried(daemon):
    r = daemon()
    with smtplib.SMTP("127.0.0.1", r.port) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        token = base64.b64encode(f"\0forwarder\0{PASSWORD}".encode()).decode()
        code, _ = smtp.docmd("AUTH", f"PLAIN {token}")
        assert code == 538


def test_auth_plain_after_starttls_logs_in_and_the_user_is_in_the_items_meta(daemon):
    r = daemon()
    with tls(r) as smtp:
        assert "PLAIN" in smtp.esmtp_features["auth"] and "LOGIN" in smtp.esmtp_features["auth"]
        smtp.user, smtp.password = "forwarder", PASSWORD
        assert smtp.auth("PLAIN", smtp.auth_plain)[0] == 235
        smtp.mail("cart@example.jp")
        smtp.rcpt(RAKUTEN_TO)
        code, reply = smtp.data(rakuten())
    assert code == 250
    item_id = reply.decode().rsplit(" ", 1)[1]
    item, _ = r.spool.find(item_id)
    assert item.meta["auth_user"] == "forwarder"


def test_auth_login_after_starttls_logs_in(daemon):
    r = daemon()
    with tls(r) as smtp:
        smtp.user, smtp.password = "forwarder", PASSWORD
        assert smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)[0] == 235


def test_a_wrong_password_or_an_unknown_user_is_refused_with_535(daemon):
    r = daemon()
    for user, password in (("forwarder", "wrong"), ("nobody", PASSWORD)):
        with tls(r) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as err:
            smtp.login(user, password)
        assert err.value.smtp_code == 535


def test_require_tls_refuses_mail_before_starttls_with_530(daemon):
    r = daemon(require_tls=True)
    with smtplib.SMTP("127.0.0.1", r.port) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("cart@example.jp")
        assert code == 530 and b"STARTTLS" in reply
    with tls(r) as smtp:
        assert smtp.sendmail("cart@example.jp", [RAKUTEN_TO], rakuten()) == {}


def refused(r: Running, sender: str, login: bool = False) -> tuple[int, bytes]:
    """The answer to RCPT for the rakuten shop, from this sender, over TLS, logged in or not."""
    with tls(r) as smtp:
        if login:
            smtp.login("forwarder", PASSWORD)
        smtp.mail(sender)
        return smtp.rcpt(RAKUTEN_TO)


def test_accept_from_a_sender_address_takes_it_and_refuses_others_at_rcpt_with_550_5_7_1(daemon):
    r = daemon(["noreply@rakuten.co.jp"])
    code, reply = refused(r, "forger@example.com")
    assert code == 550 and reply.startswith(b"5.7.1 ")
    assert refused(r, "NoReply@Rakuten.co.jp")[0] == 250
    assert not spooled(r)


def test_accept_from_a_domain_takes_that_domain_only(daemon):
    r = daemon(["@mail.example-shop.jp"])
    assert refused(r, "order@mail.example-shop.jp")[0] == 250
    assert refused(r, "order@evil.mail.example-shop.jp")[0] == 550
    assert refused(r, "order@example-shop.jp")[0] == 550


def test_accept_from_a_network_refuses_a_peer_outside_it(daemon):
    assert refused(daemon(["192.0.2.0/24"]), "cart@example.jp")[0] == 550


def test_accept_from_a_network_takes_a_peer_inside_it(daemon):
    assert refused(daemon(["127.0.0.0/8"]), "cart@example.jp")[0] == 250


def test_accept_from_an_smtp_user_takes_mail_only_once_logged_in(daemon):
    r = daemon(["auth:forwarder"])
    assert refused(r, "cart@example.jp")[0] == 550
    assert refused(r, "cart@example.jp", login=True)[0] == 250


def test_a_refused_sender_leaves_nothing_in_the_spool_even_if_it_goes_on_to_data(daemon):
    r = daemon(["192.0.2.0/24"])
    with tls(r) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        smtp.sendmail("noreply@rakuten.co.jp", [RAKUTEN_TO], rakuten())
    code, reply = err.value.recipients[RAKUTEN_TO]
    assert code == 550 and b"5.7.1" in reply
    assert not spooled(r) and not list(r.spool.dir("tmp").iterdir())


def test_a_shop_without_accept_from_still_takes_mail_from_anyone(daemon):
    r = daemon(["192.0.2.0/24"])
    mail = order_mail("yahoo", SampleOrder("store-1", [Item("item-b", "B", 1, 100)]), YAHOO_TO)
    with tls(r) as smtp:
        assert smtp.sendmail("anyone@example.com", [YAHOO_TO], mail) == {}


def test_swaks_sends_over_starttls_with_auth_plain(daemon, tmp_path):
    r = daemon(["auth:forwarder"], require_tls=True)
    eml = tmp_path / "order.eml"
    eml.write_bytes(rakuten("402853-20260612-0000000009"))
    out = subprocess.run([shutil.which("swaks"), "--server", f"127.0.0.1:{r.port}", "--from", "cart@example.jp",
                          "--to", RAKUTEN_TO, "--tls", "--auth", "PLAIN", "--auth-user", "forwarder",
                          "--auth-password", PASSWORD, "--data", f"@{eml}", "--suppress-data"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "235 2.7.0" in out.stdout and "250 2.0.0 OK queued as" in out.stdout
    r.wait_idle()
    assert queries.find_order(r.store.read(), "rakuten", "402853-20260612-0000000009")


def test_check_warns_when_smtp_listens_beyond_loopback_and_a_shop_has_no_accept_from(tmp_path, capsys):
    data_path = write_config(tmp_path, smtp={"listen": "0.0.0.0:2525"})   # check reads it; nothing listens
    edit_config(data_path, lambda d: shop(d, "rakuten").update(accept_from=["noreply@rakuten.co.jp"]))
    assert cli.main(["-c", str(data_path), "check"]) == 0
    out, err = capsys.readouterr()
    assert "shop rakuten: takes order mail for rakuten-7f3k@orders.example.jp only from noreply@rakuten.co.jp" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: SMTP listens")]
    assert len(warnings) == 2 and "shop yahoo" in err and "shop ec" in err and "shop rakuten" not in err


def test_check_does_not_warn_when_smtp_listens_on_loopback(tmp_path, capsys):
    assert cli.main(["-c", str(write_config(tmp_path)), "check"]) == 0
    assert "warning: SMTP listens" not in capsys.readouterr().err


def test_bad_accept_from_entries_are_each_named_by_their_key_path(tmp_path, capsys):
    path = write_config(tmp_path)
    edit_config(path, lambda d: shop(d, "rakuten").update(accept_from=["noreply@rakuten.co.jp", "192.0.2.1/24",
                                                                       "@nodot"]))
    assert cli.main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "shop[0].accept_from[1]: '192.0.2.1/24': not a network" in err
    assert "shop[0].accept_from[2]: '@nodot': not a mail domain" in err


def test_an_auth_entry_must_name_an_smtp_user(tmp_path, capsys):
    path = write_config(tmp_path)
    edit_config(path, lambda d: shop(d, "rakuten").update(accept_from=["auth:ghost"]))
    assert cli.main(["-c", str(path), "check"]) == 2
    assert "shop[0].accept_from[0]: 'auth:ghost': no [[smtp.user]] has the name 'ghost'" in capsys.readouterr().err


def test_a_missing_password_variable_is_a_config_error_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    self_signed(tmp_path)
    path = write_config(tmp_path, smtp={"tls_cert": "cert.pem", "tls_key": "key.pem",
                                        "user": [{"name": "forwarder", "password_env": PASSWORD_ENV}]})
    assert cli.main(["-c", str(path), "check"]) == 2
    assert f"environment variable {PASSWORD_ENV}" in capsys.readouterr().err


def test_tls_files_must_exist_and_users_need_tls(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    path = write_config(tmp_path, smtp={"tls_cert": "missing.pem", "tls_key": "key.pem"})
    assert cli.main(["-c", str(path), "check"]) == 2
    assert "smtp.tls_cert:" in capsys.readouterr().err
    path = write_config(tmp_path, smtp={"require_tls": True,
                                        "user": [{"name": "forwarder", "password_env": PASSWORD_ENV}]})
    assert cli.main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "smtp.require_tls: STARTTLS needs smtp.tls_cert" in err and "smtp.user: AUTH is only offered" in err
