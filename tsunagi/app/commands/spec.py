"""Commands on cart mail specs: test one against mail files, learn one from a failing mail, replay stored mail."""
from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from datetime import date
import tempfile
from pathlib import Path

import tomli_w

from tsunagi.app import config as config_mod
from tsunagi.app.commands import base
from tsunagi.common import clock
from tsunagi.common import japanese as jp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms.records import OrderRecord
from tsunagi.common.schema import read_toml
from tsunagi.ingest import specreplay
from tsunagi.ingest.spool import Spool
from tsunagi.parsers import speclearn
from tsunagi.parsers.csvfile import parse_file
from tsunagi.parsers.errors import NotAnOrder, ParseError
from tsunagi.parsers.mailmsg import read_mail
from tsunagi.parsers.mailspec import SPEC_DIR, SpecError, Trace, load_spec
from tsunagi.parsers.ordermail import parse_order_mail, spec_for, spec_path

MAX_JOBS = 64        # worker processes a replay may ask for: more is a slipped key, not a machine


def register(sub) -> None:
    sp = sub.add_parser("spec", help="cart mail specs: test, learn, replay").add_subparsers(dest="sub", required=True)
    st = sp.add_parser("test", help="read mail files with a cart's spec: each field found and its line, what is "
                                    "missing, the order it would make (exit 1 if any mail would fail)")
    st.add_argument("cart", help="a cart name (mail_spec_dir, then the shipped specs) or a spec file")
    st.add_argument("files", nargs="+", metavar="FILE.eml")
    st.set_defaults(func=cmd_spec_test)
    sl = sp.add_parser("learn", help="propose a spec change from a mail the shop's spec refused, by finding in it "
                                     "the order's values; written as a new spec file for review")
    sl.add_argument("shop")
    sl.add_argument("--mail", required=True, metavar="FILE.eml")
    given = sl.add_mutually_exclusive_group(required=True)
    given.add_argument("--order-csv", metavar="FILE", help="the shop's order CSV holding the same order")
    given.add_argument("--values", help="order_no=…,total=…[,shipping_fee=…,cod_fee=…,discount=…,subtotal=…,"
                                        "payment_method=…,delivery_method=…]")
    sl.set_defaults(func=cmd_spec_learn)
    sr = sp.add_parser("replay", help="run the stored mails of a cart's shops (done and failed) through a "
                                      "candidate spec: mail by mail, what would change (exit 1 if a mail read "
                                      "now would fail)")
    sr.add_argument("cart")
    sr.add_argument("--spec", metavar="FILE", help="the candidate spec file (default: the spec in use)")
    sr.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="only mails received since that day")
    sr.add_argument("--all", action="store_true", help="every mail, the unchanged too")
    sr.add_argument("--jobs", type=base.at_most(MAX_JOBS, "processes", 4), default=min(os.cpu_count() or 1, 4),
                    help="worker processes (1 or fewer: read in this process)")
    sr.set_defaults(func=cmd_spec_replay)


class UnknownSpec(TsunagiError):
    """A cart name no spec folder has, or a spec file that cannot be read."""


def spec_search_path(args) -> str:
    """mail_spec_dir (when a config is given or found) before the shipped specs."""
    path = args.config or os.environ.get("TSUNAGI_CONFIG") or "config.toml"
    if not args.config and not Path(path).exists():
        return str(SPEC_DIR)
    return config_mod.load(path).spec_path


def load_cart(name: str, search: str):
    """The spec a command names: a file, or a cart found on the search path."""
    try:
        if name.endswith(".toml") or os.sep in name:
            return load_spec(Path(name))
        return spec_for(name, search)
    except SpecError as exc:
        raise UnknownSpec(str(exc).splitlines()[0]) from None
    except ParseError as exc:
        raise UnknownSpec(exc.message) from None


def cmd_spec_test(args) -> int:
    search = spec_search_path(args)
    spec = load_cart(args.cart, search)
    failed = 0
    for name in args.files:
        trace = Trace()
        try:
            record = parse_order_mail(Path(name).read_bytes(), "(test)", [spec], "cart@example.jp", search, trace)
        except ParseError as exc:
            failed += 1
            _show_trace(name, trace)
            kind = "not an order" if isinstance(exc, NotAnOrder) else exc.kind
            where = f" (line {exc.line})" if exc.line else ""
            print(f"  FAILS [{kind}] {exc.message}{where}")
            continue
        _show_trace(name, trace)
        _show_order(record)
    print(f"{len(args.files) - failed} of {len(args.files)} mails read with spec {spec.cart}")
    return 1 if failed else 0


def cmd_spec_learn(args) -> int:
    cfg = base.config(args)
    shop = cfg.shop(args.shop)
    cart = shop.mail_specs[0]
    source = spec_path(cart, cfg.spec_path)
    raw = Path(args.mail).read_bytes()
    text = read_mail(raw).text
    values = parse_values(args.values) if args.values else csv_values(cfg, shop, Path(args.order_csv), text)
    proposal = speclearn.learn(text, values, read_toml(source))
    name = f"{cart}-learned-{clock.now():%Y%m%d%H%M%S}"
    proposal.data.update(cart=name, title=f"{proposal.data.get('title', cart)}（spec learn の提案）")
    folder = cfg.file.mail_spec_dir or cfg.data_dir / "specs"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.toml"
    notes = learn_notes(proposal, args.mail, source)
    out.write_text("".join(f"# {n}\n" for n in notes) + "\n" + tomli_w.dumps(proposal.data), encoding="utf-8")
    print("\n".join(notes))
    print(f"wrote {out}")
    trace = Trace()
    try:
        record = parse_order_mail(raw, shop.id, [load_spec(out)], "cart@example.jp", None, trace)
    except ParseError as exc:
        print(f"the proposal does not read the mail yet: [{exc.kind}] {exc.message}")
        return 1
    _show_order(record)
    hint = "" if cfg.file.mail_spec_dir else f" and mail_spec_dir = \"{folder}\""
    print(f"next: tsunagi spec replay {cart} --spec {out}; then set the shop's cart = \"{name}\"{hint}")
    return 0


