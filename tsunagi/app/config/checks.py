"""Checks across sections of config.toml (a shop's mapping against the carriers, mail against the relay, …),
all collected: each problem is (location, message, value)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from tsunagi.app.config.fields import Context
from tsunagi.ingest import senders
from tsunagi.outbound import channelrules

if TYPE_CHECKING:
    from tsunagi.app.config.schema import ConfigFile

Problem = tuple[tuple[str | int, ...], str, object]


def fail(model: str, *problems: Problem) -> None:
    """Raise one error per problem from inside a validator: pydantic files each under the table's own path."""
    raise ValidationError.from_exception_data(model, [
        InitErrorDetails(type=PydanticCustomError("config", message), loc=loc, input=value)
        for loc, message, value in problems])


def across_sections(cfg: ConfigFile, ctx: Context | None) -> list[Problem]:
    return [*_unique_shops(cfg), *_unique_names(cfg), *_services(cfg, ctx), *_untracked_offered(cfg, ctx),
            *_relay_needed(cfg), *_pull_targets(cfg), *_channels(cfg, ctx), *_mailbox_shops(cfg), *_accept_users(cfg)]


def _unique_shops(cfg: ConfigFile) -> list[Problem]:
    problems, ids, addresses = [], {}, {}
    for n, shop in enumerate(cfg.shop):
        if shop.id in ids:
            problems.append((("shop", n, "id"), f"{shop.id!r} is already used by shop[{ids[shop.id]}]", shop.id))
        ids.setdefault(shop.id, n)
        for address in shop.order_mail_to:
            if address in addresses:
                problems.append((("shop", n, "order_mail_to"), f"{address} is already used by "
                                                               f"shop[{addresses[address]}]", address))
            addresses.setdefault(address, n)
    return problems


def _unique_names(cfg: ConfigFile) -> list[Problem]:
    """Carriers, warehouses and endpoints are looked up by name: a second one of a name would never be used."""
    problems = [p for section in ("carrier", "wms", "endpoint", "sftp", "imap")
                for p in repeated_names(getattr(cfg, section), section, (section,))]
    named = {ep.name: n for n, ep in enumerate(cfg.endpoint)}
    return problems + [(("sftp", n, "name"), f"{ep.name!r} is already used by endpoint[{named[ep.name]}]", ep.name)
                       for n, ep in enumerate(cfg.sftp) if ep.name in named]


def repeated_names(items: list, label: str, at: tuple = ()) -> list[Problem]:
    """Each item whose name an earlier one has (at + (n, "name")): a lookup by name never finds it."""
    problems, seen = [], {}
    for n, item in enumerate(items):
        if item.name in seen:
            problems.append(((*at, n, "name"), f"{item.name!r} is already used by {label}[{seen[item.name]}]", item.name))
        seen.setdefault(item.name, n)
    return problems


def _services(cfg: ConfigFile, ctx: Context | None) -> list[Problem]:
    """Each channel delivery name must map to a service some [[carrier]]'s label layout offers."""
    if ctx is None:
        return []
    offered = {s for c in cfg.carrier for s in ctx.layouts.load("label", c.layout).tables.get("service", {})}
    return [(("shop", n, "shipping", "delivery", channel_name),
             f"{service!r}: no [[carrier]] offers it (offered: {', '.join(sorted(offered)) or 'none: add a [[carrier]]'})",
             service)
            for n, shop in enumerate(cfg.shop) if shop.shipping
            for channel_name, service in shop.shipping.delivery.items() if service not in offered]


def _untracked_offered(cfg: ConfigFile, ctx: Context | None) -> list[Problem]:
    """A [[carrier]]'s untracked_services must be services its own label layout offers."""
    if ctx is None:
        return []
    problems = []
    for n, c in enumerate(cfg.carrier):
        offered = ctx.layouts.load("label", c.layout).tables.get("service", {})
        problems += [(("carrier", n, "untracked_services", i), f"{s!r}: {c.layout} offers no such service "
                      f"(offered: {', '.join(sorted(offered))})", s)
                     for i, s in enumerate(c.untracked_services) if s not in offered]
    return problems


def _relay_needed(cfg: ConfigFile) -> list[Problem]:
    if cfg.relay is not None:
        return []
    problems: list[Problem] = [(("shop", n, "mail"), "buyer mails are sent through [relay]: add it", None)
                               for n, shop in enumerate(cfg.shop) if shop.mail]
    if cfg.alerts is not None:
        problems.append((("alerts",), "alerts are mailed through [relay]: add it", None))
    return problems


def _pull_targets(cfg: ConfigFile) -> list[Problem]:
    targets = {s.id for s in cfg.shop} | {c.name for c in cfg.carrier} | {w.name for w in cfg.wms}
    return [((section, n, "pull", "into"), f"{ep.pull.into!r} is not a shop id, a carrier or a warehouse name "
                                           f"(known: {', '.join(sorted(targets))})", ep.pull.into)
            for section in ("endpoint", "sftp") for n, ep in enumerate(getattr(cfg, section))
            if ep.pull and ep.pull.into not in targets]


def _channels(cfg: ConfigFile, ctx: Context | None) -> list[Problem]:
    """push.channel names a channel's file rules (layouts/channel/NAME.toml)."""
    known = channelrules.available(ctx.layouts.dirs if ctx else ())
    return [((section, n, "push", "channel"), f"{ep.push.channel!r}: no such channel rules (known: "
                                              f"{', '.join(known)})", ep.push.channel)
            for section in ("endpoint", "sftp") for n, ep in enumerate(getattr(cfg, section))
            if ep.push and ep.push.channel and ep.push.channel not in known]


def _mailbox_shops(cfg: ConfigFile) -> list[Problem]:
    """An [[imap]] mailbox's mails are one shop's order mails."""
    shops = {s.id for s in cfg.shop}
    return [(("imap", n, "into"), f"{box.into!r} is not a shop id (known: {', '.join(sorted(shops))})", box.into)
            for n, box in enumerate(cfg.imap) if box.into not in shops]


def _accept_users(cfg: ConfigFile) -> list[Problem]:
    """An `auth:NAME` in accept_from names an [[smtp.user]]: any other could never log in."""
    users = {u.name for u in cfg.smtp.user}
    return [(("shop", n, "accept_from", k), f"{entry!r}: no [[smtp.user]] has the name {name!r} (known: "
                                            f"{', '.join(sorted(users)) or 'none'})", entry)
            for n, shop in enumerate(cfg.shop) for k, entry in enumerate(shop.accept_from)
            if entry.startswith(senders.AUTH) and (name := entry[len(senders.AUTH):]) not in users]
