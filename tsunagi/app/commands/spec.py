"""Commands on cart mail specs: test one against mail files, learn one from a failing mail, replay stored mail."""
from __future__ import annotations

import os
from pathlib import Path

from tsunagi.app import config as config_mod
from tsunagi.common.errors import TsunagiError
from tsunagi.oms.records import OrderRecord
from tsunagi.parsers.errors import NotAnOrder, ParseError
from tsunagi.parsers.mailspec import SPEC_DIR, SpecError, Trace, load_spec
from tsunagi.parsers.ordermail import parse_order_mail, spec_for


def register(sub) -> None:
    sp = sub.add_parser("spec", help="cart mail specs: test, learn, replay").add_subparsers(dest="sub", required=True)
    st = sp.add_parser("test", help="read mail files with a cart's spec: each field found and its line, what is "
                                    "missing, the order it would make (exit 1 if any mail would fail)")
    st.add_argument("cart", help="a cart name (mail_spec_dir, then the shipped specs) or a spec file")
    st.add_argument("files", nargs="+", metavar="FILE.eml")
    st.set_defaults(func=cmd_spec_test)


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
