"""Channel file rules as data (layouts/channel/<name>.toml): the name a channel needs and whether it consumes."""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from tsunagi.common.schema import Strict, validate
from tsunagi.outbound.layouts import LAYOUT_DIR, OutboundLayoutError


class FileRuleTable(Strict):
    """[[file]]: the outbox files it is for, and how the channel wants them."""
    match: str = Field(min_length=1)          # a glob on the outbox file's name ("*-stock-*")
    remote_name: str = ""                     # "" = the outbox name
    consumed: bool = False                    # the channel takes the file off the server once read
    rename: bool = True                       # upload under a temporary name, then rename


class ChannelFile(Strict):
    title: str = ""
    file: list[FileRuleTable] = Field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    remote_name: str
    consumed: bool = False
    rename: bool = True


PLAIN = FileRuleTable(match="*")


@dataclass(frozen=True)
class ChannelRules:
    name: str
    files: tuple[FileRuleTable, ...] = ()

    def rule(self, local_name: str) -> Rule:
        """The first rule matching the file; a file no rule names goes up under its own name."""
        t = next((t for t in self.files if fnmatch.fnmatchcase(local_name, t.match)), PLAIN)
        return Rule(t.remote_name or local_name, t.consumed, t.rename)


NONE = ChannelRules("")


def available(dirs: tuple[Path, ...] = ()) -> list[str]:
    return sorted({p.stem for d in (*dirs, LAYOUT_DIR) for p in (Path(d) / "channel").glob("*.toml")})


@lru_cache(maxsize=None)
def load(name: str, dirs: tuple[Path, ...] = ()) -> ChannelRules:
    """The rules of that channel ("" = none), csv.layout_dir/channel/ before the shipped ones."""
    if not name:
        return NONE
    path = next((p for d in (*dirs, LAYOUT_DIR) if (p := Path(d) / "channel" / f"{name}.toml").exists()), None)
    if path is None:
        raise OutboundLayoutError(f"no channel rules {name!r} (known: {', '.join(available(dirs))})")
    spec, problems = validate(ChannelFile, tomllib.loads(path.read_text(encoding="utf-8")))
    if spec is None:
        raise OutboundLayoutError("\n".join(f"{path}: {p}" for p in problems))
    return ChannelRules(name, tuple(spec.file))
