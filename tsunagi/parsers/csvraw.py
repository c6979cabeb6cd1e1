"""An order CSV that fits in memory, kept in its own bytes and cut into chunks of whole records: a re-pulled
file's rows are recognised by their bytes, and only the chunks that hold new or changed rows are decoded."""
from __future__ import annotations

import codecs
import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from tsunagi.parsers import csvread
from tsunagi.parsers.errors import ParseError

# Encodings in which a quote, a delimiter or a line break is never a byte of another character, so records
# can be cut in the file's own bytes (Shift_JIS trail bytes are 0x40 and up; EUC-JP and UTF-8 use 0x80 and up).
ASCII_SAFE = frozenset({"cp932", "shift_jis", "euc_jp", "utf-8", "utf-8-sig", "ascii"})


@dataclass
class Raw:
    encoding: str
    header: list[str]
    first_row: int               # the row number (1-based, header counted) of the first data record
    chunks: list[bytes]          # whole records, in the file's own encoding
    starts: list[int]            # each chunk's byte offset in the file (a bad byte is named by it)

    def utf8(self, index: int) -> bytes:
        """Chunk index decoded, as UTF-8; a ParseError naming the file's byte where it is not valid."""
        try:
            return self.chunks[index].decode(self.encoding).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"byte {self.starts[index] + exc.start}: not valid {self.encoding} ({exc.reason}); "
                             f"the file is in another encoding or damaged", stage="decode", kind="encoding") from None

    def lines_utf8(self, index: int, keep: list[int]) -> bytes:
        """Only lines keep (0-based, in a chunk of one line a record) of chunk index, decoded, as UTF-8: a
        re-pulled chunk with a few new or changed orders is not decoded whole. A bad byte is named as utf8 does."""
        lines = self.chunks[index].split(b"\n")
        try:
            return b"".join(lines[i] + b"\n" for i in keep).decode(self.encoding).encode("utf-8")
        except UnicodeDecodeError:
            return self.utf8(index)      # raises, naming the byte (a known row's bytes were valid when applied)


def read_raw(src: BinaryIO, encoding: str, delimiter: str, skip_rows: int, has_header: bool) -> Raw | None:
    """The file cut into chunks with its header read and its quotes checked; None (src rewound) when it is
    larger than csvread.IN_MEMORY or in an encoding that cannot be cut so."""
    if _size(src) > csvread.IN_MEMORY:
        return None
    data = src.read(csvread.IN_MEMORY + 1)
    codec = csvread.detect_encoding(data[:csvread.SAMPLE]) if encoding == "auto" else encoding
    if len(data) > csvread.IN_MEMORY or codecs.lookup(codec).name not in ASCII_SAFE:
        src.seek(0)
        return None
    head = _after_lines(data, skip_rows + 1)      # the header's line, or the first row's (it gives the width)
    decoder = codecs.getincrementaldecoder(codec)()
    text = csvread.decode_block(decoder, data[:head], True, 0, codec)
    header = csvread.header_of(text, delimiter, skip_rows, has_header)
    chunks, starts = _cut(data, _after_lines(data, skip_rows + has_header))
    return Raw(codec, header, skip_rows + 1 + has_header, chunks, starts)


def _size(src: BinaryIO) -> int:
    """The file's size when it is a file (0 otherwise: what is read tells)."""
    try:
        return os.fstat(src.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return 0


def _after_lines(data: bytes, lines: int) -> int:
    """The offset after the first lines lines (the end when there are fewer)."""
    pos = 0
    for _ in range(lines):
        nl = data.find(b"\n", pos)
        if nl < 0:
            return len(data)
        pos = nl + 1
    return pos


def _cut(data: bytes, start: int) -> tuple[list[bytes], list[int]]:
    """Chunks of about csvread.BLOCK bytes from start, each ending where a record does. Every chunk but the
    last ends balanced, so the file's quotes are closed exactly when the last chunk's are."""
    chunks, starts = [], []
    while start < len(data):
        end = min(start + csvread.BLOCK, len(data))
        while end < len(data):
            cut = csvread.record_end(data, start, end)
            if cut > 0:
                end = cut
                break
            _closed(data, start)            # checked before looking further: an open quote would look to the end
            end = min(end + csvread.BLOCK, len(data))       # a record longer than a block: look further
        if end == len(data):
            _closed(data, start)
        chunks.append(data[start:end])
        starts.append(start)
        start = end
    return chunks, starts


def _closed(data: bytes, start: int) -> None:
    """Refuses a file whose quotes from start (a record boundary) to its end do not close."""
    if data.count(b'"', start) % 2:
        raise ParseError(f"byte {len(data)}: a quoted value is never closed before the end of the file",
                         stage="csv", kind="csv")
