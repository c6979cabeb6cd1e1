"""Environment overrides over config.toml: TSUNAGI_<SECTION>__<KEY>=value, the environment winning."""
from __future__ import annotations

import tomllib

from pydantic import BaseModel
from pydantic_settings import EnvSettingsSource

PREFIX = "TSUNAGI_"


def variable(path: tuple[str, ...]) -> str:
    """The environment variable for a key: ("smtp", "listen") -> TSUNAGI_SMTP__LISTEN."""
    return PREFIX + "__".join(path).upper()


def read(schema: type[BaseModel]) -> dict:
    """The overrides set in the environment, nested like the file. pydantic-settings finds them (and decodes
    JSON for arrays and tables); a value that reads as a TOML value (1024, 2.5, true) is taken as that
    value, any other text as a string, so `"1"` in the environment means the same as in the file."""
    source = EnvSettingsSource(schema, case_sensitive=False, env_prefix=PREFIX, env_nested_delimiter="__")
    return _typed(source())


def _typed(value):
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, str) and "\n" not in value:
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    return value


def overlay(file: dict, env: dict, problems: list[str], where: tuple[str, ...] = ()) -> tuple[dict, set[tuple]]:
    """file with env's values over it, and the key paths env set. Tables merge key by key; arrays are
    replaced whole: pydantic-settings has no index form (TSUNAGI_SHOP__0__NAME), so that form is refused."""
    out, overridden = dict(file), set()
    for key, value in env.items():
        path = (*where, key)
        if isinstance(value, dict) and value and all(k.isdigit() for k in value):
            index = next(iter(value))
            name = variable((*path, index)) + ("__…" if isinstance(value[index], dict) else "")
            problems.append(f"{name}: an array is not overridden item by item; "
                            f"set it in the file, or whole as {variable(path)}='[…]' (JSON)")
        elif isinstance(value, dict):      # a table: merged key by key, also into one the file does not have
            here = file.get(key)
            out[key], inner = overlay(here if isinstance(here, dict) else {}, value, problems, path)
            overridden |= inner
        else:
            out[key] = value
            overridden.add(path)
    return out, overridden
