"""Commands that run tsunagi: serve (the daemon), demo, and check (the configuration, specs and layouts)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from tsunagi.app import access, logsetup, wiring
from tsunagi.app.commands import base
from tsunagi.app.config.partners import open_key_files
from tsunagi.common.imap import port_of
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import orders
from tsunagi.outbound.notify import sample_context
from tsunagi.parsers.csvfile import parse_file
from tsunagi.parsers.csvread import check_line_lengths
from tsunagi.parsers.ordermail import spec_for


def register(sub) -> None:
    sub.add_parser("serve", help="run the daemon").set_defaults(func=cmd_serve)
    demo = sub.add_parser("demo", help="run the daemon on sample shops and show what it does")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    demo.set_defaults(func=cmd_demo)
    ck = sub.add_parser("check", help="validate the configuration, specs and layouts; or a CSV layout on a sample")
    ck.add_argument("--layout", help="a CSV layout to try (shipped, in csv.layout_dir, or in config)")
    ck.add_argument("--sample", help="a sample file to read with --layout")
    ck.add_argument("--shop", help="shop the sample belongs to (default: the first)")
    ck.set_defaults(func=cmd_check)


def cmd_serve(args) -> int:
    cfg = base.config(args)
    refuse_open_keys(cfg)
    logsetup.configure(cfg.file.log, cfg.file.model_dump())
    from tsunagi.app.daemon import run_forever    # the daemon's parts load only when it runs: other commands start sooner
    run_forever(cfg)
    return 0


def refuse_open_keys(cfg) -> None:
    """A private key others can read is a leak already: refused before anything runs."""
    lines = open_key_files(cfg.endpoints)
    if lines:
        raise TsunagiError("\n".join(lines))


def cmd_demo(args) -> int:
    from tsunagi.demo.run import run_demo      # the demo's samples load only when it runs
    return run_demo(keep=args.keep)


def cmd_check(args) -> int:
    """Everything is read and tried; nothing is created (no data dir, no database, no spool)."""
    cfg = base.config(args)
    if args.layout or args.sample:
        if not (args.layout and args.sample):
            base.stderr("check a layout with both --layout NAME and --sample FILE")
            return 2
        return check_layout(cfg, args.layout, Path(args.sample), args.shop or cfg.shops[0].id)
    refuse_open_keys(cfg)
    _show_shops(cfg)
    ok = _check_templates(cfg)
    _show_shipping(cfg)
    _show_endpoints(cfg)
    _warn_open_to_all(cfg)
    wiring.shipping_rules(cfg)
    if not ok:
        return 1
    print(f"{cfg.path}: OK ({len(cfg.shops)} shops, data in {cfg.data_dir})")
    return 0


def _show_shops(cfg) -> None:
    for shop in cfg.shops:
        for cart in shop.mail_specs:
            spec = spec_for(cart, cfg.spec_path)
            print(f"shop {shop.id}: mail spec {cart} ({spec.title})")
        if shop.stock_feed:
            cfg.layouts.load("stock", shop.stock_feed.layout)
            print(f"shop {shop.id}: stock feed {shop.stock_feed.layout}, safety stock {shop.stock_feed.safety_stock}")
        print(f"shop {shop.id}: takes order mail for {', '.join(shop.order_mail_to) or '(no address)'}"
              + (f" only from {', '.join(shop.accept_from)}" if shop.accept_from else ""))
        if shop.order_csv:
            print(f"shop {shop.id}: order CSV layout {shop.order_csv.layout}, confirmed within "
                  f"{shop.order_csv.confirm_within_hours:g} h")
    print(f"stock CSV layouts: {', '.join(cfg.stock_layouts)}")
    print(f"products CSV layouts: {', '.join(cfg.product_layouts)}; product codes differing only in case: "
          f"{cfg.sku_case}")


def _show_shipping(cfg) -> None:
    for c in cfg.carriers:
        services = ", ".join(cfg.layouts.load("label", c.layout).tables.get("service", {}))
        print(f"carrier {c.name}: labels {c.layout} ({services}); results {', '.join(c.result_layouts) or '-'}")
    for w in cfg.warehouses:
        print(f"wms {w.name}: location {w.location}, lines tagged {w.tag!r} of orders in {', '.join(w.statuses)}")
    for shop in cfg.shops:
        if shop.shipping:
            print(f"shop {shop.id}: shipping {len(shop.shipping.delivery)} delivery / {len(shop.shipping.payment)} "
                  f"payment / {len(shop.shipping.time)} time names mapped; confirmation "
                  f"{shop.shipping.confirm_layout or '(none)'}")


def _show_endpoints(cfg) -> None:
    for ep in cfg.endpoints:
        when = f"every {ep.every_minutes:g} min" if ep.every_minutes else ""
        when += (" " if when else "") + (f"at {', '.join(ep.at)}" if ep.at else "")
        parts = [f"pull {ep.pull.remote_dir} -> {ep.pull.into}" if ep.pull else "",
                 f"push {ep.push.source} -> {ep.push.remote_dir}" if ep.push else ""]
        when = when or "only by tsunagi endpoint run"
        when += ", and each file as soon as it is ready" if ep.push and ep.push.immediate else ""
        print(f"{ep.protocol} {ep.name}: {ep.user}@{ep.host}:{ep.port} {' / '.join(p for p in parts if p)} ({when})")
        if ep.known_hosts and not ep.known_hosts.exists():
            base.stderr(f"  warning: {ep.known_hosts} does not exist; connections will be refused")
    for box in cfg.imap:
        when = " ".join(w for w in (f"every {box.every_minutes:g} min" if box.every_minutes else "",
                                     f"at {', '.join(box.at)}" if box.at else "") if w)
        then = f"moved to {box.processed_folder}" if box.after == "move" else f"flagged {box.flag}"
        print(f"imap {box.name}: {box.user}@{box.host}:{port_of(box)} ({box.security}) {box.folder} -> {box.into}, "
              f"then {then} ({when or 'only by tsunagi imap run'})")


def _warn_open_to_all(cfg) -> None:
    """A warning, not a failure: behind a firewall or a relay that only forwards the carts' mail, it is fine."""
    for shop_id in access.open_to_all(cfg):
        base.stderr(f"warning: SMTP listens on {cfg.smtp_host} (beyond loopback) and shop {shop_id} has no "
                    f"accept_from: anyone who reaches the port can send it orders")


