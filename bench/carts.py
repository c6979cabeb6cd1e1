"""Benchmark: every shipped mail spec's parse time per mail on its samples, and `tsunagi spec replay` over
stored mails, each against its baseline in the same run.

    python bench/carts.py                       # samples of every spec, and replay over 100,000 stored mails
    python bench/carts.py --stored 10000 --mails 500
    python bench/carts.py --keep /tmp/carts100k --before /work/main   # reuse the stored mails; main's replay too

Parse: parsers.ordermail.parse_order_mail (MIME, the spec, the totals check) over each spec's sample mails
in the shapes the tests use (charsets and transfer encodings), after a warm-up; CPU time per mail. The
baseline is the Rakuten spec on its own samples (aim: every spec under 2 ms and in the same order).
Replay: `tsunagi spec replay rakuten --spec CANDIDATE` as a command over N stored mails of a Rakuten shop in
spool done/ (5 % in failed/), wall time; the baseline is reading the same files (meta and mail) from disk
in the same run (aim: 100,000 mails under 2 minutes)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tsunagi.demo import cartmails  # noqa: E402
from tsunagi.demo.mails import CARTS, Item, SampleOrder, order_mail  # noqa: E402
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts  # noqa: E402
from tsunagi.parsers.ordermail import parse_order_mail, spec_for  # noqa: E402

SHAPES = [dict(charset="utf-8", cte="base64"), dict(charset="iso-2022-jp", cte="7bit"),
          dict(charset="shift_jis", cte="base64"), dict(charset="cp932", cte="quoted-printable", html="alternative"),
          dict(charset="utf-8", cte="quoted-printable", forward="inline")]
ORDER_NOS = {"rakuten": "402853-20260612-{:010d}", "yahoo": "sample-store-{:d}", "ec-cube": "{:d}"}


def sample(cart: str, n: int) -> SampleOrder:
    number = ORDER_NOS.get(cart, "{:d}").format(1000 + n)
    return SampleOrder(number, [Item("item-a", "商品Ａ ①", 1, 1280, ("サイズ:M",)), Item(f"item-{n % 7}", "商品B", 2, 2000)],
                       cod_fee=330)


def cart_samples(cart: str) -> list[bytes]:
    """50 sample mails of a cart of tsunagi/demo/cartmails.py: in the cart's own charset and encoding, and in the
    shapes above its text can be written in; Qoo10's carry one item each."""
    out = []
    for n in range(50):
        o = sample(cart, n)
        o.order_no = cartmails.order_no(cart, 1000 + n)
        if cart == "qoo10":
            o.items, o.shipping, o.cod_fee = o.items[:1], 0, 0
        shape = SHAPES[n % len(SHAPES)] if n % 2 else {}
        if "¥" in cartmails.CARTS[cart].render(o) and shape.get("charset", "utf-8") != "utf-8":
            shape = {}      # a ¥ has no place in Shift_JIS or ISO-2022-JP: the cart's own shape
        out.append(cartmails.cart_mail(cart, o, "shop@example.jp", **shape))
    return out


def parse_times(mails: int) -> dict[str, float | None]:
    """CPU ms per mail for each shipped spec on its samples (None: the demo has no sample of it yet)."""
    out: dict[str, float | None] = {}
    for cart in available_carts():
        if cart not in CARTS and cart not in cartmails.CARTS:
            out[cart] = None
            continue
        spec = spec_for(cart)
        raws = cart_samples(cart) if cart in cartmails.CARTS else \
            [order_mail(cart, sample(cart, n), "shop@example.jp", **SHAPES[n % len(SHAPES)]) for n in range(50)]
        for raw in raws:                   # warm-up, and every sample must read
            parse_order_mail(raw, "bench", [spec], "cart@example.jp")
        started = time.process_time()
        for n in range(mails):
            parse_order_mail(raws[n % len(raws)], "bench", [spec], "cart@example.jp")
        out[cart] = (time.process_time() - started) / mails * 1000
    return out


