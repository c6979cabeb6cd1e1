"""Japanese values read the same from every source: width, amounts, postcodes, phones, prefectures, dates."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from tsunagi.common.clock import JST

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SPACES = re.compile(r"[ \t\u3000]+")


class ValueProblem(ValueError):
    """A value that cannot be read as the type asked for."""


def clean_text(value: str) -> str:
    """One line of text: control characters (CR, LF, NUL, ...) become spaces, runs of spaces fold."""
    if value.isprintable() and "  " not in value:
        return value.strip()       # no control character, tab or U+3000 (none is printable), no run to fold
    value = _CONTROL.sub(" ", value)
    return _SPACES.sub(" ", value).strip()


# Width folding, one table for mail and CSV alike (parsers/csvfields.py builds its polars twin from it):
# full-width ASCII to ASCII, the ideographic space to a space, and the dash look-alikes that are never kana
# to "-". The prolonged sound mark ー is kana (コーヒー) and is kept.
FOLD_FROM = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000", "\u2010", "\u2011", "\u2012", "\u2013",
                                                      "\u2015", "\u2212"]
FOLD_TO = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" ", "-", "-", "-", "-", "-", "-"]
_FOLD = str.maketrans(dict(zip(FOLD_FROM, FOLD_TO)))
_FOLDED = re.compile("[" + "".join(map(re.escape, FOLD_FROM)) + "]+")


def half_width(value: str) -> str:
    """Full-width digits, letters and signs to half-width, keeping kana (and ー) as they are."""
    if value.isascii():
        return value
    # only the runs that fold are translated: a mail body of mostly kanji and kana is searched, not rebuilt
    return _FOLDED.sub(_fold_run, value)


def _fold_run(m: re.Match) -> str:
    return m.group().translate(_FOLD)


# Half-width katakana (U+FF61-U+FF9F) to full-width, one table for mail and CSV alike (parsers/csvfields.py
# builds its polars twin from it). A voiced mark joins the kana before it (ｶﾞ → ガ, ﾊﾟ → パ, ｳﾞ → ヴ); a
# mark that joins nothing becomes the spacing ゛/゜. NFKC would do the kana but also fold ①, ㈱, full-width
# letters and more: it is used here only to build the table, one character (or pair) at a time.
_SINGLE = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF61, 0xFF9E)} | {
    "\uff9e": "\u309b", "\uff9f": "\u309c"}
_VOICED = {k + m: v for k in _SINGLE for m in ("\uff9e", "\uff9f")
           if len(v := unicodedata.normalize("NFKC", k + m)) == 1}
KANA_FROM = list(_VOICED) + list(_SINGLE)      # pairs first: the longest match wins
KANA_TO = list(_VOICED.values()) + list(_SINGLE.values())
_KANA = re.compile("[\uff61-\uff9f][\uff9e\uff9f]?")
_KANA_MAP = dict(zip(KANA_FROM, KANA_TO))
_HALF_KANA = re.compile("[\uff61-\uff9f]")


def full_width_kana(value: str) -> str:
    """ﾄｳｷｮｳﾄ → トウキョウト, ｶﾞ → ガ, ﾊﾟ → パ; nothing outside the half-width katakana block changes."""
    if not _HALF_KANA.search(value):
        return value
    return _KANA.sub(lambda m: _KANA_MAP.get(m.group()) or "".join(_SINGLE[c] for c in m.group()), value)


def parse_amount(value: str) -> int:
    """'1,280(円)', '￥1,280', '１２８０円', '-500' -> int yen."""
    text = half_width(value).replace("\\", "").replace("¥", "").replace("￥", "")
    text = re.sub(r"[,\s]|\(円\)|円|税込|税抜", "", text)
    if not re.fullmatch(r"[-−]?\d+", text):
        raise ValueProblem(f"not an amount: {value!r}")
    return int(text.replace("−", "-"))


def parse_int(value: str) -> int:
    text = re.sub(r"[,\s]|\(個\)|個|点", "", half_width(value))
    if not re.fullmatch(r"-?\d+", text):
        raise ValueProblem(f"not a whole number: {value!r}")
    return int(text)


def postal_code(value: str) -> str:
    """'〒1000001', '100-0001', '１００－０００１' -> '100-0001'."""
    digits = re.sub(r"\D", "", half_width(value))
    if len(digits) != 7:
        raise ValueProblem(f"a postal code has 7 digits: {value!r}")
    return f"{digits[:3]}-{digits[3:]}"


def phone(value: str) -> str:
    """Keep digits and hyphens; '+81 90...' becomes '090...'."""
    text = half_width(value).strip()
    text = re.sub(r"[‐－―ー−]", "-", text)
    text = re.sub(r"^\+81[-\s]?", "0", text)
    text = re.sub(r"[^\d-]", "", text)
    return text


def split_prefecture(address: str) -> tuple[str, str]:
    """'東京都千代田区…' -> ('東京都', '千代田区…'); no prefecture -> ('', address)."""
    address = address.strip()
    for pref in PREFECTURES:
        if address.startswith(pref):
            return pref, address[len(pref):].strip()
    return "", address


_DT_PATTERNS = (
    re.compile(r"(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:\s*\([^)]*\))?"
               r"(?:[\sT]+(\d{1,2})[:時](\d{1,2})(?:[:分](\d{1,2}))?秒?)?"),
)


def parse_datetime(value: str) -> datetime:
    """'2026-06-12 08:55:46', '2026/6/12 8:55', '2026年06月12日 10:15' -> aware datetime in JST.

    A value with an explicit offset (ISO 8601) is converted to JST.
    """
    text = half_width(value).strip()
    try:
        iso = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if iso.tzinfo is not None:
            return iso.astimezone(JST)
    except ValueError:
        pass
    for pattern in _DT_PATTERNS:
        m = pattern.search(text)
        if m:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            try:
                return datetime(y, mo, d, h, mi, s, tzinfo=JST)
            except ValueError as exc:
                raise ValueProblem(f"not a date: {value!r} ({exc})") from None
    raise ValueProblem(f"not a date: {value!r}")


def parse_date(value: str) -> date:
    return parse_datetime(value).date()
