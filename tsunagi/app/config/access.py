"""Who may send orders: the types of smtp's TLS, AUTH and DKIM keys and of a shop's accept_from, checked here."""
from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from tsunagi.app.config.checks import repeated_names
from tsunagi.ingest import senders
from tsunagi.ingest.smtpauth import tls_context
from tsunagi.outbound.settings import Settings

AcceptFrom = Annotated[str, AfterValidator(senders.entry)]


def _user_name(value: str) -> str:
    if not senders.USER_NAME.fullmatch(value):
        raise ValueError(f"{value!r}: use letters, digits and . _ @ + - (at most 64)")
    return value


class SmtpUser(Settings):
    name: Annotated[str, AfterValidator(_user_name)] = Field(description="the login name (`auth:NAME` in a "
                                                                         "shop's `accept_from`)")
    password_env: str = Field(description="the environment variable holding its password (never the password); "
                                          "it must be set where tsunagi runs")

    @field_validator("password_env")
    @classmethod
    def _password_set(cls, env: str, info: ValidationInfo) -> str:
        if not os.environ.get(env):
            raise ValueError(f"environment variable {env} (the password of smtp user "
                             f"{info.data.get('name', '?')!r}) is not set")
        return env

    def password(self) -> str:
        return os.environ.get(self.password_env, "")


def tls_problems(cert: Path | None, key: Path | None, require_tls: bool,
                 users: list[SmtpUser]) -> list[tuple[tuple[str, ...], str, object]]:
    """What is wrong with smtp's TLS and AUTH keys taken together, each at its key."""
    if bool(cert) != bool(key):
        return [(("tls_key",) if cert else ("tls_cert",), "give both smtp.tls_cert and smtp.tls_key", None)]
    problems = []
    if cert and key:
        try:
            tls_context(cert, key)
        except (ssl.SSLError, OSError) as exc:
            problems.append((("tls_cert",), f"{cert} and {key} do not load as a certificate and its key "
                                            f"({exc.strerror or exc})", str(cert)))
    else:
        if require_tls:
            problems.append((("require_tls",), "STARTTLS needs smtp.tls_cert and smtp.tls_key", True))
        if users:
            problems.append((("user",), "AUTH is only offered after STARTTLS: set smtp.tls_cert and "
                                        "smtp.tls_key", None))
    return problems + repeated_names(users, "smtp.user", ("user",))
