"""The relay and alert settings outbound mail uses, as config.toml's [relay] and [alerts] tables."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Settings(BaseModel):
    """A table of settings: unknown keys are refused, and TOML's types are taken as they are (strict:
    "1" is not a number), so a quoted number or a misspelt key is a mistake named, not a guess."""
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


def address(value: str) -> str:
    if not ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not a mail address")
    return value


MailAddress = Annotated[str, AfterValidator(address)]


class RelaySettings(Settings):
    host: str = Field(description="its host name")
    port: int = Field(587, description="its port")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="`starttls`, `tls` (implicit TLS) or `none`; the certificate is always verified")
    user: str = Field("", description="login name; \"\" = no login")
    password_env: str = Field("", description="the environment variable holding the password (never the password)")
    timeout: float = Field(30.0, description="seconds to wait for the relay")
    give_up_hours: float = Field(72.0, gt=0, description="a buyer mail the relay keeps refusing (or cannot be "
                                 "reached for) is retried with back-off this long, then `failed` "
                                 "(`tsunagi mail retry --failed` queues them again)")
    message_id_domain: str = Field("tsunagi.invalid", description="the domain of the Message-IDs tsunagi makes")
    ca_file: str = Field("", description="a CA file for a relay whose certificate a private CA signed "
                                         "(\"\" = the system's); relative to the config file")

    @field_validator("password_env")
    @classmethod
    def _password_from_environment(cls, env: str, info: ValidationInfo) -> str:
        if info.data.get("user") and not env:
            raise ValueError("with relay.user, name the environment variable that holds the password")
        return env


class AlertSettings(Settings):
    to: list[MailAddress] = Field(description="operators' addresses; alerts go through `[relay]`")
    sender: MailAddress = Field(description="the From of alert mails")
    digest_minutes: float = Field(15.0, description="at most one digest mail per this many minutes")
    failing_minutes: float = Field(10.0, description="a worker (pipeline, files, feeds, mail, drop folders, "
                                   "schedules), an SFTP endpoint or the relay failing this long is reported once, "
                                   "and again when it works")
    feed_stale_minutes: float = Field(60.0, description="a file a push endpoint delivers that has waited this long "
                                      "(written, or its last push failed: `tsunagi outbox list`) is reported, once")
    spec_changed_after: int = Field(3, ge=1, description="a shop whose mail spec has read its mail is reported "
                                    "(「<shop> の受注メールの形式が変わった可能性があります」, with the failing mails) when "
                                    "this many of its mails in a row are refused by the spec")
