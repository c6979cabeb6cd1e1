"""Reading a CSV file of any Japanese encoding as polars frames, a bounded chunk at a time."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import polars as pl

from tsunagi.common import jcodec
from tsunagi.parsers.errors import ParseError

BLOCK = 8 << 20          # bytes decoded at a time; a chunk handed to polars is about this size
SAMPLE = 256 << 10
SCAN_BLOCK = 1 << 20     # bytes read at a time when looking for over-long lines
IN_MEMORY = 128 << 20    # decoded bytes kept in memory; a larger file goes on in the scratch file


def detect_encoding(sample: bytes) -> str:
    """The sample's encoding (see common.jcodec), or a ParseError naming the byte where each one fails."""
    try:
        return jcodec.detect_encoding(sample)
    except jcodec.UnknownEncoding as exc:
        raise ParseError(str(exc), stage="decode", kind="encoding") from None


class LineScan:
    """Fed a file block by block, raises a ParseError naming the byte offset of the first line longer than
    max_line_bytes, before anything is decoded. Memory stays at one block and one line's worth: only a window
    of max_line_bytes + 1 bytes without a newline need be found, and the last newline of each window is where
    the next one starts."""

    def __init__(self, max_line_bytes: int):
        self.max_line_bytes = max_line_bytes
        self.start, self.buf = 0, b""        # buf holds the file from offset start on

    def feed(self, block: bytes) -> None:
        self.buf += block
        while len(self.buf) > self.max_line_bytes:
            nl = self.buf.rfind(b"\n", 0, self.max_line_bytes + 1)
            if nl < 0:
                raise _too_long(self.start, self.max_line_bytes)
            self.start += nl + 1
            self.buf = self.buf[nl + 1:]


def first_long_line(data: bytes, max_line_bytes: int) -> ParseError | None:
    """LineScan's finding for bytes in hand, found in place (nothing copied)."""
    start = 0
    while len(data) - start > max_line_bytes:
        nl = data.rfind(b"\n", start, start + max_line_bytes + 1)
        if nl < 0:
            return _too_long(start, max_line_bytes)
        start = nl + 1
    return None


def _too_long(start: int, max_line_bytes: int) -> ParseError:
    return ParseError(f"byte {start}: a line longer than {max_line_bytes} bytes (csv.max_line_bytes); the file "
                      f"is not a CSV of rows, or a field holds far too much: fix the file, or raise "
                      f"csv.max_line_bytes if such lines are right", stage="csv", kind="line_too_long")


def check_line_lengths(src: BinaryIO, max_line_bytes: int) -> None:
    """The LineScan of a whole stream."""
    scan = LineScan(max_line_bytes)
    while block := src.read(SCAN_BLOCK):
        scan.feed(block)


def sha256_and_long_line(src: BinaryIO, max_line_bytes: int,
                         known: str | None = None) -> tuple[str, ParseError | None]:
    """The stream's sha256 and its first over-long line (LineScan), in one read of a file of any size.
    known: the sha256 of bytes hashed as they were written a moment ago, given back without hashing again."""
    digest, scan, long_line = hashlib.sha256(), LineScan(max_line_bytes), None
    while block := src.read(SCAN_BLOCK):
        if known is None:
            digest.update(block)
        if long_line is None:
            try:
                scan.feed(block)
            except ParseError as exc:
                long_line = exc
    return known or digest.hexdigest(), long_line


def record_end(data: bytes, start: int = 0, end: int | None = None) -> int:
    """The position after the last newline in data[start:end] that ends a record (not inside quotes), or -1.

    start is on a record boundary, so the quotes before a newline are balanced exactly when their count
    is even (an escaped quote is two). Counted in place: no slice is copied."""
    end = len(data) if end is None else end
    after = 0
    total = data.count(b'"', start, end)
    while True:
        nl = data.rfind(b"\n", start, end)
        if nl < 0:
            return -1
        after += data.count(b'"', nl + 1, end)
        if (total - after) % 2 == 0:
            return nl + 1
        end = nl


