"""A layout's fields as polars expressions: raw columns to typed values, and the rows that fail."""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tsunagi.common import japanese as jp
from tsunagi.parsers.csvlayout import CsvLayout, FieldSpec
from tsunagi.parsers.errors import ParseError

DATETIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d")
AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%:z", "%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S %z",
                 "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S%:z")
NONE_WORDS = ("指定なし", "なし", "希望なし", "-", "―", "未指定")
DTYPES = {"int": pl.Int64, "amount": pl.Int64, "datetime": pl.Datetime("us"), "date": pl.Date}
LABELS = {"order_no": "注文番号", "ordered_at": "注文日時", "total": "合計金額", "line.sku": "商品コード",
          "line.qty": "数量", "line.unit_price": "単価", "line.amount": "金額", "requested_date": "お届け希望日",
          "buyer.postal_code": "注文者郵便番号", "ship_to.postal_code": "送付先郵便番号", "sku": "商品コード",
          "qty": "数量", "shipping_fee": "送料", "cod_fee": "代引料", "discount": "値引"}


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "value": self.value, "message": self.message}


def check_header(layout: CsvLayout, header: list[str]) -> None:
    """A file without a column its layout needs is unreadable as a whole: say which column."""
    missing = sorted(c for c in layout.columns_needed if c not in header)
    if missing:
        raise ParseError(f"必須の列 「{missing[0]}」 がありません (レイアウト {layout.name}; "
                         f"ファイルの列: {', '.join(header[:12])}{' …' if len(header) > 12 else ''})",
                         stage="csv", field=missing[0], kind="missing_column")


def matches(layout: CsvLayout, header: list[str]) -> bool:
    return all(c in header for c in layout.columns_needed)


def _col(name: str, header: set[str]) -> pl.Expr:
    return pl.col(name).str.strip_chars() if name in header else pl.lit("")


def half_width(e: pl.Expr) -> pl.Expr:
    """The polars twin of common.japanese.half_width: the same table (a property test holds them equal)."""
    return e.str.replace_many(jp.FOLD_FROM, jp.FOLD_TO)


def _same(e: pl.Expr) -> pl.Expr:
    return e


def full_width_kana(e: pl.Expr) -> pl.Expr:
    """The polars twin of common.japanese.full_width_kana: the same table, the pairs (ｶﾞ → ガ) in a pass
    of their own first (a pair ends in a voiced mark, which starts none, so the passes cannot disagree)."""
    pairs = sum(len(k) == 2 for k in jp.KANA_FROM)
    return e.str.replace_many(jp.KANA_FROM[:pairs], jp.KANA_TO[:pairs]).str.replace_many(
        jp.KANA_FROM[pairs:], jp.KANA_TO[pairs:])


# Names and addresses: half-width katakana in them becomes full-width, from any source.
KANA_FIELDS = {f"{who}.{part}" for who in ("buyer", "ship_to") for part in ("name", "address")}


def raw(spec: FieldSpec, header: set[str]) -> pl.Expr:
    """The field's text before typing: constant or columns joined, split, mapped, defaulted."""
    if spec.value is not None:
        e = pl.lit(spec.value)
    elif len(spec.columns) == 1:
        e = _col(spec.columns[0], header)
    else:   # parts joined, empty ones left out (no stray separators); phone parts with hyphens
        sep = "-" if spec.type == "phone" and not spec.sep else spec.sep
        parts = pl.concat_list([_col(c, header) for c in spec.columns])
        e = parts.list.eval(pl.element().filter(pl.element() != "")).list.join(sep)
    if spec.split:
        e = e.str.split(spec.split).list.get(spec.index, null_on_oob=True).fill_null("").str.strip_chars()
    if spec.map:
        mapping = dict(spec.map)
        anything = mapping.pop("*", None)    # "*" = any value not listed (e.g. a cancellation date)
        mapped = e.replace(mapping)
        if anything is not None:
            mapped = pl.when(e.is_in(list(mapping)) | (e == "")).then(mapped).otherwise(pl.lit(anything))
        e = mapped
    if spec.none or spec.type == "date":
        e = pl.when(e.is_in(list(spec.none or NONE_WORDS))).then(pl.lit("")).otherwise(e)
    if spec.default:
        e = pl.when(e == "").then(pl.lit(spec.default)).otherwise(e)
    return e


def _number(e: pl.Expr) -> pl.Expr:
    return half_width(e).str.replace_all(r"[,\s円¥￥\\]|\(円\)", "").cast(pl.Int64, strict=False)


def _datetime(e: pl.Expr, spec: FieldSpec, utc_naive: bool) -> pl.Expr:
    e = half_width(e)
    naive = pl.coalesce([e.str.strptime(pl.Datetime("us"), f, strict=False)
                         for f in (*spec.formats, *DATETIME_FORMATS)])
    if utc_naive:
        naive = naive.dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo").dt.replace_time_zone(None)
    aware = pl.coalesce([e.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in AWARE_FORMATS])
    return pl.coalesce([aware.dt.convert_time_zone("Asia/Tokyo").dt.replace_time_zone(None), naive])


