"""Payer names as banks print them: one key for a buyer's kana and a bank's half-width payer name."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

# Banks print no small kana (ｯ is ﾂ, ｬ is ﾔ) and no hiragana; both sides are folded to the same key.
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_HIRAGANA = {c: c + 0x60 for c in range(ord("ぁ"), ord("ゖ") + 1)}
# separators a name may carry in one source and not the other
_DROP = str.maketrans("", "", " \u3000・･.,()（）-－ー‐ｰ")
# 株式会社 and the like print as ｶ) or (ｶ: only the name itself is compared
_LEGAL = ("カ)", "(カ", "ユ)", "(ユ", "ド)", "(ド")


@lru_cache(maxsize=1 << 16)      # buyers and payers repeat: a file folds each name once
def payer_key(name: str) -> str:
    """The comparable form of a kana name: full-width katakana, large kana, no spaces or separators."""
    text = unicodedata.normalize("NFKC", name or "").translate(_HIRAGANA).translate(_SMALL)
    for mark in _LEGAL:
        text = text.replace(mark, "")
    return text.translate(_DROP).upper()
