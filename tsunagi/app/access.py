"""Who may send orders, as the configuration says: STARTTLS and logins for aiosmtpd, each shop's accept_from,
and the resolver DKIM keys are asked from."""
from __future__ import annotations

import ipaddress
from typing import Callable

from tsunagi.app.config import Config
from tsunagi.ingest import smtpauth
from tsunagi.ingest.dkimcheck import Resolver
from tsunagi.ingest.senders import Rules


def smtp_options(cfg: Config) -> dict:
    """aiosmtpd's keyword arguments for TLS and AUTH (passwords read from their variables now)."""
    smtp = cfg.file.smtp
    context = smtpauth.tls_context(smtp.tls_cert, smtp.tls_key) if smtp.tls_cert and smtp.tls_key else None
    return smtpauth.server_options(context, smtp.require_tls, {u.name: u.password() for u in smtp.user})


def sender_rules(cfg: Config) -> Callable[[str], Rules | None]:
    """Shop id -> its accept_from rules; None for a shop that takes mail from anyone."""
    rules = {s.id: Rules.parse(s.accept_from) for s in cfg.shops if s.accept_from}
    return rules.get


def dkim_resolver(cfg: Config) -> Resolver | None:
    smtp = cfg.file.smtp
    return Resolver(smtp.dkim_dns, smtp.dkim_timeout_seconds) if smtp.dkim_verify else None


def open_to_all(cfg: Config) -> list[str]:
    """Shops anyone could send orders for: SMTP listens beyond loopback and they have no accept_from."""
    if _loopback(cfg.smtp_host):
        return []
    return [s.id for s in cfg.shops if not s.accept_from]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False      # a host name, or 0.0.0.0 / :: (every interface): not only loopback
