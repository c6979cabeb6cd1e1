"""設定 over real HTTP: the effective configuration with its secrets masked, and `tsunagi check`'s verdict."""
from __future__ import annotations

import html

import pytest

from tests.support.configs import edit_config
from tests.support.console import Console

SECRET = "s3cret-smtp-pass-42"


@pytest.fixture
def console_with_login(config_path, monkeypatch):
    """The console's site with a mail relay login whose password is in the environment."""
    monkeypatch.setenv("TSUNAGI_TEST_SMTP_PW", SECRET)
    edit_config(config_path, lambda c: c.update(relay={"host": "127.0.0.1", "port": 2525, "security": "none",
                                                       "user": "shop", "password_env": "TSUNAGI_TEST_SMTP_PW"}))
    c = Console(config_path)
    yield c
    c.stop()


def test_the_effective_configuration_is_shown_with_defaults(console):
    page = console.client("guest").get("/settings")
    assert page.status == 200
    shown = html.unescape(page.text.split('id="config">')[1].split("</pre>")[0])
    assert '"id": "rakuten"' in shown and '"listen": "127.0.0.1:0"' in shown
    assert '"session_minutes": 480' in shown                      # a default nobody wrote


def test_a_secret_is_never_shown_only_the_variable_that_holds_it(console_with_login):
    page = console_with_login.client("admin").get("/settings")
    assert "TSUNAGI_TEST_SMTP_PW" in page.text
    assert SECRET not in page.text


def test_check_s_results_are_shown(console):
    page = console.client("guest").get("/settings")
    assert '<span id="check-state" class="">OK</span>' in page.text
    check = html.unescape(page.text.split('id="check">')[1].split("</pre>")[0])
    assert "shop rakuten: mail spec rakuten" in check and ": OK (" in check