@dataclass
class Decoded:
    """A file re-written as UTF-8, with the byte offsets where chunks may be cut."""
    path: Path
    encoding: str
    header: list[str]
    data_start: int              # byte offset of the first data record
    cuts: list[int]              # chunk ends (byte offsets), the last is the file size
    first_row: int               # the row number (1-based, header counted) of the first data record
    chunks: list[bytes] | None = None    # each chunk's UTF-8 text when they fit in memory (path is then unused)

    def chunk(self, index: int) -> bytes:
        """The bytes of chunk index (whole records)."""
        if self.chunks is not None:
            return self.chunks[index] if index < len(self.chunks) else b""
        start = self.cuts[index - 1] if index else self.data_start
        end = self.cuts[index]
        with open(self.path, "rb") as fh:
            fh.seek(start)
            return fh.read(end - start)


class _Sink:
    """Where the decoded text goes, the header's lines first and then one chunk a write: memory while it
    stays under IN_MEMORY (writing and reading back a scratch copy was a third of re-reading a file whose
    orders the store already has), then the scratch file."""

    def __init__(self, path: Path):
        self.path, self.parts, self.size, self.file = path, [], 0, None

    def write(self, data: bytes) -> None:
        if self.file is None and self.size + len(data) > IN_MEMORY:
            self.file = open(self.path, "wb")
            self.file.writelines(self.parts)
            self.parts = []
        if self.file is None:
            self.parts.append(data)
        else:
            self.file.write(data)
        self.size += len(data)

    def close(self) -> list[bytes] | None:
        """Each chunk's text when all stayed in memory, else None (it is in the scratch file)."""
        if self.file is None:
            return self.parts[1:]
        self.file.close()
        return None


def decode_block(decoder, block: bytes, final: bool, consumed: int, codec: str) -> str:
    try:
        return decoder.decode(block, final=final)
    except UnicodeDecodeError as exc:
        raise ParseError(f"byte {consumed + exc.start}: not valid {codec} ({exc.reason}); the file is in "
                         f"another encoding or damaged", stage="decode", kind="encoding") from None


def decode_to_utf8(src: BinaryIO, dst: Path, encoding: str, delimiter: str, skip_rows: int,
                   has_header: bool = True) -> Decoded:
    """Decode the whole file once, streaming, before anything is applied: a wrong encoding or an
    unclosed quote is found here and named by byte offset."""
    sample = src.read(SAMPLE)
    codec = detect_encoding(sample) if encoding == "auto" else encoding
    decoder = codecs.getincrementaldecoder(codec)()
    header, data_start, cuts, written, consumed, pending, head = None, 0, [], 0, 0, b"", ""
    out = _Sink(dst)
    try:
        block = sample
        while True:
            final = not block
            text = decode_block(decoder, block, final, consumed, codec)
            consumed += len(block)
            if header is None:
                header, text, data_start = _take_header(head + text, final, delimiter, skip_rows, out, has_header)
                written = data_start
                if header is None:
                    if final:
                        raise ParseError("the file has no header row", stage="csv", kind="no_header")
                    head, block = text, src.read(BLOCK)
                    continue
            # cut in UTF-8 bytes, not in text: counting and slicing there is half the memory traffic
            data = pending + text.encode("utf-8")
            if final and data.count(b'"') % 2:
                raise ParseError(f"byte {consumed}: a quoted value is never closed before the end of the file",
                                 stage="csv", kind="csv")
            end = len(data) if final else record_end(data)
            if end > 0:
                out.write(data[:end])
                written += end
                cuts.append(written)
            pending = data[max(end, 0):]
            if final:
                break
            block = src.read(BLOCK)
    finally:
        chunks = out.close()
    return Decoded(dst, codec, header, data_start, cuts or [data_start], skip_rows + 1 + has_header, chunks)


def header_of(text: str, delimiter: str, skip_rows: int, has_header: bool) -> list[str]:
    """The column names the whole of text (the file's first lines) gives, as decode_to_utf8 reads them."""
    return _take_header(text, True, delimiter, skip_rows, io.BytesIO(), has_header)[0]


