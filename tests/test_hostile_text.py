"""No text stalls parsing: every shipped pattern runs in linear time on 10 MB of what an attacker would send."""
from __future__ import annotations

import time

import pytest

from tsunagi.parsers import linear
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailmsg import MailView, html_to_text, read_mail
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts, load_spec
from tsunagi.parsers.specread import parse_with_spec

TEN_MB = 10_000_000
HOSTILE = {
    "blank lines": "\n" * TEN_MB,
    "spaces": " " * TEN_MB,
    "spaces and blank lines": " \n" * (TEN_MB // 2),
    "one repeated label": "[受注番号]" * (TEN_MB // 6),
    "a label on every line": "[受注番号] \n" * (TEN_MB // 8),
    "item rules": "-----\n" * (TEN_MB // 6),
    "word characters": "a" * TEN_MB,
}
# Quadratic work on 10 MB takes hours; linear work takes seconds. The bound only tells the two apart.
BOUND = 20.0


def _subject(spec) -> str:
    """A subject the spec accepts, so its field and item patterns run over the body."""
    return {"rakuten": "【楽天市場】注文内容ご確認(自動配信メール)", "yahoo": "【Yahoo!ショッピング】注文確認",
            "ec-cube": "[サンプルショップ] ご注文ありがとうございます"}.get(spec.cart, "")


@pytest.mark.parametrize("cart", available_carts())
@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_spec_reads_10_mb_of_hostile_text_in_linear_time(cart, shape):
    spec = load_spec(SPEC_DIR / f"{cart}.toml")
    view = MailView(subject=_subject(spec), sender="order@rakuten.co.jp", date="", text=HOSTILE[shape])
    started = time.monotonic()
    with pytest.raises(ParseError):
        parse_with_spec(spec, view, "shop")
    assert time.monotonic() - started < BOUND


@pytest.mark.parametrize("shape", ["blank lines", "spaces", "one repeated label"])
def test_the_forward_and_html_readers_take_hostile_text_in_linear_time(shape):
    text = HOSTILE[shape][: TEN_MB // 10]        # the MIME parser itself reads 1 MB of lines in about a second
    raw = ("From: a@example.jp\r\nSubject: Fwd: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "---------- Forwarded message ----------\n" + text).encode()
    started = time.monotonic()
    read_mail(raw)
    html_to_text("<p>" + HOSTILE[shape] + "<script>")
    assert time.monotonic() - started < BOUND


@pytest.mark.parametrize("pattern", [r"^(?!価格)(.+)$", r"(a)\1", r"(?P<x>a)(?P=x)", r"(?>a+)b"])
def test_a_pattern_that_cannot_run_in_linear_time_is_refused_naming_why(pattern):
    with pytest.raises(linear.SlowPattern, match="linear time"):
        linear.compile(pattern)