def typed(spec: FieldSpec, text: pl.Expr, layout: CsvLayout, ascii: bool = False) -> pl.Expr:
    """The typed value; null where the text is empty or does not read as the type. ascii: the text is known
    to be ASCII, so the width folds (which change nothing there) are left out."""
    fold, kana = (_same, _same) if ascii else (half_width, full_width_kana)
    kind = spec.type
    if kind in ("int", "amount"):
        out = _number(text)
    elif kind == "datetime":
        out = _datetime(text, spec, layout.timezone == "UTC")
    elif kind == "date":
        out = _datetime(text, spec, False).dt.date()
    elif kind == "postal":
        digits = fold(text).str.replace_all(r"\D", "")
        digits = pl.when(digits.str.len_chars() == 6).then(pl.lit("0") + digits).otherwise(digits)
        out = pl.when(digits.str.len_chars() == 7).then(
            digits.str.slice(0, 3) + pl.lit("-") + digits.str.slice(3)).otherwise(None)
    elif kind == "phone":
        t = fold(text).str.replace(r"^\+81[-\s]?", "0").str.replace_all(r"[^\d-]", "")
        # Excel drops the leading 0 of a phone number kept as a number
        out = pl.when(t.str.contains(r"^[1-9]\d{8,9}$")).then(pl.lit("0") + t).otherwise(t)
    elif kind == "code":
        out = fold(text).str.strip_chars()
    else:   # one line of text: control characters become spaces, runs of spaces fold (as clean_text)
        out = text.str.replace_all(r"[\x00-\x1f\x7f\u2028\u2029]+", " ").str.replace_all(r"[ \t\u3000]+", " ") \
            .str.strip_chars()
        if spec.name in KANA_FIELDS:
            out = kana(out)
    if kind in ("text", "code", "phone", "status"):
        out = pl.when(out == "").then(None).otherwise(out)
    return out.cast(DTYPES.get(kind, pl.String))


def problem_checks(spec: FieldSpec, text: pl.Expr, value: pl.Expr) -> list[tuple[pl.Expr, str]]:
    """(mask, message) pairs for the rows where this field is wrong."""
    label = LABELS.get(spec.name, spec.name)
    checks = []
    if spec.required:
        checks.append((text == "", f"{label}が空です"))
    if spec.type in ("int", "amount", "datetime", "date", "postal"):
        what = {"int": "数値", "amount": "金額", "datetime": "日時", "date": "日付", "postal": "郵便番号(7桁)"}[spec.type]
        checks.append(((text != "") & value.is_null(), f"{label}を{what}として読めません"))
    if spec.name in ("line.qty", "qty"):
        op = value <= 0 if spec.name == "line.qty" else value < 0
        checks.append((op.fill_null(False), f"{label}が{'0以下' if spec.name == 'line.qty' else '負'}です"))
    return checks


def type_frame(frame: pl.DataFrame, layout: CsvLayout, specs: dict[str, FieldSpec], first_row: int,
               ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Canonical typed columns (named by field) plus _row and _bad; and each failing row's problem.
    Rows are numbered from first_row, or by the frame's own _row column (a frame some rows were taken from)."""
    columns = [c for c in frame.columns if c != "_row"]
    header = set(columns)
    texts = {name: raw(spec, header) for name, spec in specs.items()}
    base = frame if "_row" in frame.columns else frame.with_row_index("_row", offset=first_row)
    if columns:   # an empty line (a spreadsheet's trailing one) is no row at all; one expression, not one a
        # column: a chunk of a few rows paid 0.2 ms a column for it
        base = base.filter(pl.concat_str([pl.col(c) for c in columns], ignore_nulls=True).str.strip_chars() != "")
    base = base.with_columns([t.alias(f"_t:{n}") for n, t in texts.items()])
    values = {n: typed(spec, pl.col(f"_t:{n}"), layout) for n, spec in specs.items()}
    base = base.with_columns([v.alias(n) for n, v in values.items()])
    checks = [(name, mask, message) for name, spec in specs.items()
              for mask, message in problem_checks(spec, pl.col(f"_t:{name}"), pl.col(name))]
    flags = base.select([m.alias(f"_m{i}") for i, (_, m, _) in enumerate(checks)]) if checks else None
    problems = []
    if flags is not None:
        hits = flags.sum().row(0)          # one pass for every check; rows are looked at only on a hit
        for i, (name, _, message) in enumerate(checks):
            if hits[i]:
                for row, value in base.filter(flags[f"_m{i}"]).select("_row", f"_t:{name}").iter_rows():
                    problems.append(RowProblem(row, name, value, f"行 {row}: {message} ({value!r})"))
        bad = flags.select(pl.any_horizontal(pl.all()).alias("_bad"))["_bad"]
    else:
        bad = pl.Series("_bad", [False] * base.height)
    out = base.select(pl.col("_row").cast(pl.Int64), *[pl.col(n) for n in specs]).with_columns(bad)
    return out, problems
