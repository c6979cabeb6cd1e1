"""Buyer mail templates (Jinja2, sandboxed, strict): a template naming a missing variable is an error."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
STAGES = ("purchase", "shipment", "post_purchase", "payment_reminder")
STAGE_LABELS = {"purchase": "購入時", "shipment": "発送時", "post_purchase": "購入後",
                "payment_reminder": "入金督促"}


@dataclass
class Rendered:
    subject: str
    text: str
    html: str | None


def _yen(value) -> str:
    return f"{int(value):,}円"


def _datetime(value) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%Y年%m月%d日 %H:%M}"


class Templates:
    """One shop's templates: its own folder first (any file it has overrides), then tsunagi's."""

    def __init__(self, override_dir: Path | None = None):
        dirs = [str(override_dir)] if override_dir else []
        self.env = SandboxedEnvironment(loader=FileSystemLoader(dirs + [str(DEFAULT_DIR)]),
                                        undefined=StrictUndefined, keep_trailing_newline=True,
                                        autoescape=lambda name: bool(name) and name.endswith(".html"))
        self.env.filters["yen"] = _yen
        self.env.filters["datetime"] = _datetime

    def render(self, stage: str, context: dict) -> Rendered:
        subject = self.env.get_template(f"{stage}.subject.txt").render(context)
        text = self.env.get_template(f"{stage}.body.txt").render(context)
        try:
            html = self.env.get_template(f"{stage}.body.html").render(context)
        except TemplateNotFound:
            html = None
        return Rendered(" ".join(subject.split()), text, html)
