"""Field types of config.toml (names, times, paths, layout names), each checked where it is read."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Strict, ValidationInfo

from tsunagi.outbound.layouts import SHIPPED, Layouts
from tsunagi.outbound.settings import address
from tsunagi.parsers import csvlayout
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts


@dataclass(frozen=True)
class Context:
    """What checks need beyond a value: the config file's folder, and where layouts are found."""
    base: Path
    layouts: Layouts = SHIPPED
    csv_inline: dict = field(default_factory=dict, hash=False)
    spec_dirs: tuple[Path, ...] = (SPEC_DIR,)      # mail_spec_dir's folder first, then the shipped specs


def context(info: ValidationInfo) -> Context | None:
    """None when a model is built in code rather than loaded: paths stay as given, layouts unchecked."""
    return info.context if isinstance(info.context, Context) else None


def _name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", value):
        raise ValueError(f"{value!r}: use lower-case letters, digits, - and _ (it names folders)")
    return value


def _time_of_day(value: str) -> str:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"{value!r}: times of day are HH:MM")
    return value


def _number_as_text(value):
    # account codes are often written as bare numbers; leading zeros need the string form, so both are taken
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _empty_is_none(value):
    return None if value == "" else value    # `key = ""` has always meant "not set"


def _address_or_empty(value: str) -> str:
    return address(value) if value else value


Name = Annotated[str, AfterValidator(_name)]
OptionalAddress = Annotated[str, AfterValidator(_address_or_empty)]
TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]
AccountValue = Annotated[str, BeforeValidator(_number_as_text)]
Upper = BeforeValidator(_upper)
Lower = BeforeValidator(_lower)
TimeSlot = Literal["", "午前中", "12-14", "14-16", "16-18", "18-20", "19-21", "18-21", "20-21"]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    ctx = context(info)
    return value if value.is_absolute() or ctx is None else ctx.base / value


def _folder(value: Path) -> Path:
    if not value.is_dir():
        raise ValueError(f"{value} is not a folder")
    return value


def _folder_or_none(value: Path) -> Path:
    if value.exists() and not value.is_dir():     # tsunagi creates a missing one; a file there it cannot use
        raise ValueError(f"{value} is a file, not a folder: give a folder (tsunagi creates it if missing)")
    return value


def _file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError(f"{value} does not exist (or is not a file)")
    return value


ConfigPath = Annotated[Path, Strict(False), AfterValidator(_resolve)]     # relative to the config file
DataFolder = Annotated[ConfigPath, AfterValidator(_folder_or_none)]
Folder = Annotated[Path, Strict(False), AfterValidator(_resolve), AfterValidator(_folder)]
OptionalFolder = Annotated[Folder | None, BeforeValidator(_empty_is_none)]
OptionalFile = Annotated[Annotated[Path, Strict(False), AfterValidator(_resolve), AfterValidator(_file)] | None,
                         BeforeValidator(_empty_is_none)]
OptionalPath = Annotated[ConfigPath | None, BeforeValidator(_empty_is_none)]


def outbound_layout(kind: str, optional: bool = False) -> AfterValidator:
    """A name among the outbound layouts of this kind (label, confirm, wms, stock); "" allowed if optional."""
    def check(name: str, info: ValidationInfo) -> str:
        ctx = context(info)
        if ctx and not (optional and name == "") and name not in ctx.layouts.available(kind):
            raise ValueError(f"unknown layout {name!r} (known {kind} layouts: {', '.join(ctx.layouts.available(kind))})")
        return name
    return AfterValidator(check)


def csv_layout(kind: str | None) -> AfterValidator:
    """A CSV layout that loads (inline, the user's folder, or shipped), of this kind unless kind is None."""
    def check(name: str, info: ValidationInfo) -> str:
        ctx = context(info)
        if ctx and name:
            layout = csvlayout.load(name, ctx.layouts.dirs, ctx.csv_inline)   # its LayoutError is a ValueError
            if kind and layout.kind != kind:
                raise ValueError(f"layout {name!r} is a {layout.kind} layout, not {kind}")
        return name
    return AfterValidator(check)


def mail_spec(name: str, info: ValidationInfo | None = None) -> str:
    ctx = context(info) if info is not None else None
    dirs = ctx.spec_dirs if ctx else (SPEC_DIR,)
    known = sorted({cart for d in dirs for cart in available_carts(d)})
    if name not in known:
        where = " or ".join(str(d) for d in dirs)
        raise ValueError(f"no mail spec {name!r} in {where} (known: {', '.join(known)})")
    return name


LabelLayout = Annotated[str, outbound_layout("label")]
WmsLayout = Annotated[str, outbound_layout("wms")]
FeedLayout = Annotated[str, outbound_layout("stock")]
ConfirmLayout = Annotated[str, outbound_layout("confirm", optional=True)]
OrdersCsv = Annotated[str, csv_layout("orders")]
ResultsCsv = Annotated[str, csv_layout("results")]
StockCsv = Annotated[str, csv_layout("stock")]
ProductsCsv = Annotated[str, csv_layout("products")]
ChannelStockCsv = Annotated[str, csv_layout("channel_stock")]
AnyCsv = Annotated[str, csv_layout(None)]
MailSpec = Annotated[str, AfterValidator(mail_spec)]


# host:port, the address form of every listening socket and resolver in the config ([::1]:25 too)
LISTEN = re.compile(r"\[?([^\]]+?)\]?:(\d{1,5})")


def listen_value(value: str) -> str:
    m = LISTEN.fullmatch(value)
    if not m or not 0 <= int(m.group(2)) < 65536:
        raise ValueError(f"must be host:port (port 0 = any free port), not {value!r}")
    return value


class Listening:
    """host and port of a table's `listen` (validated by listen_value)."""

    @property
    def host(self) -> str:
        return LISTEN.fullmatch(self.listen).group(1)

    @property
    def port(self) -> int:
        return int(LISTEN.fullmatch(self.listen).group(2))
