"""A channel's result or error file (parsers/channelresults/*.toml): recognised by name and header, read into
the rows the channel refused, each with its SKU or order, code and message."""
from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import Field

from tsunagi.common import jcodec
from tsunagi.common.clock import JST
from tsunagi.common.errors import TsunagiError
from tsunagi.common.schema import Strict, validate
from tsunagi.parsers.layoutfile import ENCODINGS

LAYOUT_DIR = Path(__file__).parent / "channelresults"
ROLES = ("message", "sku", "order", "code", "line", "file", "kind")


class Columns(Strict):
    """For each part of a refused row, the header names it may go by (the first found is taken)."""
    message: list[str] = Field(min_length=1)
    sku: list[str] = Field(default_factory=list)
    order: list[str] = Field(default_factory=list)
    code: list[str] = Field(default_factory=list)
    line: list[str] = Field(default_factory=list)
    file: list[str] = Field(default_factory=list)     # the uploaded file a row is about
    kind: list[str] = Field(default_factory=list)     # エラー / 警告: only reject_kinds are rejections


class ResultLayoutFile(Strict):
    title: str = ""
    channel: str
    encoding: str = "auto"
    delimiter: str = ","
    file_name: str = ""            # a regex the file's name must match; (?P<upload>…) names the uploaded file,
    #                                (?P<at>…) the time the channel wrote it (YYYYMMDDHHMM[SS[fff]], JST)
    uploaded_name: str = ""        # the uploaded file's name from the match, e.g. "{upload}.csv"
    detect: list[str] = Field(default_factory=list)   # header columns that must all be there
    by_line: bool = False          # a file whose header names no message column: each line is one refused row
    reject_kinds: list[str] = Field(default_factory=list)
    columns: Columns


class ResultLayoutError(TsunagiError, ValueError):
    """A channel result layout that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ResultLayout:
    name: str
    spec: ResultLayoutFile
    pattern: re.Pattern | None


@dataclass
class Rejection:
    """One row the channel refused."""
    line: int                      # in the result file (1 = its first line)
    message: str
    sku: str = ""
    order: str = ""
    code: str = ""
    file: str = ""                 # the uploaded file it names, if it does


@dataclass
class ResultFile:
    layout: ResultLayout
    uploaded: str                  # the uploaded file's name, from the result file's name ("" if unknown)
    rejections: list[Rejection] = field(default_factory=list)
    made_at: datetime | None = None    # when the channel wrote it, from its name ((?P<at>…), JST)


def load_all(extra_dirs: tuple[Path, ...] = ()) -> list[ResultLayout]:
    """The shipped layouts and those in each extra folder's channelresults/ (one of the same name wins)."""
    found: dict[str, Path] = {}
    for folder in (LAYOUT_DIR, *(Path(d) / "channelresults" for d in extra_dirs)):
        for path in sorted(folder.glob("*.toml")):
            found[path.stem] = path
    return [_load(name, path) for name, path in sorted(found.items())]


def _load(name: str, path: Path) -> ResultLayout:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ResultLayoutError(f"{path}: not valid TOML: {exc}") from None
    spec, problems = validate(ResultLayoutFile, data)
    if spec is None:
        raise ResultLayoutError("\n".join(f"{path}: {p}" for p in problems))
    if spec.encoding not in ENCODINGS:
        raise ResultLayoutError(f"{path}: encoding: use one of {', '.join(ENCODINGS)}")
    try:
        pattern = re.compile(spec.file_name) if spec.file_name else None
    except re.error as exc:
        raise ResultLayoutError(f"{path}: file_name: not a regular expression: {exc}") from None
    if not pattern and not spec.detect:
        raise ResultLayoutError(f"{path}: give file_name or detect: how the file is recognised")
    return ResultLayout(name, spec, pattern)


def recognise(name: str, sample: bytes, layouts: list[ResultLayout]) -> ResultLayout | None:
    """The first layout the file's name and header (in its first bytes) fit; None: no channel result file."""
    for layout in layouts:
        if layout.pattern and not layout.pattern.match(name):
            continue
        text = _text(sample, layout.spec.encoding, cut=True)
        if text is None:
            continue
        header = _header(text, layout.spec.delimiter)
        if layout.spec.detect and not set(layout.spec.detect) <= set(header):
            continue
        if layout.spec.by_line or _index(header, layout.spec.columns.message) is not None:
            return layout
    return None


def read(layout: ResultLayout, name: str, data: bytes) -> ResultFile:
    """The rows the channel refused; a file whose header names no message column is read line by line."""
    match = layout.pattern.match(name) if layout.pattern else None
    uploaded = layout.spec.uploaded_name.format(**match.groupdict()) if match and layout.spec.uploaded_name else ""
    made_at = _stamp(match.groupdict().get("at") or "") if match else None
    text = _text(data, layout.spec.encoding) or data.decode("cp932", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.spec.delimiter))
    header = [h.strip() for h in rows[0]] if rows else []
    if _index(header, layout.spec.columns.message) is not None:
        return ResultFile(layout, uploaded, _by_header(layout.spec, header, rows[1:]), made_at)
    return ResultFile(layout, uploaded, [Rejection(n, " / ".join(c.strip() for c in row if c.strip()))
                                         for n, row in enumerate(rows, 1) if any(c.strip() for c in row)], made_at)


def _stamp(digits: str) -> datetime | None:
    """YYYYMMDDHHMM[SS[fff…]] in JST (RMS's 20261201093015123); None when it is no such time."""
    if not digits.isdigit() or len(digits) < 12:
        return None
    try:
        at = datetime.strptime((digits[:14] + "00")[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return at.replace(microsecond=int((digits[14:20] + "000000")[:6]), tzinfo=JST)


def _header(text: str, delimiter: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=delimiter), [])
    return [h.strip() for h in first]


def _by_header(spec: ResultLayoutFile, header: list[str], rows: list[list[str]]) -> list[Rejection]:
    where = {role: _index(header, getattr(spec.columns, role)) for role in ROLES}
    out = []
    for n, row in enumerate(rows, 2):
        def value(role: str) -> str:
            i = where[role]
            return row[i].strip() if i is not None and i < len(row) else ""
        if not any(c.strip() for c in row):
            continue
        if spec.reject_kinds and where["kind"] is not None and value("kind") not in spec.reject_kinds:
            continue                  # a warning: the row was taken
        out.append(Rejection(int(value("line")) if value("line").isdigit() else n, value("message"), value("sku"),
                             value("order"), value("code"), value("file")))
    return out


def _index(header: list[str], names: list[str]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def _text(data: bytes, encoding: str, cut: bool = False) -> str | None:
    """data decoded; cut: the first bytes of a file (a character cut at the end is dropped)."""
    codec = ENCODINGS[encoding]
    try:
        if codec == "auto":
            codec = jcodec.detect_encoding(data[:65536])
        return data.decode(codec, errors="ignore") if cut else data.decode(codec)
    except (UnicodeDecodeError, jcodec.UnknownEncoding, LookupError):
        return None
