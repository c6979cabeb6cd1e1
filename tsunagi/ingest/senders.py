"""Who may send a shop's orders: `accept_from` entries matched against one mail's envelope, peer and login."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

AUTH = "auth:"
_DOMAIN = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+")
_LOCAL = re.compile(r"[^@\s<>\"]+")
USER_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")     # an [[smtp.user]] login name
_IPISH = re.compile(r"[0-9a-fA-F.:/%]+")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Sender:
    """What is known of who sends one mail: the envelope sender ("" for <>), the peer's IP, the SMTP login."""
    mail_from: str
    peer: str
    user: str | None = None


def entry(text: str) -> str:
    """One accept_from entry, normalised (addresses and domains in lower case); ValueError says what is wrong."""
    if text.startswith(AUTH):
        if not USER_NAME.fullmatch(text[len(AUTH):]):
            raise ValueError(f"{text!r}: auth: is followed by the name of an [[smtp.user]]")
        return text
    if text.startswith("@"):
        if not _DOMAIN.fullmatch(text[1:].lower()):
            raise ValueError(f"{text!r}: not a mail domain (e.g. @mail.example-shop.jp)")
        return text.lower()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        if not (_LOCAL.fullmatch(local) and _DOMAIN.fullmatch(domain.lower())):
            raise ValueError(f"{text!r}: not a mail address (e.g. noreply@rakuten.co.jp)")
        return text.lower()
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        if _IPISH.fullmatch(text):
            raise ValueError(f"{text!r}: not a network ({exc}); e.g. 192.0.2.0/24 or 192.0.2.7") from None
        raise ValueError(f"{text!r}: give a sender address, @domain, a network (192.0.2.0/24) or "
                         f"auth:USER") from None


def kind(normal: str) -> str:
    """"user", "domain", "address" or "network": what a normalised entry names."""
    if normal.startswith(AUTH):
        return "user"
    if normal.startswith("@"):
        return "domain"
    return "address" if "@" in normal else "network"


@dataclass(frozen=True)
class Rules:
    """A shop's accept_from: a mail is taken when any one entry matches it."""
    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    users: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: list[str]) -> Rules:
        normal = [entry(e) for e in entries]
        of = {k: [e for e in normal if kind(e) == k] for k in ("user", "domain", "address", "network")}
        return cls(addresses=frozenset(of["address"]), domains=frozenset(e[1:] for e in of["domain"]),
                   networks=tuple(ipaddress.ip_network(e) for e in of["network"]),
                   users=frozenset(e[len(AUTH):] for e in of["user"]))

    def allows(self, sender: Sender) -> bool:
        mail_from = sender.mail_from.lower()
        return (mail_from in self.addresses
                or ("@" in mail_from and mail_from.rpartition("@")[2] in self.domains)
                or _in_networks(sender.peer, self.networks)
                or (sender.user is not None and sender.user in self.users))

    def refusal(self, sender: Sender) -> str | None:
        """None when the mail is taken; else the reason the sending server is told."""
        if self.allows(sender):
            return None
        who = f"<{sender.mail_from}> from {sender.peer or 'an unknown peer'}"
        return f"{who}{' as ' + sender.user if sender.user else ''} is not among this shop's accepted senders"


def _in_networks(peer: str, networks: tuple[Network, ...]) -> bool:
    if not networks or not peer:
        return False
    try:
        ip = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:   # a dual-stack socket's view of an IPv4 peer
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
