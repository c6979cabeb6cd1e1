"""Order mail to OrderRecord: refuse bounces and auto-replies, pick the shop's spec, apply it."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from tsunagi.oms.records import OrderRecord
from tsunagi.parsers import linear
from tsunagi.parsers.errors import NotAnOrder, ParseError
from tsunagi.parsers.mailmsg import MailView, read_mail
from tsunagi.parsers.mailspec import SPEC_DIR, MailSpec, Trace, load_spec
from tsunagi.parsers.specread import parse_with_spec

_AUTO_SUBJECT = linear.compile(
    r"^(auto(matic)?[ -]?reply|out of (the )?office|自動応答|自動返信|不在|留守|"
    r"undeliverable|undelivered mail|delivery status notification|mail delivery (failed|system)|"
    r"returned mail|配信不能|配送エラー)", ignorecase=True)
_BOUNCE_SENDERS = linear.compile(r"^(mailer-daemon|postmaster)@", ignorecase=True)


def why_not_an_order(view: MailView, mail_from: str) -> str | None:
    """A reason when the mail is a bounce or an auto-reply; None when it may be an order."""
    h = view.headers
    if mail_from.strip("<> ") == "":
        return "bounce: the envelope sender is empty (<>)"
    if _is_match(_BOUNCE_SENDERS, mail_from) or h.get("content-type", "").lower().startswith(
            "multipart/report"):
        return "bounce: a delivery status report"
    auto = h.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied"):
        return f"auto-reply: Auto-Submitted: {auto}"
    if "x-auto-response-suppress" in h and not view.forwarded:
        return "auto-reply: X-Auto-Response-Suppress is set"
    if any(k in h for k in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        return "auto-reply: vacation notice header"
    if _is_match(_AUTO_SUBJECT, h.get("subject", "")) or h.get("precedence", "").lower() == "auto_reply":
        return "auto-reply: vacation or out-of-office notice"
    return None


@lru_cache(maxsize=4096)
def _is_match(pattern, text: str) -> bool:
    """Kept: a cart's mails come with the same subject and sender, and RE2 on a short str costs microseconds."""
    return pattern.match(text) is not None


def spec_path(cart: str, spec_dir: str = str(SPEC_DIR)) -> Path:
    """The file of that spec: the first folder of spec_dir (folders joined by os.pathsep) that has it."""
    folders = [Path(d) for d in spec_dir.split(os.pathsep) if d]
    for folder in folders:
        if (folder / f"{cart}.toml").exists():
            return folder / f"{cart}.toml"
    raise ParseError(f"no mail spec for cart {cart!r} (in {', '.join(map(str, folders))})", stage="spec",
                     kind="no_spec")


def spec_for(cart: str, spec_dir: str = str(SPEC_DIR)) -> MailSpec:
    """The spec, read once while its file stays the same (a file edited or switched is read again)."""
    path = spec_path(cart, spec_dir)
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int, size: int) -> MailSpec:
    return load_spec(Path(path))


def all_carts(spec_dir: str) -> list[str]:
    return sorted({p.stem for d in spec_dir.split(os.pathsep) if d for p in Path(d).glob("*.toml")})


def other_cart(view: MailView, specs: list[MailSpec], spec_dir: str) -> str | None:
    """The cart, not among specs, whose spec matches the mail (a mail forwarded to the wrong shop)."""
    mine = {s.cart for s in specs}
    for cart in all_carts(spec_dir):
        if cart not in mine:
            try:
                if spec_for(cart, spec_dir).matches(view):
                    return cart
            except Exception:       # a broken spec of another cart says nothing about this mail
                continue
    return None


def parse_order_mail(raw: bytes, shop: str, specs: list[MailSpec], mail_from: str = "x",
                     spec_dir: str | None = None, trace: Trace | None = None) -> OrderRecord:
    """Raises NotAnOrder for mail that must not become an order, ParseError for a broken order mail (and,
    given spec_dir, for another cart's order mail: kind wrong_cart)."""
    try:
        view = read_mail(raw)
    except Exception as exc:  # the MIME parser gave up: nothing in it can be trusted
        raise ParseError(f"the mail cannot be read as MIME: {exc}", stage="mime") from None
    return parse_view(view, shop, specs, mail_from, spec_dir, trace)


def parse_view(view: MailView, shop: str, specs: list[MailSpec], mail_from: str = "x", spec_dir: str | None = None,
               trace: Trace | None = None) -> OrderRecord:
    """parse_order_mail for a mail already read (one read, several specs: spec replay)."""
    reason = why_not_an_order(view, mail_from)
    if reason:
        raise NotAnOrder(reason)
    spec = next((s for s in specs if s.matches(view)), None)
    if spec is None:
        names = ", ".join(s.cart for s in specs)
        other = other_cart(view, specs, spec_dir) if spec_dir else None
        if other:
            raise ParseError(f"this is an order mail of cart {other!r}, not of this shop's ({names}): was it "
                             f"forwarded to the wrong shop's address?", stage="classify", kind="wrong_cart")
        raise NotAnOrder(f"no order spec of this shop ({names}) matches subject {view.subject[:80]!r} "
                         f"from {view.sender or '(no sender)'}")
    return parse_with_spec(spec, view, shop, trace)
