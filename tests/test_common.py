"""The ground floor: one width folding for mail and CSV, the clock, durable files."""
from datetime import timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tsunagi.common import clock, durable
from tsunagi.common import japanese as jp
from tsunagi.parsers.csvfields import full_width_kana as polars_full_width_kana
from tsunagi.parsers.csvfields import half_width as polars_half_width

ALPHABET = st.sampled_from(jp.FOLD_FROM + list("コーヒーAa1-ｰｱ髙①〜 \t") + ["\u30fc", "\uff0d", "\u2014"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=12), min_size=1, max_size=20))
def test_polars_twin_folds_width_exactly_as_the_python_normaliser(values):
    folded = pl.Series(values, dtype=pl.String).to_frame("v").select(polars_half_width(pl.col("v")))["v"].to_list()
    assert folded == [jp.half_width(v) for v in values]


def test_a_katakana_code_keeps_its_prolonged_sound_mark():
    assert jp.half_width("コーヒーＡ－１") == "コーヒーA-1"


KANA = st.sampled_from([chr(c) for c in range(0xFF61, 0xFFA0)] + list("ガパヴ①㈱Ａ1-ー 　、"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=KANA, max_size=12), min_size=1, max_size=20))
def test_polars_twin_widens_half_width_katakana_exactly_as_the_python_normaliser(values):
    widened = pl.Series(values, dtype=pl.String).to_frame("v").select(
        polars_full_width_kana(pl.col("v")))["v"].to_list()
    assert widened == [jp.full_width_kana(v) for v in values]


def test_half_width_katakana_becomes_full_width_with_its_voiced_marks_joined():
    assert jp.full_width_kana("ﾄｳｷｮｳﾄ") == "トウキョウト"
    assert jp.full_width_kana("ｶﾞ ﾊﾟ ｳﾞ ﾎﾟﾝﾌﾟ") == "ガ パ ヴ ポンプ"
    assert jp.full_width_kana("ｰ｡｢｣､･") == "ー。「」、・"


def test_a_voiced_mark_that_joins_nothing_becomes_the_spacing_mark():
    assert jp.full_width_kana("ｱﾞ ﾞ ﾟ") == "ア゛ ゛ ゜"


def test_kana_widening_touches_nothing_outside_the_half_width_katakana_block():
    text = "①㈱髙 ＡＢＣ１２３ abc -1 ，ガ〜"       # what NFKC would also fold
    assert jp.full_width_kana(text) == text


def test_width_folding_leaves_half_width_katakana_to_the_kana_widening():
    assert jp.half_width("ﾄｳｷｮｳ") == "ﾄｳｷｮｳ"


def test_shifted_clock_moves_now_and_timestamps(monkeypatch):
    before = clock.now()
    clock.set_shift(timedelta(days=2))
    try:
        assert clock.now() - before >= timedelta(days=2)
        assert clock.timestamp().endswith("+09:00")
    finally:
        clock.set_shift(timedelta(0))


def test_replace_whole_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "report.json"
    durable.replace_whole(target, b"one")
    durable.replace_whole(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_nothing_on_the_ground_floor_imports_the_floors_above():
    from pathlib import Path
    import tsunagi.common
    for path in Path(tsunagi.common.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from tsunagi." not in text.replace("from tsunagi.common", ""), path.name


def test_the_width_folds_leave_ascii_alone_so_ascii_columns_may_skip_them():
    # csvknown.scan_raw types an all-ASCII order number column without the folds (csvfields.typed ascii=True)
    assert not [k for k in jp.FOLD_FROM + jp.KANA_FROM if k.isascii()]


def test_a_journal_line_cut_by_a_crash_spoils_only_itself(tmp_path):
    path = tmp_path / "pulled.jsonl"
    path.write_text('{"name": "a.csv"}\n{"name": "b.c', encoding="utf-8")      # the crash cut the second line
    durable.append_line(path, '{"name": "c.csv"}')
    assert path.read_text(encoding="utf-8").splitlines() == ['{"name": "a.csv"}', '{"name": "b.c', '{"name": "c.csv"}']


def test_the_pulled_files_record_keeps_a_file_taken_after_a_cut_line(tmp_path):
    from tsunagi.ingest.pull import PulledFiles
    path = tmp_path / "pulled.jsonl"
    PulledFiles(path).add("a.csv", 10, "aa", "item-a")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"name": "b.csv", "si')                 # killed mid-line
    PulledFiles(path).add("c.csv", 30, "cc", "item-c")
    again = PulledFiles(path)
    assert again.seen("a.csv", 10, "aa") and again.seen("c.csv", 30, "cc")
