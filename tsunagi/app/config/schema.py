"""config.toml as one typed schema: every key, its type, default and description, stated once here."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from tsunagi.app.config.access import SmtpUser, tls_problems
from tsunagi.app.config.checks import across_sections, fail
from tsunagi.app.config.fields import (
    Listening,
    DataFolder,
    OptionalFile,
    OptionalFolder,
    OptionalPath,
    ProductsCsv,
    StockCsv,
    Upper,
    context,
    listen_value,
)
from tsunagi.app.config.mailboxes import ImapEndpoint
from tsunagi.app.config.partners import Carrier, Endpoint, SftpEndpoint, Wms
from tsunagi.app.config.shops import Shop
from tsunagi.app.config.web import Web
from tsunagi.outbound.settings import AlertSettings, RelaySettings, Settings


def _nameserver(value: str) -> str:
    return listen_value(value) if value else value


class Smtp(Listening, Settings):
    listen: Annotated[str, AfterValidator(listen_value)] = Field(
        "127.0.0.1:2525", description="`host:port` of the SMTP receiver (`0` = any free port); keep it on loopback "
                                      "or behind your mail server")
    max_message_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="larger mails are refused with 552")
    # What one client may hold: beyond these a session is refused or closed with a 4xx, never left to pile up
    max_connections: int = Field(100, ge=1, description="open SMTP sessions in all; a new one beyond it gets "
                                 "`421 4.7.0` and is closed (keep it well under the open-file limit)")
    max_connections_per_peer: int = Field(20, ge=1, description="open SMTP sessions from one IP address; beyond "
                                          "it `421 4.7.0`")
    idle_timeout_seconds: float = Field(60.0, gt=0, description="a session is closed with `421 4.4.2` after this "
                                        "long without progress (HELO, MAIL, RCPT, DATA or mail data arriving; "
                                        "NOOP, RSET, VRFY, HELP do not count)")
    in_flow_delay_seconds: float = Field(1.0, ge=0, le=30, description="while more mails wait to be applied than one commit "
                                         "takes, a mail waits up to this long before its 250 (Postfix's "
                                         "in_flow_delay): a burst waits in the sender's queue, not ours; 0 never waits; at most 30 (a sender's DATA timeout is minutes)")
    max_recipients: int = Field(100, ge=1, description="RCPTs accepted in one mail; more get `452 4.5.3`")

    # Who may send orders: STARTTLS, AUTH, DKIM (with each shop's accept_from)
    tls_cert: OptionalFile = Field(None, description="a PEM certificate (chain): STARTTLS is offered when it and "
                                   "`tls_key` are set; relative to the config file")
    tls_key: OptionalFile = Field(None, description="the certificate's PEM private key")
    require_tls: bool = Field(False, description="refuse MAIL (530) until the client has said STARTTLS")
    user: list[SmtpUser] = Field(default_factory=list, description="`[[smtp.user]] name, password_env`: logins "
                                 "for AUTH PLAIN/LOGIN, offered only after STARTTLS")
    dkim_verify: bool = Field(True, description="verify the DKIM signature of each order mail (the cart's original "
                                                "when forwarded as an attachment) and record it in the item's meta")
    dkim_dns: Annotated[str, AfterValidator(_nameserver)] = Field(
        "", description="`host:port` of the DNS server DKIM keys are asked from; \"\" = the system's resolver")
    dkim_timeout_seconds: float = Field(3.0, gt=0, le=30, description="a DKIM key lookup slower than this is "
                                        "recorded as `temperror`")

    @model_validator(mode="after")
    def _tls_and_auth(self) -> Smtp:
        problems = tls_problems(self.tls_cert, self.tls_key, self.require_tls, self.user)
        if problems:
            fail("smtp", *problems)
        return self


class FeedTiming(Settings):
    coalesce_ms: int = Field(200, ge=0, description="stock changes within this window go out as one file per shop "
                             "(a SKU falling to 0 goes at once, ahead of it)")
    full_every_hours: float = Field(0, ge=0, description="every shop's feed is written whole (every mapped SKU's "
                                    "current figure, as `tsunagi feed resync`) this often; 0 = never")


class StoreSettings(Settings):
    synchronous: Annotated[Literal["FULL", "NORMAL", "EXTRA"], Upper] = Field(
        "FULL", description="SQLite fsync policy: `FULL` survives power loss; `NORMAL` survives a process crash only")
    busy_timeout_seconds: float = Field(30.0, gt=0, description="a writer waits this long for another's lock (an "
                                        "import elsewhere) before its worker backs off and tries again; nothing is lost")


class PipelineSettings(Settings):
    parse_timeout_seconds: float = Field(10.0, gt=0, description="a mail whose parsing takes longer is set aside in "
                                         "`spool/failed/` as `too_slow` (parsing runs in worker processes)")


class CsvSettings(Settings):
    layout_dir: OptionalFolder = Field(None, description="a folder of your own layouts (`<name>.toml`, and `label/`, "
                                       "`confirm/`, `wms/`, `stock/` for outbound ones), found before the shipped ones")
    stock_layouts: list[StockCsv] = Field(["tsunagi-stock", "wms-stock"], description="stock-count layouts accepted "
                                          "in any drop folder or pull (told apart by header)")
    product_layouts: list[ProductsCsv] = Field(["tsunagi-products", "tsunagi-products-ja"], description="products "
                                               "layouts `tsunagi products import` chooses from by header")
    mail_within_minutes: float = Field(60.0, description="an order CSV row with no order mail after this is listed by "
                                                         "`orders --mail-missing`")
    drop_stable_seconds: float = Field(2.0, description="a dropped file nobody has open and that has not changed for "
                                                        "this long is complete")
    max_line_bytes: int = Field(1 << 20, ge=1024, description="a CSV file with a longer line is refused before it is "
                                "read, with the line's byte offset (`spool/failed/`, kind `line_too_long`)")


class CatalogSettings(Settings):
    sku_case: Literal["refuse", "fold"] = Field("refuse", description="a product or count code equal to an existing "
                                                "product's but for case (`abc-1`, `ABC-1`): `refuse` the row naming "
                                                "both, or `fold` it into the existing product")


class ReturnSettings(Settings):
    damaged_location: str = Field("返品不良", min_length=1, description="where `order-return --damaged` puts returned "
                                  "damaged units: a location no order reserves from and no stock feed publishes")


class LogSettings(Settings):
    file: OptionalPath = Field(None, description="the daemon's log file, relative to the config file (\"\" = stderr, "
                               "for journald); lines carry the time (ISO 8601, JST), level, component and message")
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="the log file is rotated at this size")
    keep: int = Field(5, ge=0, description="rotated log files kept (`FILE.1` … `FILE.N`)")
    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], Upper] = Field(
        "INFO", description="`DEBUG`, `INFO`, `WARNING` or `ERROR`; passwords are never logged at any level")


def _ca_file(relay: RelaySettings | None, info: ValidationInfo) -> RelaySettings | None:
    """relay.ca_file is read from the config file's folder when relative, and must exist."""
    if relay is None or not relay.ca_file:
        return relay
    ctx, path = context(info), Path(relay.ca_file)
    path = ctx.base / path if ctx and not path.is_absolute() else path
    if not path.is_file():
        fail("relay", (("ca_file",), f"{path} does not exist", relay.ca_file))
    relay.ca_file = str(path)
    return relay


