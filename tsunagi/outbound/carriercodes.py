"""The carrier-code table (NextEngine's Amazon manual): a carrier service's carrier name and ship method."""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

OTHER = "OTHER"


@cache
def _by_service() -> dict[str, dict]:
    rows = tomllib.loads((Path(__file__).parent / "carriercodes.toml").read_text("utf-8"))["code"]
    return {service: row for row in rows for service in row["services"]}


def for_service(service: str, tables: dict) -> dict:
    """What a confirmation writes for a service: the layout's own [carrier] row, else the table's carrier
    name and ship method with the layout's [carrier_code] for that name; {} when neither knows it."""
    own = tables.get("carrier", {}).get(service)
    if own:
        return own
    row = _by_service().get(service)
    if not row:
        return {}
    return {"code": tables.get("carrier_code", {}).get(row["carrier"], OTHER), "name": row["carrier"],
            "method": row["method"]}
