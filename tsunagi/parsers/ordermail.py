"""Order mail to OrderRecord: refuse bounces and auto-replies, pick the shop's spec, apply it."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tsunagi.oms.records import OrderRecord
from tsunagi.parsers import linear
from tsunagi.parsers.errors import NotAnOrder, ParseError
from tsunagi.parsers.mailmsg import MailView, read_mail
from tsunagi.parsers.mailspec import SPEC_DIR, MailSpec, load_spec, parse_with_spec

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
    if _BOUNCE_SENDERS.match(mail_from) or h.get("content-type", "").lower().startswith(
            "multipart/report"):
        return "bounce: a delivery status report"
    auto = h.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied"):
        return f"auto-reply: Auto-Submitted: {auto}"
    if "x-auto-response-suppress" in h and not view.forwarded:
        return "auto-reply: X-Auto-Response-Suppress is set"
    if any(k in h for k in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        return "auto-reply: vacation notice header"
    if _AUTO_SUBJECT.match(h.get("subject", "")) or h.get("precedence", "").lower() == "auto_reply":
        return "auto-reply: vacation or out-of-office notice"
    return None


@lru_cache(maxsize=64)
def spec_for(cart: str, spec_dir: str = str(SPEC_DIR)) -> MailSpec:
    path = Path(spec_dir) / f"{cart}.toml"
    if not path.exists():
        raise ParseError(f"no mail spec for cart {cart!r} ({path})", stage="spec", kind="no_spec")
    return load_spec(path)


def parse_order_mail(raw: bytes, shop: str, specs: list[MailSpec], mail_from: str = "x") -> OrderRecord:
    """Raises NotAnOrder for mail that must not become an order, ParseError for a broken order mail."""
    try:
        view = read_mail(raw)
    except Exception as exc:  # the MIME parser gave up: nothing in it can be trusted
        raise ParseError(f"the mail cannot be read as MIME: {exc}", stage="mime") from None
    reason = why_not_an_order(view, mail_from)
    if reason:
        raise NotAnOrder(reason)
    spec = next((s for s in specs if s.matches(view)), None)
    if spec is None:
        names = ", ".join(s.cart for s in specs)
        raise NotAnOrder(f"no order spec of this shop ({names}) matches subject {view.subject[:80]!r} "
                         f"from {view.sender or '(no sender)'}")
    return parse_with_spec(spec, view, shop)
