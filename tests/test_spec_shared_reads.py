"""Two specs reading the same mail (a replay's spec in use and its candidate) share what they read alike and
nothing else: each answers as if it read the mail alone."""
from __future__ import annotations

import pytest

from tests.test_mail_parsing import sample
from tsunagi.demo.mails import order_mail
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import read_mail
from tsunagi.parsers.mailspec import SPEC_DIR, load_spec
from tsunagi.parsers.specread import parse_with_spec

RAKUTEN = (SPEC_DIR / "rakuten.toml").read_text(encoding="utf-8")
DISCOUNT = "discount = { find = '^\\s*(?:ポイント利用|クーポン利用)[^\\d\\n]*([\\d,]+)\\s*\\(円\\)', in = \"items\" }"


def spec(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def mail():
    return read_mail(order_mail("rakuten", sample("rakuten"), "shop@x.jp", charset="iso-2022-jp", cte="7bit"))


def test_a_field_one_spec_may_miss_fails_the_spec_that_requires_it(tmp_path):
    assert DISCOUNT in RAKUTEN
    optional = spec(tmp_path, "optional", RAKUTEN)
    required = spec(tmp_path, "required", RAKUTEN.replace(DISCOUNT, DISCOUNT[:-2] + ", required = true }"))
    view = mail()
    assert parse_with_spec(optional, view, "shop1").discount == 0
    with pytest.raises(ParseError, match="discount not found"):
        parse_with_spec(required, view, "shop1")
    assert parse_with_spec(optional, view, "shop1").discount == 0


def test_a_value_one_spec_reads_as_none_is_read_by_the_other(tmp_path):
    plain = spec(tmp_path, "plain", RAKUTEN)
    none = spec(tmp_path, "none", 'none_values = ["代金引換"]\n' + RAKUTEN)
    view = mail()
    assert parse_with_spec(plain, view, "shop1").payment_method == "代金引換"
    assert parse_with_spec(none, view, "shop1").payment_method == ""
    assert parse_with_spec(plain, view, "shop1").payment_method == "代金引換"


def test_the_same_pattern_in_another_section_reads_that_section(tmp_path):
    fee = "shipping_fee = { find = '^\\s*送料\\s*([\\d,]+)\\s*\\(円\\)', in = \"items\" }"
    assert fee in RAKUTEN
    items = spec(tmp_path, "items", RAKUTEN)
    elsewhere = spec(tmp_path, "elsewhere", RAKUTEN.replace(fee, fee.replace('"items"', '"ship_to"')))
    view = mail()
    assert parse_with_spec(items, view, "shop1").shipping_fee == 500
    with pytest.raises(ParseError, match="the lines .* = 5610 yen"):     # no fee in that section: 0, and off
        parse_with_spec(elsewhere, view, "shop1")
