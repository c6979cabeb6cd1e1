"""The [web] table: where the staff's console listens, its TLS, and how long a login lasts."""
from __future__ import annotations

import ipaddress
import ssl
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from tsunagi.app.config.fields import Listening, OptionalFile, listen_value
from tsunagi.ingest.smtpauth import tls_context
from tsunagi.outbound.settings import Settings


def loopback(host: str) -> bool:
    """Whether only this machine can reach host (a name other than localhost, or 0.0.0.0, is not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Web(Listening, Settings):
    listen: Annotated[str, AfterValidator(listen_value)] = Field(
        "127.0.0.1:8080", description="`host:port` of the web console (`0` = any free port); beyond loopback only "
                                      "with `tls_cert`/`tls_key` or `behind_proxy = true`")
    tls_cert: OptionalFile = Field(None, description="a PEM certificate (chain): the console is served over HTTPS "
                                   "when it and `tls_key` are set; relative to the config file")
    tls_key: OptionalFile = Field(None, description="the certificate's PEM private key")
    behind_proxy: bool = Field(False, description="a reverse proxy (nginx, Caddy) terminates TLS in front of the "
                               "console: it may listen beyond loopback without its own certificate, and the "
                               "session cookie is marked Secure")
    session_minutes: int = Field(480, ge=1, le=7 * 24 * 60, description="a login lasts this long; then the "
                                 "console asks for the password again")

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @model_validator(mode="after")
    def _reachable_only_safely(self) -> Web:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("give both web.tls_cert and web.tls_key")
        if self.tls:
            try:
                tls_context(self.tls_cert, self.tls_key)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"{self.tls_cert} and {self.tls_key} do not load as a certificate and its key "
                                 f"({exc.strerror or exc})") from None
        if not loopback(self.host) and not self.tls and not self.behind_proxy:
            raise ValueError(f"web.listen {self.listen} reaches beyond this machine: passwords would cross the "
                             f"network in clear; set web.tls_cert and web.tls_key, or web.behind_proxy = true "
                             f"behind a proxy that speaks HTTPS")
        return self
