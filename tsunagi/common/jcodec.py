"""Japanese codecs: CP932 with its fixes, ISO-2022-JP with the NEC/IBM extensions both ways, detection."""
from __future__ import annotations

import codecs
import re
import unicodedata

# Characters CP932 cannot take but carts and carriers show as these (the wave-dash family and friends).
CP932_FIXES = str.maketrans({"\u301c": "\uff5e", "\u2016": "\u2225", "\u2212": "\uff0d", "\u2014": "\u2015",
                             "\u00a2": "\uffe0", "\u00a3": "\uffe1", "\u00ac": "\uffe2", "\u00a0": " "})



class UnknownEncoding(ValueError):
    """Bytes that read as none of the Japanese encodings; the message names the byte."""


# Charset labels that are really Microsoft's supersets in Japanese mail.
_CHARSET_ALIASES = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "windows-31j": "cp932", "ms_kanji": "cp932", "cp932": "cp932",
    "euc-jp": "euc_jis_2004", "x-euc-jp": "euc_jis_2004",
    "us-ascii": "utf-8", "ascii": "utf-8",
}
_ISO2022 = {"iso-2022-jp", "csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3",
            "iso-2022-jp-2004", "iso-2022-jp-ms", "cp50220", "cp50221", "cp50222"}

_WESTERN = {"iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii"}

_ESC = re.compile(rb"\x1b(\$@|\$B|\$\(D|\$\(O|\$\(Q|\(B|\(J|\(I)")


def decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP as Japanese mailers send it (CP50221): NEC and IBM extensions included.

    Each two-byte JIS segment is shifted to Shift_JIS and decoded as CP932, which carries
    ①, ㈱, Ⅲ, 髙 and the rest that Python's iso2022_jp codec rejects.
    """
    if b"\x1b" not in data:
        return _decode_segment(data, b"(B")
    parts = _ESC.split(data)         # text, mode, text, mode, ..., text
    modes = [b"(B"] + parts[1::2]
    if _PLAIN.issuperset(modes):
        text = _decode_plain(parts[0::2], modes)
        if text is not None:
            return text
    return "".join(_decode_segment(chunk, mode) for chunk, mode in zip(parts[0::2], modes))


_PLAIN = {b"$B", b"$@", b"(B"}


def _decode_plain(chunks: list[bytes], modes: list[bytes]) -> str | None:
    """JIS X 0208 and ASCII only, as nearly every mail is: the two-byte runs a mail shares with the last ones
    (a cart's labels) as they were read, the others in one pass (joined by a 0x0000 code, which no JIS pair
    is); the ASCII in one pass (joined by NUL). None when a run has an odd byte, a code the table lacks, a
    NUL, or a byte above 0x7F: then each run is read on its own."""
    jis = [c for c, m in zip(chunks, modes) if m[0] == 0x24]          # "$"
    plain = [c for c, m in zip(chunks, modes) if m[0] != 0x24]
    text = b"\0".join(plain)
    if not text.isascii():
        return None
    wide = list(map(_RUNS.get, jis))
    if None in wide and not _read_runs(jis, wide):
        return None
    narrow = text.decode("latin-1").split("\0")
    if len(narrow) != len(plain):
        return None
    wide_run, narrow_run = iter(wide), iter(narrow)
    return "".join([next(wide_run) if m[0] == 0x24 else next(narrow_run) for m in modes])


_RUNS: dict[bytes, str] = {}      # JIS run -> its text, the runs of the last mails


def _read_runs(jis: list[bytes], wide: list[str | None]) -> bool:
    """Fills in the runs not kept yet, all in one pass; False when one cannot be read that way."""
    table = _JIS_CHARS or _jis_chars()
    new = [c for c, w in zip(jis, wide) if w is None]
    if any(len(c) % 2 for c in new):
        return False
    try:
        read = codecs.utf_16_be_decode(b"\0\0".join(new), "strict", True)[0].translate(table.with_stop).split("\0")
    except ValueError:
        return False
    if len(read) != len(new):
        return False
    if len(_RUNS) > 20_000:       # a few megabytes at most, in a daemon that runs for months
        _RUNS.clear()
    _RUNS.update((run, text) for run, text in zip(new, read) if len(run) <= 64)   # labels, not paragraphs
    fresh = iter(read)
    wide[:] = [w if w is not None else next(fresh) for w in wide]
    return True


def _decode_segment(chunk: bytes, mode: bytes) -> str:
    if not chunk:
        return ""
    if mode == b"(I":
        return bytes(b | 0x80 for b in chunk).decode("cp932", "replace")
    if mode.startswith(b"$"):
        return _decode_jis(chunk)
    if chunk.isascii():          # CP932 reads 0x00-0x7F as themselves; its decoder costs a microsecond a call
        return chunk.decode("latin-1")
    return chunk.decode("cp932", "replace")


class _Unmapped(dict):
    """JIS code → its CP932 character; a code CP932 has no character for raises, and the run is decoded the
    long way (str.translate leaves a code a LookupError names as it is: ValueError stops it instead).
    with_stop: the same with 0x0000 read as NUL, the mark between runs read in one pass."""
    with_stop: "_Unmapped"

    def __missing__(self, code: int):
        raise ValueError(code)


_JIS_CHARS: _Unmapped | None = None


def _jis_chars() -> _Unmapped:
    """Every JIS pair (0x21-0x7E twice) whose Shift_JIS form CP932 decodes to one character, made by the
    pair-by-pair decoder itself (so the two cannot disagree); built at the first ISO-2022-JP text."""
    global _JIS_CHARS
    if _JIS_CHARS is None:
        table = _Unmapped()
        for j1 in range(0x21, 0x7F):
            for j2 in range(0x21, 0x7F):
                try:
                    char = _jis_to_sjis(j1, j2).decode("cp932")
                except UnicodeDecodeError:
                    continue
                if len(char) == 1:
                    table[j1 << 8 | j2] = char
        table.with_stop = _Unmapped(table, **{})
        table.with_stop[0] = "\0"
        _JIS_CHARS = table
    return _JIS_CHARS


def _decode_jis(chunk: bytes) -> str:
    """A two-byte run: each pair read as one UTF-16 unit (its JIS code) and mapped by the table, in C. When
    every pair is a CP932 character this is exactly the pair-by-pair decoding (CP932 reads a mapped lead
    and trail byte as one character whatever follows); a run with any other pair, or an odd byte, takes
    the pair-by-pair road, where its replacement characters come out as they always did."""
    if len(chunk) % 2 == 0:
        try:
            return codecs.utf_16_be_decode(chunk, "strict", True)[0].translate(_JIS_CHARS or _jis_chars())
        except (ValueError, UnicodeDecodeError):
            pass
    return _decode_jis_pairwise(chunk)


def _decode_jis_pairwise(chunk: bytes) -> str:
    """The reference: each pair shifted to Shift_JIS, the run decoded as CP932."""
    sjis = bytearray()
    for i in range(0, len(chunk) - 1, 2):
        sjis += _jis_to_sjis(chunk[i], chunk[i + 1])
    text = sjis.decode("cp932", "replace")
    return text + ("\ufffd" if len(chunk) % 2 else "")


def _jis_to_sjis(j1: int, j2: int) -> bytes:
    if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
        return b"?"
    s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
    if j1 % 2:
        s2 = j2 + (0x1F if j2 <= 0x5F else 0x20)
    else:
        s2 = j2 + 0x7E
    return bytes((s1, s2))


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode a body part by its declared charset; undeclared or wrong labels fall back sensibly."""
    name = (charset or "").strip().lower()
    if name in _ISO2022 or (not name and b"\x1b$" in data):
        return decode_iso2022jp(data)
    if name in _WESTERN and not data.isascii():
        return _guess_decode(data)  # Japanese mail under a Western label: the label is wrong
    codec = _CHARSET_ALIASES.get(name, name or "utf-8")
    try:
        return data.decode(codec)
    except (LookupError, UnicodeDecodeError):
        return _guess_decode(data)