def _take_header(text: str, final: bool, delimiter: str, skip_rows: int, out, has_header: bool = True) -> tuple:
    """Skip the preamble lines and read the header; (None, text, 0) until enough text has arrived.
    A file without a header row gets its columns named by number ("1", "2", …) from its first row."""
    lines = text.split("\n", skip_rows + 1)
    if len(lines) <= skip_rows + 1 and not final:
        return None, text, 0
    lines += [""] * (skip_rows + 2 - len(lines))
    head = lines[skip_rows].rstrip("\r")
    if not head.strip():
        raise ParseError(f"row {skip_rows + 1}: the header row is empty", stage="csv", kind="no_header")
    names = [h.strip().lstrip("\ufeff") for h in next(csv.reader([head], delimiter=delimiter))]
    kept = skip_rows + 1 if has_header else skip_rows
    prefix = "".join(line + "\n" for line in lines[:kept])
    encoded = prefix.encode("utf-8")
    out.write(encoded)
    if not has_header:
        return [str(n) for n in range(1, len(names) + 1)], "\n".join(lines[skip_rows:]), len(encoded)
    return names, lines[skip_rows + 1], len(encoded)


def frames(decoded: Decoded, delimiter: str, quote: str = '"') -> Iterator[tuple[int, pl.DataFrame]]:
    """(row number of the first row, frame of strings) per chunk, columns named by the header."""
    row = decoded.first_row
    for index in range(len(decoded.cuts)):
        frame = read_chunk(decoded, index, delimiter, quote, row)
        if frame is not None:
            yield row, frame
            row += frame.height


def read_chunk(decoded: Decoded, index: int, delimiter: str, quote: str, first_row: int,
               columns: list[str] | None = None) -> pl.DataFrame | None:
    """Chunk index as a frame of strings (None when it holds only blank lines); first_row names it in errors.
    columns: only these are read (parsing a column costs; the rows are the same)."""
    return read_bytes(decoded.chunk(index), unique(decoded.header), delimiter, quote, first_row, columns)


def read_bytes(data: bytes, names: list[str], delimiter: str, quote: str, first_row: int,
               columns: list[str] | None = None, lossy: bool = False) -> pl.DataFrame | None:
    """Whole records as a frame of strings named names (see read_chunk). lossy: bytes that are not UTF-8
    become U+FFFD (for a file still in its own encoding, read only for its record structure)."""
    if not data or data.isspace():      # not strip(): that copies the chunk
        return None
    # A first line of exactly the header's width: polars takes a block's width from its first line, so a block
    # of rows all shorter (trailing empty fields left out) or longer than the header would fail whole.
    # Short rows are filled with "", fields beyond the header are not read (as before).
    pad = (delimiter * (len(names) - 1) + "\n").encode("utf-8") if len(names) > 1 else b""   # one column: no width
    wanted = [i for i, n in enumerate(names) if columns is None or n in columns] or [0]
    try:
        frame = pl.read_csv(io.BytesIO(pad + data), has_header=False, infer_schema=False,
                            columns=None if columns is None else wanted, encoding="utf8-lossy" if lossy else "utf8",
                            separator=delimiter, quote_char=quote or None, truncate_ragged_lines=True,
                            ).slice(1 if pad else 0)
    except Exception as exc:
        raise ParseError(f"row {first_row} onwards: not a readable CSV: {exc}", stage="csv", kind="csv",
                         line=first_row) from None
    frame.columns = [names[i] for i in wanted]
    return frame.fill_null("")


UNIT = b"\x1f"      # a byte no CSV of orders holds: lines are read as one field split at it


def read_lines(decoded: Decoded, index: int) -> pl.Series | None:
    """Each line of chunk index as written (line ends left out); None when the chunk holds the UNIT byte.
    Every record ends at a line's end, so when there are as many lines as records (a quoted line break
    makes more), each line is one record."""
    data = decoded.chunk(index)
    if UNIT in data or not data or data.isspace():
        return None
    return pl.read_csv(io.BytesIO(data), has_header=False, infer_schema=False, separator=UNIT.decode(),
                       quote_char=None, truncate_ragged_lines=True).to_series(0)


def unique(header: list[str]) -> list[str]:
    """Duplicate header names get a suffix (.2, .3) so every column can be addressed."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        name = name or "column"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name]}")
    return out
