"""Cart mail spec files are read against one schema: every mistake named with its key, all at once."""
from __future__ import annotations

import pytest
import tomli_w

from tsunagi.parsers.mailspec import SPEC_DIR, SpecError, available_carts, load_spec


def good() -> dict:
    return {"cart": "mine", "match": {"subject": ["^ご注文"]},
            "sections": {"items": {"start": "^商品", "end": "^合計"}},
            "field": {"order_no": {"find": r"注文番号\s*(\S+)", "required": True}},
            "items": {"in": "items", "start": "^品番"}}


def spec(tmp_path, data: dict):
    path = tmp_path / "mine.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_spec(path)


@pytest.mark.parametrize("cart", available_carts())
def test_every_shipped_spec_reads_against_the_schema(cart):
    assert load_spec(SPEC_DIR / f"{cart}.toml").subjects


def test_a_correct_spec_of_ones_own_reads(tmp_path):
    assert spec(tmp_path, good()).cart == "mine"


def test_an_unknown_key_is_named_with_its_path(tmp_path):
    data = good()
    data["field"]["order_no"]["requird"] = data["field"]["order_no"].pop("required")
    with pytest.raises(SpecError, match=r"mine\.toml: field\.order_no\.requird: unknown key"):
        spec(tmp_path, data)


def test_every_mistake_of_a_spec_is_reported_at_once(tmp_path):
    data = good()
    data["items"] = {"in": "goods", "start": "^品番("}
    with pytest.raises(SpecError) as caught:
        spec(tmp_path, data)
    message = str(caught.value)
    assert "items.start: bad regular expression" in message and "items.in: no section named 'goods'" in message


def test_an_unknown_field_name_is_refused(tmp_path):
    data = good()
    data["field"]["order_number"] = data["field"].pop("order_no")
    with pytest.raises(SpecError, match=r"field\.order_number"):
        spec(tmp_path, data)
