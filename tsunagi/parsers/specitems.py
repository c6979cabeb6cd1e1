"""A mail's items read with a cart's spec: its item section cut into blocks, each block's code, name, price,
quantity and options found, each item made an order line."""
from __future__ import annotations

from tsunagi.common import japanese as jp
from tsunagi.oms.records import OrderLine
from tsunagi.parsers import speclabels as labels
from tsunagi.parsers.errors import ParseError
from tsunagi.parsers.mailspec import ITEM_FIELDS, LabelLine, MailSpec, Trace
from tsunagi.parsers.specbody import Body, convert, group_number, shape, text_of


def _starts(spec: MailSpec, text: bytes):
    """The pattern each item begins with: the spec's start, else the first in the text of its sku or
    name labels (a cart writes 商品コード or 商品名 first)."""
    regexes = spec.items["re"]
    if "start" in regexes:
        return regexes["start"]
    firsts = [(m.start(), regexes[k]) for k in ("sku", "name")
              if isinstance(regexes.get(k), LabelLine) and (m := regexes[k].search(text))]
    return min(firsts, key=lambda pair: pair[0])[1] if firsts else None


def _item_blocks(spec: MailSpec, body: Body) -> list[tuple[bytes, int]]:
    """Each item's text: from one start to the next (a rule line, if the spec names one, ends it early:
    with or without rules between items is the same), or between rule lines when no start is given."""
    items = spec.items
    text, base = body.section(spec, items.get("in"))
    key = ("blocks", base, len(text)) + tuple((k, r.pattern) for k, r in sorted(items["re"].items()))
    return body.remember(key, lambda: _cut_blocks(spec, text, base))


def _cut_blocks(spec: MailSpec, text: bytes, base: int) -> list[tuple[bytes, int]]:
    split = spec.items["re"].get("split")
    start = _starts(spec, text)
    if start is not None:
        starts = [m.start() for m in start.finditer(text)]
        bounds = list(zip(starts, starts[1:] + [len(text)]))
        if split:
            # searched only up to the next start: many items and no rule stay linear
            bounds = [(s, m.start() if (m := split.search(text, s + 1, e)) else e) for s, e in bounds]
    elif split:
        cuts = [(m.start(), m.end()) for m in split.finditer(text)]
        edges = [0] + [c for pair in cuts for c in pair] + [len(text)]
        bounds = list(zip(edges[0::2], edges[1::2]))
    else:
        bounds = []
    return [(text[s:e], base + s) for s, e in bounds]


def _item_values(regexes: dict, block: bytes, body: Body, offset: int) -> dict[str, str]:
    """sku, name, unit_price and qty of one block as written: the first pattern that gives each wins."""
    got: dict[str, str] = {}
    for key in ("head", "price", "unit_x_qty", "sku", "name", "unit_price", "qty"):
        pat = regexes.get(key)
        if pat is None or not (m := body.search(pat, block, offset)):
            continue
        if isinstance(pat, LabelLine):
            span = labels.value_span(m, block)
            value = body.own(offset, span) if key == "name" else block[span[0]:span[1]].decode()
            pairs = {key: labels.amount_text(value) if key in ("unit_price", "qty") else value}
        else:
            names, groups = shape(pat)
            pairs = ({g: text_of(m.group(n)) for g, n in names.items()} if names
                     else {key: text_of(m.group(1) if groups else m.group(0))})
            if pairs.get("name") is not None:     # an item name is free text
                pairs["name"] = body.own(offset, m.span(group_number(m, "name")))
        for gname, val in pairs.items():
            if gname in ITEM_FIELDS and gname not in got and val is not None:
                got[gname] = val
    return got


def lines(spec: MailSpec, body: Body, trace: Trace | None) -> list[OrderLine]:
    if trace is not None:
        return _read_lines(spec, body, trace)
    text, base = body.section(spec, spec.items.get("in"))
    key = ("lines", base, len(text)) + \
        tuple((k, r.pattern) for k, r in sorted(spec.items["re"].items()))
    return body.remember(key, lambda: _read_lines(spec, body, None))


def _read_lines(spec: MailSpec, body: Body, trace: Trace | None) -> list[OrderLine]:
    regexes = spec.items["re"]
    lines: list[OrderLine] = []
    for block, offset in _item_blocks(spec, body):
        got = _item_values(regexes, block, body, offset)
        if not any(k in got for k in ("unit_price", "qty")):
            continue  # a block of totals or notes, not an item
        where = body.line_of(offset)
        if spec.waits_for or spec.kind == "cancel":     # a price the mail does not give (the CSV brings it)
            got.setdefault("unit_price", "0")
        for key in ITEM_FIELDS:
            if not got.get(key, "").strip():
                raise ParseError(f"item {len(lines) + 1}: {key} not found", field=f"lines.{key}", line=where)
        options = tuple(jp.clean_text(text_of(m.group(1) if shape(m.re)[1] else m.group(0)))
                        for m in regexes["option"].finditer(block)) if "option" in regexes else ()
        lines.append(OrderLine(
            channel_sku=jp.clean_text(got["sku"]), name=jp.clean_text(got["name"]),
            qty=convert(got["qty"], "int", "lines.qty", where),
            unit_price=convert(got["unit_price"], "amount", "lines.unit_price", where),
            options=tuple(o for o in options if o)))
        if trace is not None:
            trace.items.append((lines[-1].channel_sku, where))
    return lines
