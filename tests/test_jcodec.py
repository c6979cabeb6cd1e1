"""ISO-2022-JP read by JIS code table: the same text, character for character, as shifting each pair to
Shift_JIS and decoding the run as CP932 (the reference below, the decoder as it was written first)."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tsunagi.common.jcodec import decode_iso2022jp, encode_iso2022jp

_ESC = re.compile(rb"\x1b(\$@|\$B|\$\(D|\$\(O|\$\(Q|\(B|\(J|\(I)")


def reference(data: bytes) -> str:
    """Pair by pair: every two-byte run shifted to Shift_JIS and decoded as CP932 with replacements."""
    out, mode, pos = [], b"(B", 0
    for m in list(_ESC.finditer(data)) + [None]:
        chunk = data[pos:m.start() if m else len(data)]
        if mode == b"(I":
            out.append(bytes(b | 0x80 for b in chunk).decode("cp932", "replace"))
        elif mode.startswith(b"$"):
            sjis = bytearray()
            for j1, j2 in zip(chunk[0::2], chunk[1::2]):
                if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                    sjis += b"?"
                    continue
                s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
                s2 = j2 + (0x1F if j2 <= 0x5F else 0x20) if j1 % 2 else j2 + 0x7E
                sjis += bytes((s1, s2))
            out.append(sjis.decode("cp932", "replace") + ("\ufffd" if len(chunk) % 2 else ""))
        else:
            out.append(chunk.decode("cp932", "replace"))
        if m:
            mode, pos = m.group(1), m.end()
    return "".join(out)


def test_every_two_byte_code_reads_as_its_shift_jis_pair():
    for j1 in range(256):
        for j2 in range(256):
            for data in (b"\x1b$B" + bytes((j1, j2)) + b"\x1b(B", b"\x1b$@0!" + bytes((j1, j2, 0x30, 0x22))):
                assert decode_iso2022jp(data) == reference(data), data


def test_nec_row_13_reads_as_the_circled_numbers_and_roman_numerals():
    data = b"\x1b$B-!-\"-3-5-@-j-s\x1b(B"      # row 13: ① ② ⑲ Ⅰ ㍉ ㈱ ∮
    assert decode_iso2022jp(data) == "①②⑲Ⅰ㍉㈱∮" == reference(data)


def test_ibm_extension_kanji_read_as_themselves():
    text = "髙﨑纊褜鍈銈蓜俉炻昱棈鋹曻彅丨仡"        # NEC-selected IBM extensions, JIS rows 89-92
    data = encode_iso2022jp(text)
    assert set(data[3:-3:2]) <= set(b"yz{|")
    assert decode_iso2022jp(data) == text == reference(data)


def test_a_run_mixing_jis_x_0208_nec_and_ibm_rows_reads_as_written():
    text = "商品Ａ ①㈱髙﨑 (item-a) サイズ:M ～ 合計 1,280円 Ⅲ"
    data = encode_iso2022jp(text)
    assert decode_iso2022jp(data) == text == reference(data)


def test_a_run_with_an_unmapped_pair_or_an_odd_byte_keeps_its_replacements():
    for data in (b"\x1b$B0!-\x7f0\"\x1b(B", b"\x1b$B0!)!0\"\x1b(B", b"\x1b$B0!0\x1b(B", b"\x1b$B0!\n0\"\x1b(B"):
        assert decode_iso2022jp(data) == reference(data)
        assert "\ufffd" in decode_iso2022jp(data) or "?" in decode_iso2022jp(data)


TEXT = st.text(alphabet=st.sampled_from(list("abc 1-:\n\t") + list("あア亜商品髙﨑纊①⑳Ⅲ㈱～－∥")), max_size=40)
SEGMENT = st.one_of(st.sampled_from([b"\x1b$B", b"\x1b$@", b"\x1b(B", b"\x1b(J", b"\x1b(I", b"\x1b$(D", b"\x1b$(Q",
                                     b"\x1b", b"\n", b"\0", b"\0\0"]),
                    st.binary(max_size=9), st.lists(st.integers(0x21, 0x7E), max_size=8).map(bytes))


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_text_written_as_iso_2022_jp_reads_back_the_same(text):
    data = encode_iso2022jp(text)
    assert decode_iso2022jp(data) == text == reference(data)


@settings(max_examples=1000, deadline=None)
@given(st.lists(SEGMENT, max_size=12).map(b"".join))
def test_any_bytes_read_as_the_pair_by_pair_reference(data):
    assert decode_iso2022jp(data) == reference(data)


PLAIN = st.one_of(st.sampled_from([b"\x1b$B", b"\x1b$@", b"\x1b(B", b"\n", b"\0"]),
                  st.lists(st.integers(0x21, 0x7E), max_size=8).map(bytes), st.binary(max_size=3))


@settings(max_examples=1000, deadline=None)
@given(st.lists(PLAIN, max_size=16).map(b"".join))
def test_runs_of_ascii_and_jis_x_0208_read_in_one_pass_as_run_by_run(data):
    assert decode_iso2022jp(data) == reference(data)


def test_a_run_read_again_from_the_last_mails_reads_the_same():
    first = encode_iso2022jp("【受注番号】 商品Ａ ①㈱髙")
    second = encode_iso2022jp("【受注番号】 商品Ｂ ②㈲﨑")
    for data in (first, second, first, second + first):
        assert decode_iso2022jp(data) == reference(data)