def parse_values(text: str) -> dict[str, str]:
    """order_no=A-1,total=6,110 -> {"order_no": "A-1", "total": "6,110"} (a comma inside an amount stays)."""
    out = {}
    for part in re.split(r",(?=\s*\w+\s*=)", text):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in speclearn.LEARNABLE:
            raise BadValues(f"--values: {part!r}: give NAME=VALUE, NAME one of {', '.join(sorted(speclearn.LEARNABLE))}")
        out[key] = value.strip()
    return out


def csv_values(cfg, shop, path: Path, text: str) -> dict[str, str]:
    """The values of the order in the shop's order CSV whose number the mail carries."""
    if not shop.order_csv:
        raise BadValues(f"shop {shop.id} has no order_csv layout: give --values instead")
    layout = cfg.csv_layout(shop.order_csv.layout)
    with tempfile.TemporaryDirectory() as scratch, open(path, "rb") as src:
        _, chunks = parse_file(src, layout, shop.id, Path(scratch) / "decoded.csv")
        records = [rec for chunk in chunks for rec, _ in chunk.orders]
    folded = jp.half_width(text)
    record = next((r for r in records if r.order_no and r.order_no in folded), None)
    if record is None:
        raise BadValues(f"{path}: none of its {len(records)} orders has its number in the mail")
    values = {"order_no": record.order_no, "total": str(record.total), "subtotal": str(record.lines_total)}
    values |= {k: str(v) for k in ("shipping_fee", "cod_fee", "discount") if (v := getattr(record, k))}
    return values


def learn_notes(p: speclearn.Proposal, mail: str, source: Path) -> list[str]:
    """What the proposal learned and what it could not: the file's opening comment and the command's output."""
    notes = [f"Proposed by tsunagi spec learn from {mail}, on {source}. Review it before use."]
    notes += [f"{name}: label {f.label!r} (line {f.line}: {f.text})" for name, f in p.learned.items()]
    for name, found in p.ambiguous.items():
        where = "; ".join(f"{f.label!r} line {f.line}" for f in found)
        notes.append(f"{name}: AMBIGUOUS, the value stands under {len(found)} labels ({where}): left as it was")
    notes += [f"{name}: found only without a label (lines {', '.join(str(f.line) for f in found)}): left as it was"
              for name, found in p.unlabelled.items()]
    notes += [f"{name}: its value is not in the mail: left as it was" for name in p.not_found]
    return notes


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a day as YYYY-MM-DD") from None


def cmd_spec_replay(args) -> int:
    cfg = base.config(args)
    shop_specs = {s.id: s.mail_specs for s in cfg.shops}
    if not any(args.cart in carts for carts in shop_specs.values()):
        raise UnknownSpec(f"no shop reads cart {args.cart!r} (shops' carts: "
                          f"{', '.join(sorted({c for cs in shop_specs.values() for c in cs}))})")
    try:
        spool = Spool(cfg.spool_dir)
        plan = specreplay.plan_for(spool, shop_specs, args.cart, args.spec, cfg.spec_path)
    except (SpecError, ParseError) as exc:
        raise UnknownSpec(str(exc).splitlines()[0]) from None
    counts: Counter = Counter()
    for r in specreplay.replay(spool, plan, args.since, args.jobs):
        counts[r.change] += 1
        if args.all or r.change not in ("same", "still_fails"):
            print(f"{r.item_id}  {r.folder:<6}  {r.change:<11}  {r.detail}")
    print(f"{sum(counts.values())} mails of {', '.join(sorted(plan.shops))}: " +
          ", ".join(f"{counts[k]} {k}" for k in ("same", "changed", "now_applies", "now_fails", "still_fails")))
    return 1 if counts["now_fails"] else 0


class BadValues(TsunagiError):
    """--values or --order-csv that give nothing to learn from."""


def _show_trace(name: str, trace: Trace) -> None:
    print(f"{name}: spec {trace.spec or '(none matched)'}")
    for field, (value, line) in trace.found.items():
        print(f"  {field:<16} line {line:>4}  {value}")
    for sku, line in trace.items:
        print(f"  {'item':<16} line {line:>4}  {sku}")
    if trace.missing:
        print(f"  missing: {', '.join(trace.missing)}")


def _show_order(r: OrderRecord) -> None:
    print(f"  order {r.order_no}  {r.ordered_at:%Y-%m-%d %H:%M}  total {r.total:,} yen "
          f"(shipping {r.shipping_fee:,}, COD fee {r.cod_fee:,}, discount {r.discount:,})")
    for line in r.lines:
        options = f"  [{' / '.join(line.options)}]" if line.options else ""
        print(f"    {line.channel_sku} × {line.qty} @ {line.unit_price:,}  {line.name}{options}")
    for role, a in (("buyer", r.buyer), ("ship to", r.ship_to)):
        if a.name or a.address:
            print(f"    {role}: {a.name}  〒{a.postal_code} {a.prefecture}{a.address}  {a.phone}")
