"""Carriers' tracking-number formats, as far as public material shows them: a number is valid or says why not."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

# The check digits are a few lines each; no well-kept library knows the Japanese carriers' 7DR.


def _seven_dr(number: str) -> bool:
    """7DR: the last digit is the rest of the others divided by 7 (FORMATS.md §1.2, for all three carriers)."""
    return int(number[:-1]) % 7 == int(number[-1])


def _s10(number: str) -> bool:
    """UPU S10 (international mail, e.g. EJ123456785JP): the ninth digit checks the eight before it."""
    total = sum(int(d) * w for d, w in zip(number[2:10], (8, 6, 4, 2, 3, 5, 9, 7)))
    check = 11 - total % 11
    return int(number[10]) == {10: 0, 11: 5}.get(check, check)


@dataclass(frozen=True)
class Shape:
    pattern: str                       # the whole number, after hyphens and spaces are taken out
    check: Callable[[str], bool] | None
    told: str                          # how an operator is told what was expected

    def fits(self, number: str) -> bool:
        return re.fullmatch(self.pattern, number) is not None and (self.check is None or self.check(number))


TWELVE_7DR = Shape(r"\d{12}", _seven_dr, "12桁 (チェックディジット 7DR)")
TWELVE = Shape(r"\d{12}", None, "12桁")
# Japan Post: 簡易書留 and 特定記録 numbers have 11 digits (a check digit for them is NOT FOUND in public
# material, so only the length is checked), international mail 13 characters in the UPU S10 form.
ELEVEN = Shape(r"\d{11}", None, "11桁 (書留・特定記録)")
S10 = Shape(r"[A-Z]{2}\d{9}[A-Z]{2}", _s10, "英字2+数字9+英字2 (国際郵便, S10)")

# A result layout's `number_format`, or its carrier's label layout's (carrier_info.number_format).
FORMATS: dict[str, tuple[Shape, ...]] = {
    "": (TWELVE,),                     # a carrier nobody named: the length the three carriers share
    "mod7": (TWELVE_7DR,),             # the older key check_digit = "mod7"
    "yamato": (TWELVE_7DR,),           # FORMATS.md §1.2
    "sagawa": (TWELVE_7DR,),           # FORMATS.md §2.3 (12 digits) and §1.2 (7DR)
    "japanpost": (TWELVE_7DR, ELEVEN, S10),   # §3.1 (12 digits, 7DR); 11 and 13: see above
}
FORMATS["any"] = tuple(dict.fromkeys(s for f in ("yamato", "sagawa", "japanpost") for s in FORMATS[f]))
NAMES = tuple(FORMATS)


def split(cell: str | None) -> list[str]:
    """The numbers of one cell: several are separated by commas or spaces; hyphens are display only."""
    return [n.replace("-", "").upper() for n in re.split(r"[,、\s]+", cell or "") if n]


def wrong(number: str, fmt: str) -> str:
    """Why the number is not one of this format's ("" when it is)."""
    shapes = FORMATS[fmt]
    if any(s.fits(number) for s in shapes):
        return ""
    return " または ".join(s.told for s in shapes)
