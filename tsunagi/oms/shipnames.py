"""The carts' common delivery and time-slot names, mapped without configuration (data/shipnames.toml)."""
from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from tsunagi.common.japanese import half_width

_HOUR = r"(\d{1,2})(?:(?::|時)(?:00分?)?)?"      # 14, 14時, 14:00, 14時00分 (a window starts on the hour)
_WINDOW = re.compile(_HOUR + "-" + _HOUR)


@cache
def _data() -> dict:
    return tomllib.loads((Path(__file__).parent / "data" / "shipnames.toml").read_text("utf-8"))


def _both_brackets(name: str) -> tuple[str, ...]:
    full = name.replace("(", "（").replace(")", "）")
    return (name, full) if full != name else (name,)


def delivery_mapping(offered: set[str], shop_names: dict[str, str]) -> dict[str, str]:
    """The common delivery names that mean exactly one offered service, with the shop's mapping over them."""
    defaults = {}
    for name, services in _data()["delivery"].items():
        candidates = [s for s in services if s in offered]
        if len(candidates) == 1:          # two carriers offer one of its meanings: the shop must say which
            defaults.update(dict.fromkeys(_both_brackets(name), candidates[0]))
    return defaults | shop_names


def time_slot(name: str) -> str | None:
    """tsunagi's slot for a channel's time-slot name ("" = no wish), or None when it names none we know."""
    table = _data()["time"]
    text = half_width(name).strip()
    if text in table["none"]:
        return ""
    if any(word in text for word in table["morning"]):
        return "午前中"
    for word in table["noise"]:
        text = text.replace(word, "")
    for dash in table["dashes"]:
        text = text.replace(dash, "-")
    match = _WINDOW.fullmatch(text)
    if not match:
        return None
    window = f"{int(match[1])}-{int(match[2])}"
    if window in table["morning_windows"]:
        return "午前中"
    return window if window in table["windows"] else None
