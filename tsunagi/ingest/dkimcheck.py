"""DKIM: the verdict on a mail's signature (the cart's original when it is attached), with an injectable DNS lookup.

Run where the mail is parsed (a parse worker with its time budget), never in the SMTP session: hashing and
canonicalising a 10 MB body costs CPU and a key lookup may wait on DNS; neither may hold the receiver's event
loop or its GIL, and the sending server is answered as soon as the mail is durable, not after a DNS round
trip. Verified again by `spool retry`, the verdict is the latest one.
"""
from __future__ import annotations

import email
import email.policy
import functools
import logging
import time
from dataclasses import dataclass
from email.message import Message
from typing import Callable

import dkim
import dkim.canonicalization
import dns.exception
import dns.resolver

log = logging.getLogger("tsunagi.dkim")


def strip_trailing_whitespace(content: bytes) -> bytes:
    """dkimpy's own, in linear time: its pattern `[\\t ]+\\r\\n` backtracks over every run of blanks not
    followed by CRLF, quadratic on a long one (20,000 spaces: 1.5 s), which a forger may send signed."""
    lines = content.split(b"\r\n")
    return b"\r\n".join([line.rstrip(b" \t") for line in lines[:-1]] + lines[-1:])


dkim.canonicalization.strip_trailing_whitespace = strip_trailing_whitespace   # the relaxed body algorithm calls it

DnsFunc = Callable[..., bytes | None]    # dkimpy's dnsfunc: (name: bytes, timeout=) -> the TXT record or None
_RETRY_AFTER = 60.0                        # a lookup that failed is not tried again for this long
_failed: dict[tuple, float] = {}          # (server, name) -> when it failed, in this process


class DnsTrouble(Exception):
    """The key could not be asked for (timeout, no answer from the server): a temporary error."""


class NoKey(Exception):
    """The key's name does not exist: a permanent error."""


@dataclass(frozen=True)
class Resolver:
    """dkimpy's dnsfunc over dnspython: the system's resolver, or one server (host:port); picklable, so it
    goes to parse workers with the job. A failure raises DnsTrouble (dkimpy would call it a bad signature)."""
    server: str = ""          # "" = the system's resolver
    timeout: float = 3.0

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        key = (self.server, name)
        if time.monotonic() - _failed.get(key, -_RETRY_AFTER) < _RETRY_AFTER:
            raise DnsTrouble(f"{name.decode(errors='replace')}: DNS failed less than {_RETRY_AFTER:g} s ago")
        try:
            answer = _dns_resolver(self.server).resolve(name.decode("ascii"), "TXT", lifetime=self.timeout,
                                                        raise_on_no_answer=False, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            raise NoKey(f"no DKIM key at {name.decode(errors='replace')}") from None
        except (dns.exception.DNSException, OSError, UnicodeError) as exc:
            _failed[key] = time.monotonic()
            raise DnsTrouble(f"{name.decode(errors='replace')}: {type(exc).__name__}: {exc}") from None
        records = [b"".join(r.strings) for r in answer.rrset or []]
        if not records:
            raise NoKey(f"no DKIM key at {name.decode(errors='replace')}")
        return next((r for r in records if r.startswith(b"v=DKIM1")), records[0])


@functools.lru_cache(maxsize=8)
def _dns_resolver(server: str) -> dns.resolver.Resolver:
    """One dnspython resolver per server in a process (the system's one reads resolv.conf once)."""
    if not server:
        return dns.resolver.Resolver()
    host, _, port = server.rpartition(":")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)
    return resolver


def verify(data: bytes, dnsfunc: DnsFunc) -> dict:
    """{"result": pass|fail|none|temperror|permerror, "domain": d=, "selector": s=, ("reason", "where")}:
    the first signature of the attached original if the mail carries one, else of the mail itself."""
    if b"dkim-signature:" not in data.lower():      # the common case, decided without parsing
        return {"result": "none"}
    where, signed, header = _signed(data)
    if header is None:
        return {"result": "none"}
    sig = _tags(header)
    verdict = {"domain": sig.get("d", ""), "selector": sig.get("s", ""), "where": where}
    trouble: list[Exception] = []

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        # dkimpy turns a failed lookup into "invalid" (and some versions trip over an exception raised
        # here): the reason is kept aside and the key reported missing
        try:
            record = dnsfunc(name, timeout=timeout)
        except (DnsTrouble, NoKey) as exc:
            record = None
            trouble.append(exc)
        if record is None and not trouble:
            trouble.append(NoKey(f"no DKIM key at {name.decode(errors='replace')}"))
        return record

    try:
        ok = dkim.DKIM(signed, minkey=1024, timeout=5).verify(dnsfunc=lookup)
    except dkim.DKIMException as exc:
        ok, trouble = False, trouble or [exc]
    if ok:
        return verdict | {"result": "pass"}
    if trouble:
        kind = {DnsTrouble: "temperror", NoKey: "permerror"}.get(type(trouble[0]), "fail")
        return verdict | {"result": kind, "reason": str(trouble[0])[:200]}
    return verdict | {"result": "fail", "reason": "the signature does not match"}


def _signed(data: bytes) -> tuple[str, bytes, str | None]:
    """(where, the bytes whose signature counts, its first DKIM-Signature header or None), the mail parsed
    once: the first attached message (message/rfc822) that has a DKIM-Signature, the cart's own mail
    forwarded as an attachment, whose signature the forwarder's cannot stand for; else the mail itself."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_content_type() != "message/rfc822" or not part.is_multipart():
            continue
        inner: Message = part.get_payload(0)
        header = inner.get("DKIM-Signature")
        if header is not None:
            return "attached", inner.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n", max_line_length=0)), \
                str(header)
    header = msg.get("DKIM-Signature")
    return "message", data, None if header is None else str(header)


def _tags(header: str) -> dict[str, str]:
    """The tags of a DKIM-Signature header."""
    tags = (t.split("=", 1) for t in "".join(header.split()).split(";") if "=" in t)
    return {k: v for k, v in tags}
