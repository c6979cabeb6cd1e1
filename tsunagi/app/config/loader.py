"""load(path): config.toml and the environment, validated in one pass; every mistake reported at once."""
from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from tsunagi.app.config import env
from tsunagi.app.config.errors import ConfigError, describe, dotted
from tsunagi.app.config.fields import Context
from tsunagi.app.config.schema import ConfigFile
from tsunagi.app.config.view import Config
from tsunagi.outbound.layouts import Layouts
from tsunagi.parsers.mailspec import SPEC_DIR


def load(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (give one with -c CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a TOML text file (byte {exc.start} is not UTF-8): save it as UTF-8") from None
    problems: list[str] = []
    try:
        data, from_env = env.overlay(raw, env.read(ConfigFile), problems)
    except ValueError as exc:   # pydantic-settings' SettingsError (a ValueError in every 2.x): bad JSON
        raise ConfigError(f"{path}: environment: {exc}") from None
    try:
        file = ConfigFile.model_validate(data, context=_context(data, path.parent))
    except ValidationError as exc:
        problems += [_line(error, from_env) for error in exc.errors()]
    if problems:
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))
    return Config(path=path, file=file)


def _context(data: dict, base: Path) -> Context:
    """Layout names anywhere in the file are checked against csv.layout_dir and [csv_layout.*], so those two
    are read first, as given; if they are wrong themselves, validation says so at their own keys."""
    csv, inline = data.get("csv"), data.get("csv_layout")
    folder = csv.get("layout_dir") if isinstance(csv, dict) else None
    folder = base / folder if isinstance(folder, str) and folder else None
    dirs = (folder,) if folder and folder.is_dir() else ()
    specs = data.get("mail_spec_dir")
    specs = base / specs if isinstance(specs, str) and specs else None
    spec_dirs = ((specs,) if specs and specs.is_dir() else ()) + (SPEC_DIR,)
    return Context(base=base, layouts=Layouts(dirs), csv_inline=inline if isinstance(inline, dict) else {},
                   spec_dirs=spec_dirs)


def _line(error: dict, from_env: set[tuple]) -> str:
    loc = error["loc"]
    line = f"{dotted(loc)}: {describe(error, ConfigFile)}"
    given = next((loc[:n] for n in range(len(loc), 0, -1) if loc[:n] in from_env), None)
    return line + (f" (from the environment: {env.variable(given)})" if given else "")
