"""Proposing a spec change from a mail its spec refused: where the order's known values stand, under which label."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from tsunagi.common import japanese as jp
from tsunagi.parsers import speclabels as labels

AMOUNTS = {"total", "subtotal", "shipping_fee", "cod_fee", "discount"}
TEXTS = {"order_no", "payment_method", "delivery_method", "note"}
LEARNABLE = AMOUNTS | TEXTS
# What may stand around a label on its line, and between the label and the value.
_MARKS = "【】[]<>()■◆●◇□◎★☆・*:：¥￥\\ \t\u3000"


@dataclass
class Found:
    label: str
    line: int          # 1-based
    text: str          # the line as folded


@dataclass
class Proposal:
    data: dict                                                   # the spec file's data, changed
    learned: dict[str, Found] = field(default_factory=dict)      # field -> where its value was found
    ambiguous: dict[str, list[Found]] = field(default_factory=dict)   # field -> the labels it stands under
    not_found: list[str] = field(default_factory=list)
    unlabelled: dict[str, list[Found]] = field(default_factory=dict)  # found, but with no label on its line


def _value_pattern(name: str, value: str) -> re.Pattern:
    """The value as a mail may write it: an amount with or without commas (never part of a longer number)."""
    if name in AMOUNTS:
        n = jp.parse_amount(value)
        forms = sorted({f"{n:,}", str(n)}, key=len, reverse=True)
        return re.compile(r"(?<![\d,])(?:" + "|".join(map(re.escape, forms)) + r")(?![\d,]*\d)")
    return re.compile(re.escape(jp.half_width(value).strip()))


def _label_before(line: str, start: int) -> str:
    return line[:start].strip(_MARKS).strip()


def find_value(name: str, value: str, lines: list[str]) -> list[Found]:
    """Every line the value stands on, with the label before it ("" when none)."""
    pattern = _value_pattern(name, value)
    out = []
    for n, line in enumerate(lines, 1):
        m = pattern.search(line)
        if m:
            out.append(Found(_label_before(line, m.start()), n, line.strip()))
    return out


def _same_label(a: str, b: str, groups) -> bool:
    return a == b or any(a in g and b in g for g in groups)


def learn(text: str, values: dict[str, str], spec: dict, groups=labels.SYNONYMS) -> Proposal:
    """The spec with each field whose value stands under exactly one label read by that label; a value under
    two labels (合計金額 and お支払い金額 both 6,110) is ambiguous and its field left as it was."""
    lines = jp.half_width(text).split("\n")
    proposal = Proposal(copy.deepcopy(spec))
    for name, value in values.items():
        found = find_value(name, value, lines)
        labelled = [f for f in found if f.label]
        if not found:
            proposal.not_found.append(name)
            continue
        if not labelled:
            proposal.unlabelled[name] = found
            continue
        distinct: list[Found] = []
        for f in labelled:
            if not any(_same_label(f.label, d.label, groups) for d in distinct):
                distinct.append(f)
        if len(distinct) > 1:
            proposal.ambiguous[name] = distinct
            continue
        proposal.learned[name] = distinct[0]
        _set_field(proposal.data, name, distinct[0].label, lines, groups)
    return proposal


def _set_field(data: dict, name: str, label: str, lines: list[str], groups) -> None:
    old = data.setdefault("field", {}).get(name, {})
    new = {"label": label}
    if old.get("required"):
        new["required"] = True
    if old.get("type"):
        new["type"] = old["type"]
    # the section is kept only when the label is on more than one line (as 氏名 is, in each address)
    pattern = labels.compile_label([label], groups)
    if old.get("in") and sum(1 for line in lines if pattern.search(line)) > 1:
        new["in"] = old["in"]
    data["field"][name] = new