def store_mails(folder: Path, n: int) -> Path:
    """A site whose Rakuten shop received n order mails (ISO-2022-JP, 7bit, as stored): 95 % in done/, the rest
    in failed/; its config; the candidate spec (the shipped one, with 代引料 also read as 代引手数料)."""
    from tests.support.configs import write_config
    config = write_config(folder)
    spool = folder / "var" / "spool"
    template = order_mail("rakuten", sample("rakuten", 0), "shop@example.jp", charset="iso-2022-jp", cte="7bit")
    marker = ORDER_NOS["rakuten"].format(1000).encode()
    for day in range(10):
        (spool / "done" / f"2026-06-{day + 1:02d}").mkdir(parents=True, exist_ok=True)
    (spool / "failed").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        item_id = f"202606{i % 10 + 1:02d}T090000.{i:06d}-bench"
        place = spool / "failed" if i % 20 == 0 else spool / "done" / f"2026-06-{i % 10 + 1:02d}"
        raw = template.replace(marker, ORDER_NOS["rakuten"].format(1000 + i).encode())
        (place / f"{item_id}.eml").write_bytes(raw)
        (place / f"{item_id}.meta.json").write_text(json.dumps(
            {"id": item_id, "kind": "order_mail", "shop": "rakuten", "suffix": ".eml",
             "mail_from": "order@rakuten.co.jp", "size": len(raw)}))
    text = (SPEC_DIR / "rakuten.toml").read_text(encoding="utf-8")
    (folder / "candidate.toml").write_text(text.replace("(?:ポイント利用|クーポン利用)", "(?:ポイント利用|クーポン利用|値引き)"),
                                           encoding="utf-8")
    return config


def read_back(spool: Path) -> tuple[float, int]:
    """Seconds to read every stored mail and its meta from disk (the floor any replay stands on)."""
    started, count = time.perf_counter(), 0
    for folder in sorted((spool / "done").iterdir()) + [spool / "failed"]:
        for name in sorted(os.listdir(folder)):
            with open(folder / name, "rb") as fh:
                fh.read()
            count += name.endswith(".eml")
    return time.perf_counter() - started, count


def replay_time(config: Path, root: Path = ROOT) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and its workers) and the command's summary line; the command is
    that of the tree at root (another checkout gives the "before" figure in the same run)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config), "spec", "replay", "rakuten",
                           "--spec", str(config.parent / "candidate.toml")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)   # -m puts the cwd first
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, (done.stdout.strip().splitlines() or [done.stderr])[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=2000, help="mails parsed per spec")
    ap.add_argument("--stored", type=int, default=100_000, help="stored mails replayed")
    ap.add_argument("--keep", type=Path, help="folder for the stored mails, kept: a rerun with as many reuses them")
    ap.add_argument("--before", type=Path, help="another checkout (e.g. /work/main) whose replay runs first")
    ap.add_argument("--no-parse", action="store_true", help="replay only: skip the per-spec parse times")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}")
    if not args.no_parse:
        show_parse_times(parse_times(args.mails))
    if args.keep:
        replay_bench(args.keep, args.stored, args.before)
        return
    with tempfile.TemporaryDirectory() as tmp:
        replay_bench(Path(tmp), args.stored, args.before)


def show_parse_times(times: dict[str, float | None]) -> None:
    base = times.get("rakuten")
    for cart, ms in times.items():
        if ms is None:
            print(f"parse  {cart:<14} (no sample mail in tsunagi/demo/mails.py or cartmails.py yet)")
            continue
        verdict = "ok" if ms < 2.0 else "OVER 2 ms"
        print(f"parse  {cart:<14} {ms:.3f} ms/mail  ({ms / base:.2f}x the Rakuten spec)  {verdict}")


def replay_bench(folder: Path, stored: int, before: Path | None) -> None:
    """Store the mails (unless folder already holds as many), read them back, replay them (before, then here)."""
    mark = folder / "stored.count"
    if mark.exists() and mark.read_text() == str(stored):
        config = folder / "config.toml"
        print(f"stored {stored:,} mails: kept in {folder}")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        config = store_mails(folder, stored)
        mark.write_text(str(stored))
        print(f"stored {stored:,} mails in {time.perf_counter() - started:.1f} s")
    seconds, count = read_back(folder / "var" / "spool")
    print(f"read   {count:,} mails and their meta from disk: {seconds:.1f} s "
          f"({seconds / count * 1000:.3f} ms/mail)")
    for label, root in ([("before", before)] if before else []) + [("replay", ROOT)]:
        print(f"load   {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
        seconds_replay, cpu, summary = replay_time(config, root)
        print(f"{label} {count:,} mails (tsunagi spec replay of {root}): "
              f"{seconds_replay:.1f} s ({seconds_replay / count * 1000:.3f} ms/mail, "
              f"{seconds_replay / seconds:.1f}x reading them)  {'ok' if seconds_replay < 120 else 'OVER 2 min'}; "
              f"CPU {cpu:.1f} s ({cpu / count * 1000:.3f} ms/mail)")
        print(f"       {summary}")

if __name__ == "__main__":
    main()
