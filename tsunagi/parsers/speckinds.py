"""A cart's other mails: spec files named `<cart>.<kind>.toml` (qoo10.cancel) are read with the cart's own spec."""
from __future__ import annotations

from tsunagi.parsers.ordermail import all_carts


def with_kinds(carts: list[str], spec_dir: str) -> list[str]:
    """The carts' specs, each after the specs of its other mails (a cancel, a change): those are tried first, as a
    cart's cancel mail may well match its order mail's subject too."""
    known = all_carts(spec_dir)
    return [k for c in carts for k in known if k.startswith(f"{c}.") and k not in carts] + list(carts)
