"""The [[carrier]], [[wms]], [[endpoint]] and [[sftp]] tables: who files go to and come from, and when."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tsunagi.app.config.fields import (
    AccountValue,
    AnyCsv,
    ConfigPath,
    LabelLayout,
    Name,
    OptionalFile,
    ResultsCsv,
    StockCsv,
    TimeOfDay,
    WmsLayout,
)
from tsunagi.outbound.settings import Settings


class Scheduled(Settings):
    every_minutes: float = Field(0.0, ge=0, description="run every N minutes (0 = not by interval)")
    at: list[TimeOfDay] = Field(default_factory=list, description="and/or at these times of day (`[\"09:00\"]`, "
                                "JST); neither = only by command")


class Shipper(Settings):
    name: str = Field(description="ご依頼主 name")
    postal_code: str = Field(description="its postal code")
    address: str = Field(description="its address")
    phone: str = Field(description="its phone number")


class Carrier(Scheduled):
    name: Name = Field(description="names `spool/outbox/NAME/` and `spool/drop/NAME/`")
    layout: LabelLayout = Field(description="`yamato-b2`, `sagawa-ehiden2`, `sagawa-ehiden3`, `japanpost-yupurir`, "
                                            "`japanpost-clickpost`, or your own in `csv.layout_dir/label/`")
    result_layouts: list[ResultsCsv] = Field(default_factory=list, description="layouts of the carrier's result files "
                                             "(`yamato-b2-result`, `sagawa-ehiden2-result`, `tracking-generic`, …)")
    shipper: Shipper = Field(description="ご依頼主 on every label")
    account: dict[str, AccountValue] = Field(default_factory=dict, description="values for the layout's `account.*` "
                                             "columns (`billing_code`, `freight_no`, `customer_code`)")
    merge: bool = Field(False, description="同梱: prepaid orders to the same recipient, service and day share one "
                                           "parcel")
    untracked_services: list[str] = Field(default_factory=list, description="its services that issue no tracking "
                                          "number (`定形外`, `ゆうメール` without 特定記録): their result rows may leave "
                                          "the number blank; for every other service a blank number is refused")


class Wms(Scheduled):
    name: Name = Field(description="a warehouse; names its outbox and drop folders")
    location: str = Field(description="the stock location its snapshots set")
    statuses: list[Literal["confirm", "payment", "ready"]] = Field(
        ["ready"], description="orders in these statuses are instructed")
    tag: str = Field("wms", description="for their lines whose product has this tag (products CSV column `tags`)")
    packaging_tags: list[str] = Field(default_factory=list, description="product tags that go along as 梱包指定")
    layout: WmsLayout = Field("wms-instruction", description="the instruction file's layout")
    cancel_layout: WmsLayout = Field("wms-cancel", description="the cancel file's layout")
    result_layouts: list[ResultsCsv] = Field(["wms-result"], description="layouts of its result files")
    stock_layout: StockCsv = Field("wms-stock", description="layout of its stock snapshots")
    every_minutes: float = Field(5.0, ge=0, description="send new instructions and cancels every N minutes")


class SftpPull(Settings):
    remote_dir: str = Field(description="the remote folder files are taken from")
    into: str = Field(description="the shop, carrier or warehouse whose drop folder the files count as")
    pattern: str = Field("*.csv", description="which files")
    layout: AnyCsv = Field("", description="\"\" = chosen by the file's header among the target's layouts")
    after: Literal["move", "delete"] = Field("move", description="what happens to a remote file once it is safe here")
    processed_dir: str = Field("", description="where `move` puts it (required with `move`)")

    @field_validator("processed_dir")
    @classmethod
    def _moved_somewhere(cls, folder: str, info: ValidationInfo) -> str:
        if info.data.get("after") == "move" and not folder:
            raise ValueError("is required when after = \"move\"")
        return folder


class SftpPush(Settings):
    remote_dir: str = Field(description="the remote folder files are uploaded to")
    source: str = Field(description="`spool/outbox/SOURCE/ready/` is uploaded (a shop, carrier or warehouse)")
    pattern: str = Field("*", description="which files")
    channel: str = Field("", description="the channel's file rules (`rakuten`, `yahoo`, or your own in "
                                         "`csv.layout_dir/channel/`): the remote name it needs (`normal-item.csv`, "
                                         "`quantity.csv`) and whether it consumes uploads (then a file never goes "
                                         "over an unread one: it waits in ready/); \"\" = files keep their names")
    immediate: bool = Field(False, description="push each file as soon as it is ready (seconds after a sale), not "
                                               "only on the endpoint's schedule")


DEFAULT_PORTS = {"sftp": 22, "ftp": 21, "ftps": 21, "ftps-implicit": 990}


class SftpEndpoint(Scheduled):
    name: Name = Field(description="an endpoint (a cart, carrier or WMS)")
    protocol: Literal["sftp"] = Field("sftp", description="always sftp here; `[[endpoint]]` takes any")
    host: str = Field(description="its host")
    port: int = Field(22, description="its port")
    user: str = Field(description="login name")
    password_env: str = Field("", description="the environment variable holding the password (never the password)")
    key_file: ConfigPath | None = Field(None, description="or a private key file")   # after password_env: checked with it
    known_hosts: ConfigPath = Field(description="the pinned host key (`[host]:port keytype key`); an unknown or "
                                                "changed key refuses the connection")
    timeout: float = Field(30.0, description="seconds to wait for the server")
    pull: SftpPull | None = Field(None, description="what to download")
    push: SftpPush | None = Field(None, description="what to upload")

    # Field validators that look at earlier fields (info.data): they run even when another key is wrong.
    @field_validator("key_file")
    @classmethod
    def _can_log_in(cls, key_file: Path | None, info: ValidationInfo) -> Path | None:
        if key_file is None and info.data.get("password_env") == "":
            raise ValueError("give key_file, or password_env naming an environment variable with the password")
        return key_file

    @field_validator("push")
    @classmethod
    def _has_work(cls, push: SftpPush | None, info: ValidationInfo) -> SftpPush | None:
        if "pull" in info.data and info.data["pull"] is None and push is None:
            raise ValueError("an endpoint needs pull, push or both")
        return push


class Endpoint(Scheduled):
    name: Name = Field(description="an endpoint (a cart, carrier or WMS)")
    protocol: Literal["sftp", "ftp", "ftps", "ftps-implicit"] = Field(
        description="`sftp`; `ftp` (plain: only on a line you trust); `ftps` (AUTH TLS on the FTP port); "
                    "`ftps-implicit` (TLS from the first byte, port 990)")
    host: str = Field(description="its host")
    port: int = Field(0, ge=0, description="its port; 0 = the protocol's (22, 21, 21, 990)")
    user: str = Field(description="login name")
    password_env: str = Field("", description="the environment variable holding the password (never the password)")
    key_file: ConfigPath | None = Field(None, description="sftp: or a private key file")
    known_hosts: ConfigPath | None = Field(None, description="sftp: the pinned host key; an unknown or changed key "
                                                             "refuses the connection")
    ca_file: OptionalFile = Field(None, description="ftps: the authority the server's certificate must chain to (the "
                                                    "system's when not given); the certificate and its host name are "
                                                    "always verified")
    passive: bool = Field(True, description="ftp/ftps: passive data connections (the client connects)")
    timeout: float = Field(30.0, description="seconds to wait for the server")
    pull: SftpPull | None = Field(None, description="what to download (the same table as `[[sftp]]`'s)")
    push: SftpPush | None = Field(None, description="what to upload (the same table as `[[sftp]]`'s)")

    @model_validator(mode="after")
    def _complete(self) -> Endpoint:
        """What the protocol needs: sftp a pinned host key and a key or password, FTP a password."""
        sftp = self.protocol == "sftp"
        problems = [why for bad, why in [
            (self.pull is None and self.push is None, "an endpoint needs pull, push or both"),
            (sftp and self.known_hosts is None, "known_hosts is required with protocol sftp"),
            (sftp and not (self.key_file or self.password_env), "give key_file, or password_env naming an "
                                                                "environment variable with the password"),
            (not sftp and not self.password_env, f"password_env is required with protocol {self.protocol}"),
            (not sftp and self.key_file is not None, f"key_file is for sftp, not {self.protocol}"),
            (self.protocol in ("sftp", "ftp") and self.ca_file is not None, f"ca_file is for ftps, not {self.protocol}"),
        ] if bad]
        if problems:
            raise ValueError("; ".join(problems))
        self.port = self.port or DEFAULT_PORTS[self.protocol]
        return self


def open_key_files(endpoints: list[SftpEndpoint | Endpoint]) -> list[str]:
    """One line for each endpoint's key file that group or others may read: ssh refuses such a key, and so does
    tsunagi (at `check` and at daemon start), saying how to close it."""
    lines = []
    for ep in endpoints:
        try:
            mode = ep.key_file.stat().st_mode if ep.key_file else 0
        except OSError:
            continue              # a missing key is told when connecting, with the server's answer
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            lines.append(f"{ep.protocol} {ep.name}: key file {ep.key_file} is readable by others (mode "
                         f"{stat.S_IMODE(mode):04o}): chmod 600 {ep.key_file}")
    return lines