def _at_least_one_shop(shops: list[Shop]) -> list[Shop]:
    if not shops:
        raise ValueError("at least one [[shop]] is needed")
    return shops


class ConfigFile(Settings):
    """The whole file. Environment variables TSUNAGI_<SECTION>__<KEY> override it (see env.py); not a
    BaseSettings itself, whose own __init__ would read the environment again and drop the validation context."""

    data_dir: DataFolder = Field(Path("var"), description="where `tsunagi.db` and `spool/` live; relative to the "
                                                          "config file")
    locations: list[str] = Field(default_factory=list, description="stock locations in the order reservations take "
                                 "from them; unknown ones rank last")
    smtp: Smtp = Field(default_factory=Smtp)
    stock_feed: FeedTiming = Field(default_factory=FeedTiming)
    store: StoreSettings = Field(default_factory=StoreSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    csv: CsvSettings = Field(default_factory=CsvSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    returns: ReturnSettings = Field(default_factory=ReturnSettings)
    mail_spec_dir: OptionalFolder = Field(None, description="a folder of your own cart mail specs (`<name>.toml`, "
                                          "docs/SPECS.md), read before the shipped ones; `tsunagi spec learn` "
                                          "writes its proposals there")
    csv_layout: dict[str, dict[str, Any]] = Field(default_factory=dict, description="`[csv_layout.NAME]`: a layout "
                                                  "written in the config instead of a file (same keys as a layout file)")
    shop: Annotated[list[Shop], AfterValidator(_at_least_one_shop)] = Field(description="a shop (at least one)")
    carrier: list[Carrier] = Field(default_factory=list, description="a carrier whose label files tsunagi writes")
    wms: list[Wms] = Field(default_factory=list, description="a warehouse tsunagi instructs")
    endpoint: list[Endpoint] = Field(default_factory=list, description="an endpoint of any protocol (sftp, ftp, ftps, "
                                     "ftps-implicit): a cart, carrier or WMS; no password in the file")
    sftp: list[SftpEndpoint] = Field(default_factory=list, description="an SFTP endpoint (as `[[endpoint]]` with "
                                     "`protocol = \"sftp\"`): host key pinned, no password in the file")
    imap: list[ImapEndpoint] = Field(default_factory=list, description="a mailbox a shop's order mails are read "
                                     "from (IMAP over verified TLS), for shops that cannot forward them")
    relay: Annotated[RelaySettings | None, AfterValidator(_ca_file)] = Field(None, description="the SMTP relay buyer mails and alerts go through")
    alerts: AlertSettings | None = Field(None, description="operator alerts, mailed as one digest")
    web: Web | None = Field(None, description="the staff's web console, served by the daemon when this table is "
                            "present (`[web]` alone: on 127.0.0.1:8080)")

    @model_validator(mode="after")
    def _across_sections(self, info: ValidationInfo) -> ConfigFile:
        problems = across_sections(self, context(info))
        if problems:
            fail("config", *problems)
        return self