def _guess_decode(data: bytes) -> str:
    """A wrong or unknown charset label: try what Japanese mail really is, in order."""
    if b"\x1b$" in data:
        return decode_iso2022jp(data)
    for codec in ("utf-8", "cp932", "euc_jis_2004"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def encode_iso2022jp(text: str, errors: str = "strict") -> bytes:
    """ISO-2022-JP as Japanese mailers write it (CP50220: via CP932, so ① and ㈱ survive)."""
    out = bytearray()
    in_jis = False
    for ch in text.translate(CP932_FIXES):
        b = ch.encode("cp932", errors)
        if len(b) == 1 and b[0] < 0x80:
            if in_jis:
                out += b"\x1b(B"
                in_jis = False
            out += b
            continue
        if len(b) == 1:  # half-width katakana: written full-width, as CP50220 does
            b = unicodedata.normalize("NFKC", ch).encode("cp932", errors)
        if not in_jis:
            out += b"\x1b$B"
            in_jis = True
        s1, s2 = b[0], b[1]
        j1 = (s1 - (0x70 if s1 <= 0x9F else 0xB0)) * 2
        if s2 >= 0x9F:
            j2 = s2 - 0x7E
        else:
            j1 -= 1
            j2 = s2 - (0x1F if s2 <= 0x7E else 0x20)
        out += bytes((j1, j2))
    if in_jis:
        out += b"\x1b(B"
    return bytes(out)


_JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]+")
_ODD = re.compile("[\uff61-\uff9f\ue000-\uf8ff\u2460-\u24ff]+")


def _japanese_score(text: str) -> int:
    """How much a decoding looks like Japanese: kana and kanji count, half-width kana and odd symbols cost.
    (Counted by regex runs: a loop over each character was a tenth of re-reading an unchanged file.)"""
    return 2 * sum(map(len, _JAPANESE.findall(text))) - 3 * sum(map(len, _ODD.findall(text)))


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or valid), else whichever of CP932 and EUC-JP decodes and reads as Japanese."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    texts, where = {}, {}
    for codec in ("cp932", "euc_jp"):
        try:
            texts[codec] = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
        except UnicodeDecodeError as exc:
            where[codec] = exc.start
    if not texts:
        raise UnknownEncoding(f"byte {max(where.values())}: the file is not UTF-8, Shift_JIS (CP932) or EUC-JP "
                              f"(Shift_JIS fails at byte {where['cp932']}, EUC-JP at byte {where['euc_jp']})")
    if len(texts) == 1:          # the usual case: only one of them decodes at all
        return next(iter(texts))
    scores = {codec: _japanese_score(text) for codec, text in texts.items()}
    return max(scores, key=lambda c: (scores[c], c == "cp932"))