def _check_templates(cfg) -> bool:
    """Render every enabled stage of every shop against a sample order: a missing variable fails here,
    not in a buyer's mailbox."""
    ok = True
    for shop in cfg.shops:
        if not shop.mail:
            continue
        templates = wiring.templates_for(shop)
        for stage in shop.mail.stages:
            try:
                rendered = templates.render(stage, sample_context(wiring.shop_context(shop), stage))
                print(f"shop {shop.id}: mail {stage} OK ({rendered.subject})")
            except Exception as exc:   # jinja2's errors, a missing file: each named with its stage
                base.stderr(f"shop {shop.id}: mail {stage}: {type(exc).__name__}: {exc}")
                ok = False
    return ok


def check_layout(cfg, name: str, sample: Path, shop: str) -> int:
    """Read a sample with a layout (a shipped one or the user's own) and show the first order."""
    layout = cfg.csv_layout(name)
    print(f"layout {name}: {layout.title} ({layout.kind}, {layout.path})")
    with open(sample, "rb") as fh, tempfile.TemporaryDirectory() as tmp:
        check_line_lengths(fh, cfg.max_line_bytes)          # as the daemon would refuse it
        fh.seek(0)
        decoded, chunks = parse_file(fh, layout, shop, Path(tmp) / "sample.utf8")
        print(f"encoding: {decoded.encoding}; {len(decoded.header)} columns: header OK")
        first, problems, rows = None, [], 0
        for chunk in chunks:
            rows += chunk.rows
            problems += chunk.problems
            first = first or next((r for r, _ in chunk.orders + chunk.counts + chunk.products), None)
    print(f"{rows} rows, {len({p.row for p in problems})} rows with problems")
    for p in problems[:10]:
        print(f"  {p.message}")
    if first is None:
        base.stderr("no record could be read from the sample")
        return 1
    print("first record:")
    base.print_json(orders.record_data(first) | {"lines": [vars(x) | {"options": list(x.options)} for x in first.lines]}
                    if hasattr(first, "order_no") else vars(first))
    return 0
